// `dino-ref knn --checkpoint FILE`: the weighted k-NN accuracy (official eval_knn.py, k = 20,
// T = 0.07 by default) of a training checkpoint's teacher (or student) backbone, or of the same
// network at initialisation, on the same evaluation splits and features its run's summary used.

import { DinoRefError } from "../tensor/errors.js";
import { selectedBackend } from "../kernels/backend.js";
import { checkpointConfig } from "../train/checkpoint.js";
import { evaluationSplits } from "../data/splits.js";
import { labelsOf } from "../data/dataset.js";
import { loadBackbone } from "../model/loadBackbone.js";
import { knnFeatureVectors, KNN_FEATURES, type KnnFeatures } from "../eval/knnFeatures.js";
import { createTrainState } from "../train/trainState.js";
import { knnClassify } from "../eval/knn.js";
import { integerArg, numberArg } from "./args.js";
import type { Io } from "./io.js";

export interface KnnArgs {
  checkpoint?: string;
  k?: string;
  temperature?: string;
  student?: boolean;
  /** cls or cls+avgpool (default: the run's knnFeatures). */
  features?: string;
  /** Score the same network at initialisation (the run's seed) instead of the trained one. */
  init?: boolean;
}

export function knnCommand(a: KnnArgs, io: Io): number {
  if (a.checkpoint === undefined) throw new DinoRefError("knn: --checkpoint FILE is required");
  const c = checkpointConfig(a.checkpoint);
  const k = integerArg("k", a.k, 1) ?? c.knnK;
  const temperature = numberArg("temperature", a.temperature, (t) => t > 0, "a number > 0") ?? c.knnTemperature;
  if (a.features !== undefined && !(KNN_FEATURES as readonly string[]).includes(a.features)) throw new DinoRefError(`--features ${a.features}: expected one of ${KNN_FEATURES.join(", ")}`);
  if (a.init && a.student) throw new DinoRefError("give --init or --student, not both");
  const features = (a.features ?? c.knnFeatures) as KnnFeatures;
  const be = selectedBackend();
  const { backbone: trained, cfg } = loadBackbone(be, a.checkpoint, a.student ? "student" : "teacher");
  const backbone = a.init ? createTrainState(be, c).student.scope("backbone.") : trained;
  const { train, test } = evaluationSplits(c);
  const tr = knnFeatureVectors(be, backbone, cfg, train, features);
  const te = knnFeatureVectors(be, backbone, cfg, test, features);
  const r = knnClassify(be, tr.features, labelsOf(train), te.features, labelsOf(test), tr.dim, { k, temperature, numClasses: train.classes.length });
  const what = a.init ? `the same network at initialisation (seed ${c.seed})` : `${a.student ? "student" : "teacher"} of ${a.checkpoint}`;
  io.out(`k-NN (${what}, ${features} features, k = ${k}, T = ${temperature}): top-1 ${r.top1.toFixed(2)}%, top-5 ${r.top5.toFixed(2)}% on ${test.length} held-out images`);
  return 0;
}
