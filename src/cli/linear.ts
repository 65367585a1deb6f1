// `dino-ref linear --weights FILE [--data DIR]`: the official linear probe (eval_linear.py: CLS
// tokens of the last blocks, optionally with the average patch token, a linear layer trained with
// SGD) on frozen features of any backbone's teacher (or student): on DIR's train/ and val/
// folders, or, for a dino-ref training checkpoint, on its run's evaluation splits.

import { selectedBackend } from "../kernels/backend.js";
import { labelsOf } from "../data/dataset.js";
import { probeFeatures, trainLinearProbe, DEFAULT_PROBE } from "../eval/linearProbe.js";
import { integerArg, numberArg } from "./args.js";
import { evaluationSets, loadWeights, type EvalDataArgs, type WeightsArgs } from "./evalInput.js";
import type { Io } from "./io.js";

export interface LinearArgs extends WeightsArgs, EvalDataArgs {
  "n-last-blocks"?: string;
  avgpool?: boolean;
  epochs?: string;
  lr?: string;
}

export function linearCommand(a: LinearArgs, io: Io): number {
  const epochs = integerArg("epochs", a.epochs, 1, 100_000) ?? DEFAULT_PROBE.epochs;
  const lr = numberArg("lr", a.lr, (x) => x > 0, "a number > 0") ?? DEFAULT_PROBE.lr;
  const be = selectedBackend();
  const { path, side, loaded, config } = loadWeights("linear", be, a, io);
  const { backbone, cfg } = loaded;
  const n = integerArg("n-last-blocks", a["n-last-blocks"], 1, cfg.depth) ?? Math.min(4, cfg.depth);
  const { train, test, what } = evaluationSets("linear", a, loaded, config, path, io);
  const opts = { nLastBlocks: n, avgpool: a.avgpool === true };
  const tr = probeFeatures(be, backbone, cfg, train, opts);
  const te = probeFeatures(be, backbone, cfg, test, opts);
  const r = trainLinearProbe(tr.features, labelsOf(train), te.features, labelsOf(test), tr.dim, train.classes.length, { ...DEFAULT_PROBE, epochs, lr });
  io.out(`linear probe (${side} of ${path}; CLS of the last ${n} block(s)${opts.avgpool ? " + average patch token" : ""}, ${tr.dim} features, ${epochs} epochs): top-1 ${r.top1.toFixed(2)}%, top-5 ${r.top5.toFixed(2)}% (best epoch ${r.bestEpoch + 1}) on ${what}`);
  return 0;
}
