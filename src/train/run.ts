// A whole training run: data, model, schedules, the loop over iterations with logging and
// checkpoints, and the k-NN summary at the end. Deterministic: every random number is a pure
// function of (seed, purpose, position), so the same seed gives the same bytes, and a run resumed
// from a checkpoint ends exactly where an uninterrupted one does.

import { existsSync, appendFileSync } from "node:fs";
import { join } from "node:path";
import { selectedBackend, type Backend } from "../kernels/backend.js";
import type { ParamStore } from "../model/params.js";
import { scheduleAt } from "../dino/schedules.js";
import { labelsOf } from "../data/dataset.js";
import { datasetSplits, evaluationSplits } from "../data/splits.js";
import { knnClassify } from "../eval/knn.js";
import { pixelFeatures } from "../eval/features.js";
import { knnFeatureVectors } from "../eval/knnFeatures.js";
import { subset, type ImageDataset } from "../data/dataset.js";
import { Rng, STREAM } from "../tensor/rng.js";
import { DinoRefError } from "../tensor/errors.js";
import { removeStaleTemporaries, writeFileAtomic } from "../io/writeFileAtomic.js";
import { prepareOutputFolder } from "../io/outputPath.js";
import { ioReason, readFileBounded } from "../io/readFile.js";
import { checkMemory } from "../tensor/limits.js";
import { trainStepBytes } from "../model/memory.js";
import { trainStep } from "./trainStep.js";
import { trainLoader, cropTensors } from "./trainLoader.js";
import { createTrainState, firstNonFinite, modelConfig } from "./trainState.js";
import { collapseWarning, collapseState, type CollapseState, type CollapseSignals } from "./collapse.js";
import { saveCheckpoint, loadCheckpoint, checkpointConfig, checkpointBytes } from "./checkpoint.js";
import { configWarnings, withDefaults, type TrainConfig } from "./config.js";
import { configDifference, validateConfig } from "./configCheck.js";
import { applyInit, type InitRecord, type InitSource } from "./initFrom.js";

export interface RunOptions {
  outDir: string;
  /** Stop after this many iterations in total (the schedules still span cfg.epochs). */
  steps?: number;
  /** Continue from outDir/checkpoint.safetensors. */
  resume?: boolean;
  /** Log a metrics line every this many iterations (and at the last one). */
  logEvery?: number;
  /** Stop once the training loop has run this many seconds (the schedules still span cfg.epochs). */
  maxSeconds?: number;
  /** Skip every k-NN evaluation, during and after training (`--no-eval`). */
  skipEval?: boolean;
  /**
   * Evaluate on every s-th image of both splits only, s the smallest stride that leaves at most
   * this many held-out images (screening runs; the summary records it). 0 or absent: all images.
   */
  evalLimit?: number;
  /**
   * k-NN accuracies that depend only on the data, the backbone's initial weights and the
   * evaluation (the net at init, raw pixels), kept across runs under a key naming all of those.
   */
  baselines?: Map<string, number>;
  /** Progress and messages. */
  report?: (event: RunEvent) => void;
  /** The kernels to run on (default: DINO_REF_KERNELS, i.e. the wasm kernels). */
  backend?: Backend;
  /** Start from these weights instead of the seed's initialisation (`--init FILE`, initFrom.ts); the config must have their architecture. */
  init?: InitSource;
}

export type RunEvent =
  | { kind: "start"; iterations: number; itersPerEpoch: number; params: number; warnings: string[]; resumedAt: number }
  | { kind: "step"; iteration: number; epoch: number; loss: number; lr: number; teacherTemp: number; imagesPerSecond: number; etaSeconds: number; warning: string | null; signals: CollapseSignals }
  | { kind: "checkpoint"; path: string; epoch: number }
  | { kind: "eval"; what: string }
  | { kind: "knn"; epoch: number; top1: number }
  | { kind: "init"; record: InitRecord };

export interface Summary {
  preset_config: TrainConfig;
  /** "k-NN" when the final evaluations ran; "none (--no-eval)" when they were skipped (the accuracy fields are then absent). */
  evaluation: "k-NN" | "none (--no-eval)";
  knn_top1?: number;
  knn_top5?: number;
  knn_top1_student?: number;
  knn_top1_random_init?: number;
  knn_top1_raw_pixels?: number;
  /** Held-out images the k-NN evaluations used (fewer than the split with RunOptions.evalLimit). */
  eval_images?: number;
  seconds: number;
  /** Seconds of the training loop alone (no data loading, no evaluation). */
  train_seconds: number;
  /** The collapse signals of the last iteration, and the collapse warnings logged (metrics.jsonl). */
  final_signals: CollapseSignals | null;
  collapse_warnings: number;
  steps: number;
  epochs_completed: number;
  final_loss: number;
  /** Unreadable images skipped with --skip-bad (folder data). */
  skipped_images: number;
  /** With --init: the file, what was loaded from it and what started fresh. */
  init?: InitRecord;
  /** With --init: the k-NN top-1 of the teacher as loaded from the file, before training. */
  knn_top1_init_weights?: number;
}

/**
 * metrics.jsonl of a resumed run: only the lines up to the checkpoint's iteration are kept (a run
 * killed after logging steps past its last checkpoint logs them again when resumed); a last line
 * cut short by the kill is dropped.
 */
function keepMetricsUpTo(path: string, iteration: number): void {
  const text = existsSync(path) ? new TextDecoder().decode(readFileBounded(path)) : "";
  const kept = text.split("\n").filter((line) => {
    try {
      const step = (JSON.parse(line) as { step?: unknown }).step;
      return typeof step === "number" && step <= iteration;
    } catch {
      return false;
    }
  });
  writeFileAtomic(path, new TextEncoder().encode(kept.map((l) => l + "\n").join("")));
}

/** Trains, checkpoints every epoch, and evaluates. */
export function runTraining(c: TrainConfig, opts: RunOptions): Summary {
  validateConfig(c);
  const start = performance.now();
  const report = opts.report ?? (() => {});
  const model = modelConfig(c);
  checkMemory(trainStepBytes(model, c.batchSize, [[c.globalSize, c.globalSize], [c.globalSize, c.globalSize], ...Array.from({ length: c.localCrops }, () => [c.localSize, c.localSize] as const)]),
    `one training step (batch ${c.batchSize}, 2 × ${c.globalSize} px and ${c.localCrops} × ${c.localSize} px crops, patch ${c.patchSize}, width ${c.embedDim}, depth ${c.depth})`,
    "lower batchSize, the crop sizes or the network's size");
  // room for a checkpoint and its temporary copy, before an hour of training
  prepareOutputFolder(opts.outDir, "--out", 2 * checkpointBytes(model) + (1 << 20));
  removeStaleTemporaries(opts.outDir, ["checkpoint.safetensors", "metrics.jsonl", "summary.json"]);
  const ckptPath = join(opts.outDir, "checkpoint.safetensors");
  const metricsPath = join(opts.outDir, "metrics.jsonl");
  const appendMetrics = (line: object) => {
    try {
      appendFileSync(metricsPath, JSON.stringify(line) + "\n");
    } catch (e) {
      throw new DinoRefError(`${metricsPath}: cannot write file (${ioReason(e)})`);
    }
  };

  const be = opts.backend ?? selectedBackend();
  const { train, test, skipped } = datasetSplits(c);
  // the k-NN at the end needs k training images: say so before training, not after
  if (!opts.skipEval && c.knnK > train.length) throw new DinoRefError(`config knnK = ${c.knnK}: the k-NN evaluation needs at least that many training images, and there are ${train.length} (lower knnK or use --no-eval)`);
  const loader = trainLoader(c, train);
  const itersPerEpoch = loader.batchesPerEpoch;
  // per iteration, never stored for the whole run: a run of a million epochs starts at once
  const schedule = scheduleAt({
    epochs: c.epochs, nitersPerEpoch: itersPerEpoch, lr: c.lr, totalBatchSize: c.batchSize, minLr: c.minLr, warmupEpochs: c.warmupEpochs,
    weightDecay: c.weightDecay, weightDecayEnd: c.weightDecayEnd, momentumTeacher: c.momentumTeacher,
    warmupTeacherTemp: c.warmupTeacherTemp, teacherTemp: c.teacherTemp, warmupTeacherTempEpochs: c.warmupTeacherTempEpochs,
  });
  const total = Math.min(opts.steps ?? Infinity, c.stopAfterSteps || Infinity, c.epochs * itersPerEpoch);
  if (!(total >= 1)) throw new DinoRefError(`--steps ${opts.steps}; expected at least 1 iteration`);

  const state = createTrainState(be, c);
  let iteration = 0;
  if (opts.resume) {
    if (!existsSync(ckptPath)) throw new DinoRefError(`--resume: ${ckptPath} does not exist`);
    const difference = configDifference(checkpointConfig(ckptPath), withDefaults(c));
    if (difference !== null) throw new DinoRefError(`--resume: ${ckptPath} was trained with another configuration: ${difference}; resume with the same preset and options`);
    const pos = loadCheckpoint(ckptPath, state);
    if (pos.iteration > c.epochs * itersPerEpoch || pos.epoch !== Math.floor(pos.iteration / itersPerEpoch)) {
      throw new DinoRefError(`--resume: ${ckptPath}: iteration ${pos.iteration} and epoch ${pos.epoch} do not fit this run (${itersPerEpoch} iterations per epoch, ${c.epochs} epochs)`);
    }
    iteration = pos.iteration;
    keepMetricsUpTo(metricsPath, iteration);
  } else {
    writeFileAtomic(metricsPath, new Uint8Array(0));
  }
  // --init: the weights of a file instead of the seed's (a resumed run has them in its checkpoint already)
  const init = opts.init === undefined ? undefined : opts.resume ? { ...applyInit(createTrainState(be, c), opts.init), resumed: true as const } : applyInit(state, opts.init);
  if (init !== undefined) report({ kind: "init", record: init });
  let savedAt = iteration;
  report({ kind: "start", iterations: total, itersPerEpoch, params: state.student.numel, warnings: configWarnings(c), resumedAt: iteration });

  // k-NN of a network's backbone features (c.knnFeatures) on the held-out split, the training split as memory
  const { train: evalTrain, test: evalTest } = strided(evaluationSplits(c, { train, test }), opts.evalLimit ?? 0);
  const knn = (trainF: Float32Array, testF: Float32Array, dim: number) =>
    knnClassify(be, trainF, labelsOf(evalTrain), testF, labelsOf(evalTest), dim, { k: c.knnK, temperature: c.knnTemperature, numClasses: train.classes.length });
  const knnOf = (store: ParamStore) => {
    const backbone = store.scope("backbone.");
    const tr = knnFeatureVectors(be, backbone, state.model.vit, evalTrain, c.knnFeatures);
    return knn(tr.features, knnFeatureVectors(be, backbone, state.model.vit, evalTest, c.knnFeatures).features, tr.dim);
  };
  // a baseline from opts.baselines, or computed and kept there
  const baselineKey = JSON.stringify([c.dataset, c.dataPath, c.trainLimit, c.seed, c.globalSize, c.knnK, c.knnTemperature, evalTest.length, evalTrain.length]);
  const baseline = (what: string, compute: () => number) => {
    const key = `${what} ${baselineKey}`;
    const known = opts.baselines?.get(key);
    if (known !== undefined) return known;
    const v = compute();
    opts.baselines?.set(key, v);
    return v;
  };

  const settings = { studentTemp: c.studentTemp, centerMomentum: c.centerMomentum, centering: c.centering, clipGrad: c.clipGrad, freezeLastLayer: c.freezeLastLayer };
  const logEvery = opts.logEvery ?? 10;
  let lastLoss = NaN;
  let lastState: CollapseState = "healthy";
  let lastSignals: CollapseSignals | null = null;
  let warnings = 0;
  const loopStart = performance.now();
  const firstIteration = iteration;
  for (; iteration < total && !(opts.maxSeconds !== undefined && (performance.now() - loopStart) / 1000 >= opts.maxSeconds); iteration++) {
    const h = schedule(iteration);
    const batch = loader.batch(h.epoch, iteration % itersPerEpoch);
    const crops = cropTensors(batch);
    const dropPathRng = new Rng(c.seed, STREAM.dropPath, iteration);
    const done = iteration + 1;
    // steps are numbered from 1, as in the progress lines
    const r = trainStep(be, state, crops, { epoch: h.epoch, lr: h.lr, weightDecay: h.wd, momentum: h.momentum, teacherTemp: h.teacherTemp }, settings, dropPathRng, done);
    const bad = firstNonFinite(state);
    if (bad !== null) throw new DinoRefError(`step ${done}: after the update ${bad}; stopping before it reaches a checkpoint (${savedAt > 0 ? `${ckptPath} keeps iteration ${savedAt}` : "none was written"})`);
    lastLoss = r.loss;
    lastSignals = r.signals;
    if (done % logEvery === 0 || done === total || iteration === firstIteration) {
      const seconds = (performance.now() - loopStart) / 1000;
      const rate = ((done - firstIteration) * c.batchSize) / seconds;
      const warning = collapseWarning(r.signals);
      if (warning) warnings++;
      appendMetrics({ step: done, epoch: h.epoch, loss: r.loss, lr: h.lr, wd: h.wd, momentum: h.momentum, teacher_temp: h.teacherTemp, teacher_entropy: r.signals.teacherEntropy, kl: r.signals.kl, ln_k: r.signals.lnK, max_teacher_prob: r.signals.maxTeacherProb, argmax_prototypes: r.signals.argmaxPrototypes, images_per_s: rate, ...(warning ? { warning } : {}) });
      // the terminal hears about a collapse when the state changes; metrics.jsonl records it at every logged step
      const state = collapseState(r.signals);
      report({ kind: "step", iteration: done, epoch: h.epoch, loss: r.loss, lr: h.lr, teacherTemp: h.teacherTemp, imagesPerSecond: rate, etaSeconds: ((total - done) * c.batchSize) / rate, warning: state !== lastState ? warning : null, signals: r.signals });
      lastState = state;
    }
    if (done % itersPerEpoch === 0 || done === total) {
      saveCheckpoint(ckptPath, c, state, { iteration: done, epoch: Math.floor(done / itersPerEpoch) });
      savedAt = done;
      report({ kind: "checkpoint", path: ckptPath, epoch: Math.floor(done / itersPerEpoch) });
    }
    const epochsDone = done / itersPerEpoch;
    if (c.knnEveryEpochs > 0 && !opts.skipEval && done < total && Number.isInteger(epochsDone) && epochsDone % c.knnEveryEpochs === 0) {
      report({ kind: "eval", what: `k-NN of the teacher after epoch ${epochsDone}` });
      const r = knnOf(state.teacher);
      appendMetrics({ step: done, epoch: epochsDone, knn_top1: r.top1, knn_top5: r.top5 });
      report({ kind: "knn", epoch: epochsDone, top1: r.top1 });
    }
  }

  const trainSeconds = (performance.now() - loopStart) / 1000;
  if (iteration < total && iteration !== savedAt) {
    // stopped by opts.maxSeconds between epochs: the checkpoint holds the last iteration
    saveCheckpoint(ckptPath, c, state, { iteration, epoch: Math.floor(iteration / itersPerEpoch) });
  }
  const summary: Summary = {
    preset_config: c,
    evaluation: opts.skipEval ? "none (--no-eval)" : "k-NN",
    seconds: 0, train_seconds: trainSeconds, steps: iteration, epochs_completed: Math.floor(iteration / itersPerEpoch), final_loss: lastLoss,
    final_signals: lastSignals, collapse_warnings: warnings, skipped_images: skipped,
    ...(init !== undefined ? { init } : {}),
  };
  if (!opts.skipEval) {
    report({ kind: "eval", what: "k-NN of the trained teacher" });
    const trained = knnOf(state.teacher);
    summary.knn_top1 = trained.top1;
    summary.knn_top5 = trained.top5;
    report({ kind: "eval", what: "k-NN of the trained student" });
    summary.knn_top1_student = knnOf(state.student).top1;
    report({ kind: "eval", what: "k-NN of the same network at initialisation" });
    // the backbone's initial weights depend on the seed and the backbone's shape only (model/init.ts)
    const backboneKey = JSON.stringify([c.patchSize, c.embedDim, c.depth, c.numHeads, c.mlpRatio, c.knnFeatures]);
    summary.knn_top1_random_init = baseline(`init ${backboneKey}`, () => knnOf(createTrainState(be, c).student).top1);
    if (opts.init !== undefined) {
      report({ kind: "eval", what: `k-NN of the weights of ${opts.init.path}` });
      const start = createTrainState(be, c);
      applyInit(start, opts.init);
      summary.knn_top1_init_weights = knnOf(start.teacher).top1;
    }
    report({ kind: "eval", what: "k-NN of raw pixels" });
    summary.knn_top1_raw_pixels = baseline("pixels", () => {
      const trainPixels = pixelFeatures(evalTrain);
      return knn(trainPixels.features, pixelFeatures(evalTest).features, trainPixels.dim).top1;
    });
    summary.eval_images = evalTest.length;
  }
  summary.seconds = (performance.now() - start) / 1000;
  writeFileAtomic(join(opts.outDir, "summary.json"), new TextEncoder().encode(JSON.stringify(summary, null, 2) + "\n"));
  return summary;
}

/** Every s-th image of both splits, s the smallest stride leaving at most `limit` held-out images (0: all). */
function strided(sets: { train: ImageDataset; test: ImageDataset }, limit: number): { train: ImageDataset; test: ImageDataset } {
  if (limit <= 0 || limit >= sets.test.length) return sets;
  const s = Math.ceil(sets.test.length / limit);
  const every = (ds: ImageDataset) => subset(ds, Int32Array.from({ length: Math.ceil(ds.length / s) }, (_, i) => i * s), `every ${s}th image`);
  return { train: every(sets.train), test: every(sets.test) };
}
