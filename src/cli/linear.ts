// `dino-ref linear --weights FILE [--data DIR]`: the official linear probe (eval_linear.py: CLS
// tokens of the last blocks, optionally with the average patch token, a linear layer trained with
// SGD) on frozen features of any backbone's teacher (or student): on DIR's train/ and val/
// folders, or, for a dino-ref training checkpoint, on its run's evaluation splits.
// `--labels 1%|10%|N`: the probe trained on a fixed class-balanced subset of the training images
// (labelSubset.ts, chosen by --seed), beside the same network at initialisation and raw pixels.

import { selectedBackend } from "../kernels/backend.js";
import { labelsOf, subset, type ImageDataset } from "../data/dataset.js";
import { classBalancedSubset, labelCount } from "../data/labelSubset.js";
import type { ParamScope } from "../model/params.js";
import { backboneAtInit } from "../model/dino.js";
import { pixelFeatures } from "../eval/features.js";
import { probeFeatures, trainLinearProbe, DEFAULT_PROBE, type ProbeResult } from "../eval/linearProbe.js";
import { integerArg, numberArg } from "./args.js";
import { evaluationSets, loadWeights, type EvalDataArgs, type WeightsArgs } from "./evalInput.js";
import type { Io } from "./io.js";

export interface LinearArgs extends WeightsArgs, EvalDataArgs {
  "n-last-blocks"?: string;
  avgpool?: boolean;
  epochs?: string;
  lr?: string;
  labels?: string;
  seed?: string;
  json?: boolean;
}

export function linearCommand(a: LinearArgs, io: Io): number {
  const epochs = integerArg("epochs", a.epochs, 1, 100_000) ?? DEFAULT_PROBE.epochs;
  const lr = numberArg("lr", a.lr, (x) => x > 0, "a number > 0") ?? DEFAULT_PROBE.lr;
  const seed = integerArg("seed", a.seed, 0, 2 ** 40) ?? 0;
  const be = selectedBackend();
  const { path, side, loaded, config } = loadWeights("linear", be, a, io);
  const { backbone, cfg } = loaded;
  const n = integerArg("n-last-blocks", a["n-last-blocks"], 1, cfg.depth) ?? Math.min(4, cfg.depth);
  const sets = evaluationSets("linear", a, loaded, config, path, io);
  const { test } = sets;
  let train: ImageDataset = sets.train;
  const C = train.classes.length;
  if (a.labels !== undefined) train = subset(train, classBalancedSubset(labelsOf(train), C, labelCount(a.labels, train.length, C), seed), "labelled training images");
  const opts = { nLastBlocks: n, avgpool: a.avgpool === true };
  const probe = (trF: Float32Array, teF: Float32Array, dim: number) => trainLinearProbe(trF, labelsOf(train), teF, labelsOf(test), dim, C, { ...DEFAULT_PROBE, epochs, lr });
  const ofNetwork = (net: ParamScope) => {
    const tr = probeFeatures(be, net, cfg, train, opts);
    return { r: probe(tr.features, probeFeatures(be, net, cfg, test, opts).features, tr.dim), dim: tr.dim };
  };
  const { r, dim } = ofNetwork(backbone);
  const what = `CLS of the last ${n} block(s)${opts.avgpool ? " + average patch token" : ""}, ${dim} features, ${epochs} epochs`;
  if (a.labels === undefined) {
    if (a.json) io.out(JSON.stringify({ top1: r.top1, top5: r.top5, best_epoch: r.bestEpoch + 1, train: train.length, test: test.length }));
    else io.out(`linear probe (${side} of ${path}; ${what}): top-1 ${r.top1.toFixed(2)}%, top-5 ${r.top5.toFixed(2)}% (best epoch ${r.bestEpoch + 1}) on ${sets.what}`);
    return 0;
  }
  // the low-label protocol: also the same network at initialisation (the run's seed) and raw pixels
  const initSeed = config?.seed ?? 0;
  const atInit = ofNetwork(backboneAtInit(be, cfg, initSeed)).r;
  const [trP, teP] = [pixelFeatures(train), pixelFeatures(test)];
  const raw = probe(trP.features, teP.features, trP.dim);
  const row = (x: ProbeResult) => ({ top1: x.top1, top5: x.top5 });
  if (a.json) {
    io.out(JSON.stringify({ ...row(r), init: row(atInit), raw_pixels: row(raw), labels: train.length, seed, test: test.length }));
    return 0;
  }
  io.out(`linear probe with ${train.length} labelled images (--labels ${a.labels}, subset seed ${seed}; ${what}), best top-1 on ${sets.what}:`);
  for (const [label, x] of [[`${side} of ${path}`, r], [`same net at init (seed ${initSeed})`, atInit], ["raw pixels", raw]] as const) {
    io.out(`  ${label.padEnd(48)} top-1 ${x.top1.toFixed(2).padStart(6)}%   top-5 ${x.top5.toFixed(2).padStart(6)}%`);
  }
  return 0;
}
