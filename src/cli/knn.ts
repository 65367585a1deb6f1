// `dino-ref knn --checkpoint FILE`: the weighted k-NN accuracy (official eval_knn.py, k = 20,
// T = 0.07 by default) of a training checkpoint's teacher (or student) backbone, on the same
// evaluation splits its run's summary used.

import { DinoRefError } from "../tensor/errors.js";
import { selectedBackend } from "../kernels/backend.js";
import { checkpointConfig } from "../train/checkpoint.js";
import { evaluationSplits } from "../data/splits.js";
import { labelsOf } from "../data/dataset.js";
import { loadBackbone } from "../model/loadBackbone.js";
import { extractFeatures } from "../eval/features.js";
import { knnClassify } from "../eval/knn.js";
import { integerArg, numberArg } from "./args.js";
import type { Io } from "./io.js";

export interface KnnArgs {
  checkpoint?: string;
  k?: string;
  temperature?: string;
  student?: boolean;
}

export function knnCommand(a: KnnArgs, io: Io): number {
  if (a.checkpoint === undefined) throw new DinoRefError("knn: --checkpoint FILE is required");
  const c = checkpointConfig(a.checkpoint);
  const k = integerArg("k", a.k, 1) ?? c.knnK;
  const temperature = numberArg("temperature", a.temperature, (t) => t > 0, "a number > 0") ?? c.knnTemperature;
  const be = selectedBackend();
  const { backbone, cfg } = loadBackbone(be, a.checkpoint, a.student ? "student" : "teacher");
  const { train, test } = evaluationSplits(c);
  const trainF = extractFeatures(be, backbone, cfg, train);
  const testF = extractFeatures(be, backbone, cfg, test);
  const r = knnClassify(be, trainF, labelsOf(train), testF, labelsOf(test), cfg.embedDim, { k, temperature, numClasses: train.classes.length });
  io.out(`k-NN (${a.student ? "student" : "teacher"} of ${a.checkpoint}, k = ${k}, T = ${temperature}): top-1 ${r.top1.toFixed(2)}%, top-5 ${r.top5.toFixed(2)}% on ${test.length} held-out images`);
  return 0;
}
