// `dino-ref knn --checkpoint FILE`: the weighted k-NN accuracy (official eval_knn.py, k = 20,
// T = 0.07 by default) of a training checkpoint's teacher (or student) backbone, on the same
// evaluation splits its run's summary used. `--labels 1%|10%|N`: the low-label protocol, a fixed
// class-balanced subset of the training images (labelSubset.ts, chosen by --seed) as the memory,
// beside the same network at initialisation and raw pixels.

import { DinoRefError } from "../tensor/errors.js";
import { selectedBackend } from "../kernels/backend.js";
import { checkpointConfig } from "../train/checkpoint.js";
import { evaluationSplits } from "../data/splits.js";
import { labelsOf, subset, type ImageDataset } from "../data/dataset.js";
import { classBalancedSubset, labelCount } from "../data/labelSubset.js";
import { loadBackbone } from "../model/loadBackbone.js";
import { ParamStore, type ParamScope } from "../model/params.js";
import { vitParamSpecs } from "../model/vitParams.js";
import { initBackbone } from "../model/dino.js";
import { extractFeatures, pixelFeatures } from "../eval/features.js";
import { knnClassify, type KnnResult } from "../eval/knn.js";
import { integerArg, numberArg } from "./args.js";
import type { Io } from "./io.js";

export interface KnnArgs {
  checkpoint?: string;
  k?: string;
  temperature?: string;
  student?: boolean;
  labels?: string;
  seed?: string;
  json?: boolean;
}

export function knnCommand(a: KnnArgs, io: Io): number {
  if (a.checkpoint === undefined) throw new DinoRefError("knn: --checkpoint FILE is required");
  const c = checkpointConfig(a.checkpoint);
  const k = integerArg("k", a.k, 1) ?? c.knnK;
  const temperature = numberArg("temperature", a.temperature, (t) => t > 0, "a number > 0") ?? c.knnTemperature;
  const seed = integerArg("seed", a.seed, 0, 2 ** 40) ?? 0;
  const be = selectedBackend();
  const { backbone, cfg } = loadBackbone(be, a.checkpoint, a.student ? "student" : "teacher");
  const splits = evaluationSplits(c);
  const { test } = splits;
  let train: ImageDataset = splits.train;
  const C = train.classes.length;
  if (a.labels !== undefined) {
    const n = labelCount(a.labels, train.length, C);
    if (k > n) throw new DinoRefError(`--k ${k} is more than the ${n} labelled images of --labels ${a.labels}`);
    train = subset(train, classBalancedSubset(labelsOf(train), C, n, seed), `${n} labelled training images`);
  }
  const opts = { k, temperature, numClasses: C };
  const classify = (trainF: Float32Array, testF: Float32Array, D: number) => knnClassify(be, trainF, labelsOf(train), testF, labelsOf(test), D, opts);
  const ofNetwork = (net: ParamScope) => classify(extractFeatures(be, net, cfg, train), extractFeatures(be, net, cfg, test), cfg.embedDim);
  const r = ofNetwork(backbone);
  const side = a.student ? "student" : "teacher";
  if (a.labels === undefined) {
    if (a.json) io.out(JSON.stringify({ top1: r.top1, top5: r.top5, k, temperature, train: train.length, test: test.length }));
    else io.out(`k-NN (${side} of ${a.checkpoint}, k = ${k}, T = ${temperature}): top-1 ${r.top1.toFixed(2)}%, top-5 ${r.top5.toFixed(2)}% on ${test.length} held-out images`);
    return 0;
  }
  // the low-label protocol: also the same network at initialisation and raw pixels
  const init = ParamStore.create(be, vitParamSpecs(cfg), { grads: false });
  initBackbone(init, cfg, c.seed);
  const atInit = ofNetwork(init);
  const [trP, teP] = [pixelFeatures(train), pixelFeatures(test)];
  const raw = classify(trP.features, teP.features, trP.dim);
  const row = (x: KnnResult) => ({ top1: x.top1, top5: x.top5 });
  if (a.json) {
    io.out(JSON.stringify({ ...row(r), init: row(atInit), raw_pixels: row(raw), labels: train.length, k, temperature, seed, test: test.length }));
    return 0;
  }
  io.out(`k-NN with ${train.length} labelled images (--labels ${a.labels}: ${Math.floor(train.length / C)}–${Math.ceil(train.length / C)} per class, subset seed ${seed}), k = ${k}, T = ${temperature}, on ${test.length} held-out images:`);
  for (const [label, x] of [[`${side} of ${a.checkpoint}`, r], [`same net at init (seed ${c.seed})`, atInit], ["raw pixels", raw]] as const) {
    io.out(`  ${label.padEnd(48)} top-1 ${x.top1.toFixed(2).padStart(6)}%   top-5 ${x.top5.toFixed(2).padStart(6)}%`);
  }
  return 0;
}
