// `dino-ref linear --checkpoint FILE`: the official linear probe (eval_linear.py: CLS tokens of
// the last blocks, optionally with the average patch token, a linear layer trained with SGD) on
// frozen features of a training checkpoint's teacher (or student), on its run's evaluation splits.

import { DinoRefError } from "../tensor/errors.js";
import { selectedBackend } from "../kernels/backend.js";
import { checkpointConfig } from "../train/checkpoint.js";
import { evaluationSplits } from "../data/splits.js";
import { labelsOf } from "../data/dataset.js";
import { loadBackbone } from "../model/loadBackbone.js";
import { probeFeatures, trainLinearProbe, DEFAULT_PROBE } from "../eval/linearProbe.js";
import { integerArg, numberArg } from "./args.js";
import type { Io } from "./io.js";

export interface LinearArgs {
  checkpoint?: string;
  "n-last-blocks"?: string;
  avgpool?: boolean;
  epochs?: string;
  lr?: string;
  student?: boolean;
}

export function linearCommand(a: LinearArgs, io: Io): number {
  if (a.checkpoint === undefined) throw new DinoRefError("linear: --checkpoint FILE is required");
  const c = checkpointConfig(a.checkpoint);
  const n = integerArg("n-last-blocks", a["n-last-blocks"], 1, c.depth) ?? Math.min(4, c.depth);
  const epochs = integerArg("epochs", a.epochs, 1, 100_000) ?? DEFAULT_PROBE.epochs;
  const lr = numberArg("lr", a.lr, (x) => x > 0, "a number > 0") ?? DEFAULT_PROBE.lr;
  const be = selectedBackend();
  const { backbone, cfg } = loadBackbone(be, a.checkpoint, a.student ? "student" : "teacher");
  const { train, test } = evaluationSplits(c);
  const opts = { nLastBlocks: n, avgpool: a.avgpool === true };
  const tr = probeFeatures(be, backbone, cfg, train, opts);
  const te = probeFeatures(be, backbone, cfg, test, opts);
  const r = trainLinearProbe(tr.features, labelsOf(train), te.features, labelsOf(test), tr.dim, train.classes.length, { ...DEFAULT_PROBE, epochs, lr });
  io.out(`linear probe (${a.student ? "student" : "teacher"} of ${a.checkpoint}; CLS of the last ${n} block(s)${opts.avgpool ? " + average patch token" : ""}, ${tr.dim} features, ${epochs} epochs): top-1 ${r.top1.toFixed(2)}%, top-5 ${r.top5.toFixed(2)}% (best epoch ${r.bestEpoch + 1})`);
  return 0;
}
