// What the evaluation commands share: the weights option (`--weights FILE`, or its older name
// `--checkpoint FILE`: any weights file loadBackbone reads, teacher by default, `--student`), and
// the images: `--data DIR` with train/ and val/ class folders (eval_knn.py's layout) transformed
// by `--eval-transform resize|imagenet` at `--image-size`, or, for a dino-ref training checkpoint
// without --data, its run's own evaluation splits (the images at the run's global crop size).

import { DinoRefError } from "../tensor/errors.js";
import type { Backend } from "../kernels/backend.js";
import { loadBackbone, type LoadedBackbone } from "../model/loadBackbone.js";
import type { Side } from "../model/stateDict.js";
import type { ImageDataset } from "../data/dataset.js";
import { evaluationSplits } from "../data/splits.js";
import { openEvalFolders } from "../data/evalFolder.js";
import { EVAL_TRANSFORMS, describeEvalTransform, evalTransform, type EvalTransformName } from "../data/evalTransform.js";
import { trainingConfigOf } from "../train/checkpoint.js";
import type { TrainConfig } from "../train/config.js";
import { integerArg } from "./args.js";
import type { Io } from "./io.js";

export interface WeightsArgs {
  weights?: string;
  /** The older name of --weights. */
  checkpoint?: string;
  student?: boolean;
}

export interface EvalDataArgs {
  data?: string;
  "image-size"?: string;
  "eval-transform"?: string;
  "skip-bad"?: boolean;
}

/** The weights file of a command: --weights or --checkpoint (one of them). */
export function weightsPath(command: string, a: WeightsArgs): string {
  if (a.weights !== undefined && a.checkpoint !== undefined) throw new DinoRefError(`${command}: give --weights FILE or --checkpoint FILE (the same option), not both`);
  const path = a.weights ?? a.checkpoint;
  if (path === undefined) throw new DinoRefError(`${command}: --weights FILE is required (an official backbone or checkpoint, .pth or .safetensors, a Hugging Face ViTModel file, or a dino-ref checkpoint)`);
  return path;
}

/** Loads the backbone of a command's weights (the teacher, or the student with --student); notes go to stderr. */
export function loadWeights(command: string, be: Backend, a: WeightsArgs, io: Io): { path: string; side: Side; loaded: LoadedBackbone; config: TrainConfig | null } {
  const path = weightsPath(command, a);
  const side: Side = a.student ? "student" : "teacher";
  const loaded = loadBackbone(be, path, side);
  // a dino-ref checkpoint's recorded config is checked before anything is said about the weights
  const config = trainingConfigOf(loaded.metadata, path);
  for (const n of loaded.notes) io.err(`note: ${n}`);
  return { path, side, loaded, config };
}

/** --eval-transform and --image-size, checked (the size defaults to 224 for imagenet, else to `fallback`). */
export function evalTransformArgs(a: EvalDataArgs, fallback: number): { name: EvalTransformName; size: number } {
  const name = a["eval-transform"] ?? "resize";
  if (!(EVAL_TRANSFORMS as readonly string[]).includes(name)) throw new DinoRefError(`--eval-transform ${name}: expected ${EVAL_TRANSFORMS.join(" or ")}`);
  const size = integerArg("image-size", a["image-size"], 1, 8192) ?? (name === "imagenet" ? 224 : fallback);
  return { name: name as EvalTransformName, size };
}

/**
 * The memory (train) and query (test) images of a k-NN or linear evaluation: --data DIR's train/
 * and val/, or a dino-ref checkpoint's own splits. `what` describes them for the output line.
 */
export function evaluationSets(command: string, a: EvalDataArgs, loaded: LoadedBackbone, config: TrainConfig | null, path: string, io: Io): { train: ImageDataset; test: ImageDataset; what: string } {
  if (a.data !== undefined) {
    const t = evalTransformArgs(a, config?.globalSize ?? loaded.cfg.imgSize);
    const folders = openEvalFolders(a.data, evalTransform(t.name, t.size), a["skip-bad"] === true, (m) => io.err(`warning: ${m}`));
    return { train: folders.train, test: folders.val, what: `${folders.val.length} images of ${a.data}/val against ${folders.train.length} of ${a.data}/train (${describeEvalTransform(t.name, t.size)})` };
  }
  if (a["skip-bad"]) throw new DinoRefError(`${command}: --skip-bad applies to --data DIR`);
  if (a["eval-transform"] !== undefined) throw new DinoRefError(`${command}: --eval-transform applies to --data DIR (a training run's own images keep the run's transform)`);
  if (config === null) {
    throw new DinoRefError(`${command}: ${path} is not a dino-ref training checkpoint, so it has no images of its own: give --data DIR with train/ and val/ class folders`);
  }
  const size = integerArg("image-size", a["image-size"], 1, 8192);
  const c = size === undefined ? config : { ...config, globalSize: size };
  const { train, test } = evaluationSplits(c);
  return { train, test, what: `${test.length} held-out images of the run's data (${c.globalSize}×${c.globalSize})` };
}
