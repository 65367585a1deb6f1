// `dino-ref knn --weights FILE [--data DIR]`: the weighted k-NN accuracy (official eval_knn.py,
// k = 20, T = 0.07 by default) of any backbone's teacher (or student) features: on DIR's train/
// and val/ folders, or, for a dino-ref training checkpoint, on the same evaluation splits its
// run's summary used. `--labels 1%|10%|N`: the low-label protocol, a fixed class-balanced subset of
// the training images (labelSubset.ts, chosen by --seed) as the memory, beside the same network at
// initialisation and raw pixels. `--features cls|cls+avgpool`: the CLS output (eval_knn.py) or
// the CLS output beside the mean patch token (default: the run's knnFeatures, else cls);
// `--init`: the same network at initialisation (the run's seed) instead of the trained one.

import { DinoRefError } from "../tensor/errors.js";
import { selectedBackend } from "../kernels/backend.js";
import { labelsOf, subset, type ImageDataset } from "../data/dataset.js";
import { classBalancedSubset, labelCount } from "../data/labelSubset.js";
import type { ParamScope } from "../model/params.js";
import { backboneAtInit } from "../model/dino.js";
import { pixelFeatures } from "../eval/features.js";
import { knnFeatureVectors, KNN_FEATURES, type KnnFeatures } from "../eval/knnFeatures.js";
import { knnClassify, type KnnResult } from "../eval/knn.js";
import { integerArg, numberArg } from "./args.js";
import { evaluationSets, loadWeights, type EvalDataArgs, type WeightsArgs } from "./evalInput.js";
import type { Io } from "./io.js";

export interface KnnArgs extends WeightsArgs, EvalDataArgs {
  k?: string;
  temperature?: string;
  labels?: string;
  seed?: string;
  json?: boolean;
  /** cls or cls+avgpool (default: the run's knnFeatures, else cls). */
  features?: string;
  /** Score the same network at initialisation (the run's seed) instead of the trained one. */
  init?: boolean;
}

export function knnCommand(a: KnnArgs, io: Io): number {
  const kArg = integerArg("k", a.k, 1);
  const tArg = numberArg("temperature", a.temperature, (t) => t > 0, "a number > 0");
  const seed = integerArg("seed", a.seed, 0, 2 ** 40) ?? 0;
  if (a.features !== undefined && !(KNN_FEATURES as readonly string[]).includes(a.features)) throw new DinoRefError(`--features ${a.features}: expected one of ${KNN_FEATURES.join(", ")}`);
  if (a.init && a.student) throw new DinoRefError("knn: give --init or --student, not both");
  if (a.init && a.labels !== undefined) throw new DinoRefError("knn: --labels already reports the net at init beside the trained one; drop --init");
  const be = selectedBackend();
  const { path, side, loaded, config } = loadWeights("knn", be, a, io);
  const features = (a.features ?? config?.knnFeatures ?? "cls") as KnnFeatures;
  const k = kArg ?? config?.knnK ?? 20;
  const temperature = tArg ?? config?.knnTemperature ?? 0.07;
  const { backbone, cfg } = loaded;
  const sets = evaluationSets("knn", a, loaded, config, path, io);
  const { test } = sets;
  let train: ImageDataset = sets.train;
  const C = train.classes.length;
  if (a.labels !== undefined) {
    const n = labelCount(a.labels, train.length, C);
    if (k > n) throw new DinoRefError(`--k ${k} is more than the ${n} labelled images of --labels ${a.labels}`);
    train = subset(train, classBalancedSubset(labelsOf(train), C, n, seed), `${n} labelled training images`);
  }
  const opts = { k, temperature, numClasses: C };
  const classify = (trainF: Float32Array, testF: Float32Array, D: number) => knnClassify(be, trainF, labelsOf(train), testF, labelsOf(test), D, opts);
  const ofNetwork = (net: ParamScope) => {
    const tr = knnFeatureVectors(be, net, cfg, train, features);
    return classify(tr.features, knnFeatureVectors(be, net, cfg, test, features).features, tr.dim);
  };
  // the same network at initialisation: the run's seed (0 for weights without a run)
  const initSeed = config?.seed ?? 0;
  const r = ofNetwork(a.init ? backboneAtInit(be, cfg, initSeed) : backbone);
  if (a.labels === undefined) {
    const what = a.init ? `the same network at initialisation (seed ${initSeed})` : `${side} of ${path}`;
    if (a.json) io.out(JSON.stringify({ top1: r.top1, top5: r.top5, k, temperature, features, train: train.length, test: test.length }));
    else io.out(`k-NN (${what}, ${features} features, k = ${k}, T = ${temperature}): top-1 ${r.top1.toFixed(2)}%, top-5 ${r.top5.toFixed(2)}% on ${sets.what}`);
    return 0;
  }
  // the low-label protocol: also the same network at initialisation and raw pixels
  const atInit = ofNetwork(backboneAtInit(be, cfg, initSeed));
  const [trP, teP] = [pixelFeatures(train), pixelFeatures(test)];
  const raw = classify(trP.features, teP.features, trP.dim);
  const row = (x: KnnResult) => ({ top1: x.top1, top5: x.top5 });
  if (a.json) {
    io.out(JSON.stringify({ ...row(r), init: row(atInit), raw_pixels: row(raw), labels: train.length, k, temperature, seed, test: test.length }));
    return 0;
  }
  io.out(`k-NN with ${train.length} labelled images (--labels ${a.labels}: ${Math.floor(train.length / C)}–${Math.ceil(train.length / C)} per class, subset seed ${seed}), k = ${k}, T = ${temperature}, on ${sets.what}:`);
  for (const [label, x] of [[`${side} of ${path}`, r], [`same net at init (seed ${initSeed})`, atInit], ["raw pixels", raw]] as const) {
    io.out(`  ${label.padEnd(48)} top-1 ${x.top1.toFixed(2).padStart(6)}%   top-5 ${x.top5.toFixed(2).padStart(6)}%`);
  }
  return 0;
}
