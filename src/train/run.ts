// A whole training run: data, model, schedules, the loop over iterations with logging and
// checkpoints, and the k-NN summary at the end. Deterministic: every random number is a pure
// function of (seed, purpose, position), so the same seed gives the same bytes, and a run resumed
// from a checkpoint ends exactly where an uninterrupted one does.

import { mkdirSync, existsSync, appendFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { wasmBackend, type Tensor } from "../model/backend.js";
import { ParamStore } from "../model/params.js";
import { vitConfig } from "../model/vitConfig.js";
import { dinoParamSpecs, initDino, type DinoModelConfig } from "../model/dino.js";
import { dinoSchedules, hyperparamsAt } from "../dino/schedules.js";
import { loadMnist } from "../data/mnist.js";
import { loadMnistClutter } from "../data/mnistClutter.js";
import { MultiCropLoader } from "../data/loader.js";
import type { ImageDataset } from "../data/dataset.js";
import { labelsOf, subset } from "../data/dataset.js";
import { openImageFolder } from "../data/imageFolder.js";
import { splitPerClass } from "../data/mnist.js";
import { resizeBicubic } from "../data/resample.js";
import { knnClassify } from "../eval/knn.js";
import { extractFeatures, pixelFeatures } from "../eval/features.js";
import { Rng, STREAM } from "../tensor/rng.js";
import { DinoRefError } from "../tensor/errors.js";
import { writeFileAtomic } from "../io/safetensors.js";
import { trainStep, type TrainState } from "./trainStep.js";
import { collapseWarning, collapseState, type CollapseState, type CollapseSignals } from "./collapse.js";
import { saveCheckpoint, loadCheckpoint, checkpointConfig } from "./checkpoint.js";
import { validateConfig, configWarnings, withDefaults, type TrainConfig } from "./config.js";

export interface RunOptions {
  outDir: string;
  /** Stop after this many iterations in total (the schedules still span cfg.epochs). */
  steps?: number;
  /** Continue from outDir/checkpoint.safetensors. */
  resume?: boolean;
  /** Log a metrics line every this many iterations (and at the last one). */
  logEvery?: number;
  /** Skip the final k-NN evaluation (tests). */
  skipEval?: boolean;
  /** Progress and messages. */
  report?: (event: RunEvent) => void;
}

export type RunEvent =
  | { kind: "start"; iterations: number; itersPerEpoch: number; params: number; warnings: string[]; resumedAt: number }
  | { kind: "step"; iteration: number; epoch: number; loss: number; lr: number; teacherTemp: number; imagesPerSecond: number; etaSeconds: number; warning: string | null; signals: CollapseSignals }
  | { kind: "checkpoint"; path: string; epoch: number }
  | { kind: "eval"; what: string }
  | { kind: "knn"; epoch: number; top1: number };

export interface Summary {
  preset_config: TrainConfig;
  knn_top1: number;
  knn_top5: number;
  knn_top1_student: number;
  knn_top1_random_init: number;
  knn_top1_raw_pixels: number;
  seconds: number;
  steps: number;
  epochs_completed: number;
  final_loss: number;
  /** Unreadable images skipped with --skip-bad (folder data). */
  skipped_images: number;
}

/** The DINO network of a training config. */
export function modelConfig(c: TrainConfig): DinoModelConfig {
  return {
    vit: vitConfig({ patchSize: c.patchSize, embedDim: c.embedDim, depth: c.depth, numHeads: c.numHeads, mlpRatio: c.mlpRatio, qkvBias: true, imgSize: c.globalSize, dropPathRate: c.dropPathRate }),
    head: { inDim: c.embedDim, outDim: c.outDim, hiddenDim: c.hiddenDim, bottleneckDim: c.bottleneckDim, nlayers: c.headLayers, normLastLayer: c.normLastLayer },
  };
}

/** Student initialised from the seed, teacher an exact copy with no gradient storage. */
export function createTrainState(c: TrainConfig): TrainState {
  const model = modelConfig(c);
  const specs = dinoParamSpecs(model);
  const student = ParamStore.create(specs);
  initDino(student, model, c.seed);
  const teacher = ParamStore.create(specs, { grads: false });
  teacher.copyFrom(student);
  if (teacher.flat.ptr === student.flat.ptr) throw new Error("teacher and student share storage");
  return { model, student, teacher, center: new Float32Array(c.outDim), optimizer: new Map() };
}

/** The train and held-out test sets of a config. */
export function datasets(c: TrainConfig): { train: ImageDataset; test: ImageDataset; skipped: number } {
  const { train, test, skipped } = c.dataset === "folder" ? folderSplit(c) : { ...generated(c), skipped: 0 };
  if (c.trainLimit === 0 || c.trainLimit >= train.length) return { train, test, skipped };
  return { train: subset(train, Int32Array.from({ length: c.trainLimit }, (_, i) => i), `${c.dataset} (first ${c.trainLimit})`), test, skipped };
}

/** The bundled digits or a data set generated from them (with the run's seed). */
function generated(c: TrainConfig): { train: ImageDataset; test: ImageDataset } {
  switch (c.dataset) {
    case "mnist":
      return loadMnist();
    case "mnist-clutter":
      return loadMnistClutter({ seed: c.seed });
    default:
      throw new DinoRefError(`config dataset '${c.dataset}'; expected mnist, mnist-clutter or folder`);
  }
}

/**
 * A folder of PNGs split per class 80/20 (deterministically, as the bundled digits). The held-out
 * and train images are also served at globalSize × globalSize (bicubic) for the k-NN features,
 * which need one size; training crops come from the original images.
 */
function folderSplit(c: TrainConfig): { train: ImageDataset; test: ImageDataset; skipped: number } {
  const all = openImageFolder(c.dataPath, { skipBad: c.skipBad });
  const { train, test } = splitPerClass(labelsOf(all), all.classes.length, 0, 0.8);
  if (test.length === 0) throw new DinoRefError(`${c.dataPath}: too few images to hold out 20% per class for the k-NN evaluation`);
  return { train: subset(all, train, `${c.dataPath} (train)`), test: subset(all, test, `${c.dataPath} (held out)`), skipped: all.skipped.length };
}

/** The dataset with every image resized to size × size (for feature extraction, which needs one size). */
function resized(ds: ImageDataset, size: number): ImageDataset {
  return {
    length: ds.length,
    classes: ds.classes,
    image: (i) => {
      const img = ds.image(i);
      return img.width === size && img.height === size ? img : resizeBicubic(img, size, size);
    },
    label: (i) => ds.label(i),
    describe: (i) => ds.describe(i),
  };
}

/**
 * The k-NN and linear-probe splits of a config: the training images (the memory) and the held-out
 * ones, every image at globalSize × globalSize. `sets` defaults to the config's own data sets.
 */
export function evaluationSplits(c: TrainConfig, sets: { train: ImageDataset; test: ImageDataset } = datasets(c)): { train: ImageDataset; test: ImageDataset } {
  return { train: resized(sets.train, c.globalSize), test: resized(sets.test, c.globalSize) };
}

/** Trains, checkpoints every epoch, and evaluates. */
export function runTraining(c: TrainConfig, opts: RunOptions): Summary {
  validateConfig(c);
  const start = performance.now();
  const report = opts.report ?? (() => {});
  mkdirSync(opts.outDir, { recursive: true });
  const ckptPath = join(opts.outDir, "checkpoint.safetensors");
  const metricsPath = join(opts.outDir, "metrics.jsonl");

  const { train, test, skipped } = datasets(c);
  const loader = new MultiCropLoader(train, { globalSize: c.globalSize, localSize: c.localSize, localCount: c.localCrops, globalScale: c.globalScale, localScale: c.localScale }, c.seed, c.batchSize);
  const itersPerEpoch = loader.batchesPerEpoch;
  const schedules = dinoSchedules({
    epochs: c.epochs, nitersPerEpoch: itersPerEpoch, lr: c.lr, totalBatchSize: c.batchSize, minLr: c.minLr, warmupEpochs: c.warmupEpochs,
    weightDecay: c.weightDecay, weightDecayEnd: c.weightDecayEnd, momentumTeacher: c.momentumTeacher,
    warmupTeacherTemp: c.warmupTeacherTemp, teacherTemp: c.teacherTemp, warmupTeacherTempEpochs: c.warmupTeacherTempEpochs,
  });
  const total = Math.min(opts.steps ?? Infinity, c.stopAfterSteps || Infinity, c.epochs * itersPerEpoch);
  if (!(total >= 1)) throw new DinoRefError(`--steps ${opts.steps}; expected at least 1 iteration`);

  const state = createTrainState(c);
  let iteration = 0;
  if (opts.resume) {
    if (!existsSync(ckptPath)) throw new DinoRefError(`--resume: ${ckptPath} does not exist`);
    const saved = checkpointConfig(ckptPath);
    if (JSON.stringify(saved) !== JSON.stringify(withDefaults(c))) throw new DinoRefError(`--resume: ${ckptPath} was trained with another configuration (compare its metadata "config" with the preset and options)`);
    iteration = loadCheckpoint(ckptPath, state).iteration;
  } else {
    writeFileSync(metricsPath, "");
  }
  report({ kind: "start", iterations: total, itersPerEpoch, params: state.student.numel, warnings: configWarnings(c), resumedAt: iteration });

  // k-NN of a network's backbone CLS features on the held-out split, the training split as memory
  const { train: evalTrain, test: evalTest } = evaluationSplits(c, { train, test });
  const knn = (trainF: Float32Array, testF: Float32Array, dim: number) =>
    knnClassify(trainF, labelsOf(train), testF, labelsOf(test), dim, { k: c.knnK, temperature: c.knnTemperature, numClasses: train.classes.length });
  const knnOf = (store: ParamStore) => {
    const backbone = store.scope("backbone.");
    return knn(extractFeatures(wasmBackend, backbone, state.model.vit, evalTrain), extractFeatures(wasmBackend, backbone, state.model.vit, evalTest), c.embedDim);
  };

  const settings = { studentTemp: c.studentTemp, centerMomentum: c.centerMomentum, centering: c.centering, clipGrad: c.clipGrad, freezeLastLayer: c.freezeLastLayer };
  const logEvery = opts.logEvery ?? 10;
  let lastLoss = NaN;
  let lastState: CollapseState = "healthy";
  const loopStart = performance.now();
  const firstIteration = iteration;
  for (; iteration < total; iteration++) {
    const h = hyperparamsAt(schedules, iteration);
    const batch = loader.batch(h.epoch, iteration % itersPerEpoch);
    const crops: Tensor[] = batch.crops.map((data, i) => ({ shape: [c.batchSize, 3, batch.sizes[i], batch.sizes[i]], data }));
    const dropPathRng = new Rng(c.seed, STREAM.dropPath, iteration);
    const r = trainStep(wasmBackend, state, crops, { epoch: h.epoch, lr: h.lr, weightDecay: h.wd, momentum: h.momentum, teacherTemp: h.teacherTemp }, settings, dropPathRng, iteration);
    lastLoss = r.loss;
    const done = iteration + 1;
    if (done % logEvery === 0 || done === total || iteration === firstIteration) {
      const seconds = (performance.now() - loopStart) / 1000;
      const rate = ((done - firstIteration) * c.batchSize) / seconds;
      const warning = collapseWarning(r.signals);
      appendFileSync(metricsPath, JSON.stringify({ step: done, epoch: h.epoch, loss: r.loss, lr: h.lr, wd: h.wd, momentum: h.momentum, teacher_temp: h.teacherTemp, teacher_entropy: r.signals.teacherEntropy, kl: r.signals.kl, ln_k: r.signals.lnK, max_teacher_prob: r.signals.maxTeacherProb, argmax_prototypes: r.signals.argmaxPrototypes, images_per_s: rate, ...(warning ? { warning } : {}) }) + "\n");
      // the terminal hears about a collapse when the state changes; metrics.jsonl records it at every logged step
      const state = collapseState(r.signals);
      report({ kind: "step", iteration: done, epoch: h.epoch, loss: r.loss, lr: h.lr, teacherTemp: h.teacherTemp, imagesPerSecond: rate, etaSeconds: ((total - done) * c.batchSize) / rate, warning: state !== lastState ? warning : null, signals: r.signals });
      lastState = state;
    }
    if (done % itersPerEpoch === 0 || done === total) {
      saveCheckpoint(ckptPath, c, state, { iteration: done, epoch: Math.floor(done / itersPerEpoch) });
      report({ kind: "checkpoint", path: ckptPath, epoch: Math.floor(done / itersPerEpoch) });
    }
    const epochsDone = done / itersPerEpoch;
    if (c.knnEveryEpochs > 0 && !opts.skipEval && done < total && Number.isInteger(epochsDone) && epochsDone % c.knnEveryEpochs === 0) {
      report({ kind: "eval", what: `k-NN of the teacher after epoch ${epochsDone}` });
      const r = knnOf(state.teacher);
      appendFileSync(metricsPath, JSON.stringify({ step: done, epoch: epochsDone, knn_top1: r.top1, knn_top5: r.top5 }) + "\n");
      report({ kind: "knn", epoch: epochsDone, top1: r.top1 });
    }
  }

  const summary: Summary = {
    preset_config: c,
    knn_top1: NaN, knn_top5: NaN, knn_top1_student: NaN, knn_top1_random_init: NaN, knn_top1_raw_pixels: NaN,
    seconds: 0, steps: total, epochs_completed: Math.floor(total / itersPerEpoch), final_loss: lastLoss, skipped_images: skipped,
  };
  if (!opts.skipEval) {
    report({ kind: "eval", what: "k-NN of the trained teacher" });
    const trained = knnOf(state.teacher);
    summary.knn_top1 = trained.top1;
    summary.knn_top5 = trained.top5;
    report({ kind: "eval", what: "k-NN of the trained student" });
    summary.knn_top1_student = knnOf(state.student).top1;
    report({ kind: "eval", what: "k-NN of the same network at initialisation" });
    summary.knn_top1_random_init = knnOf(createTrainState(c).student).top1;
    report({ kind: "eval", what: "k-NN of raw pixels" });
    const trainPixels = pixelFeatures(evalTrain);
    summary.knn_top1_raw_pixels = knn(trainPixels.features, pixelFeatures(evalTest).features, trainPixels.dim).top1;
  }
  summary.seconds = (performance.now() - start) / 1000;
  writeFileAtomic(join(opts.outDir, "summary.json"), new TextEncoder().encode(JSON.stringify(summary, null, 2) + "\n"));
  return summary;
}
