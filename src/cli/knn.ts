// `dino-ref knn --weights FILE [--data DIR]`: the weighted k-NN accuracy (official eval_knn.py,
// k = 20, T = 0.07 by default) of any backbone's teacher (or student) features: on DIR's train/
// and val/ folders, or, for a dino-ref training checkpoint, on the same evaluation splits its
// run's summary used.

import { selectedBackend } from "../kernels/backend.js";
import { labelsOf } from "../data/dataset.js";
import { extractFeatures } from "../eval/features.js";
import { knnClassify } from "../eval/knn.js";
import { integerArg, numberArg } from "./args.js";
import { evaluationSets, loadWeights, type EvalDataArgs, type WeightsArgs } from "./evalInput.js";
import type { Io } from "./io.js";

export interface KnnArgs extends WeightsArgs, EvalDataArgs {
  k?: string;
  temperature?: string;
}

export function knnCommand(a: KnnArgs, io: Io): number {
  const kArg = integerArg("k", a.k, 1);
  const tArg = numberArg("temperature", a.temperature, (t) => t > 0, "a number > 0");
  const be = selectedBackend();
  const { path, side, loaded, config } = loadWeights("knn", be, a, io);
  const k = kArg ?? config?.knnK ?? 20;
  const temperature = tArg ?? config?.knnTemperature ?? 0.07;
  const { backbone, cfg } = loaded;
  const { train, test, what } = evaluationSets("knn", a, loaded, config, path, io);
  const trainF = extractFeatures(be, backbone, cfg, train);
  const testF = extractFeatures(be, backbone, cfg, test);
  const r = knnClassify(be, trainF, labelsOf(train), testF, labelsOf(test), cfg.embedDim, { k, temperature, numClasses: train.classes.length });
  io.out(`k-NN (${side} of ${path}, k = ${k}, T = ${temperature}): top-1 ${r.top1.toFixed(2)}%, top-5 ${r.top5.toFixed(2)}% on ${what}`);
  return 0;
}
