// `dino-ref train` and `dino-ref knn`: a training run with its progress on the terminal, and the
// k-NN evaluation of a checkpoint alone.

import { DinoRefError } from "../tensor/errors.js";
import { preset, DEFAULT_PRESET, PRESETS, type TrainConfig } from "../train/config.js";
import { runTraining, createTrainState, datasets, evaluationSplits, type RunEvent, type Summary } from "../train/run.js";
import { checkpointConfig, loadCheckpoint } from "../train/checkpoint.js";
import { extractFeatures } from "../eval/features.js";
import { knnClassify } from "../eval/knn.js";
import { probeFeatures, trainLinearProbe, DEFAULT_PROBE } from "../eval/linearProbe.js";
import { labelsOf } from "../data/dataset.js";
import { wasmBackend } from "../model/backend.js";
import type { Io } from "./main.js";
import { join } from "node:path";
import { mkdirSync } from "node:fs";
import { writePng } from "../data/png.js";
import { loadBackbone, writeAttentionPictures } from "./attention.js";

export interface TrainArgs {
  preset?: string;
  out?: string;
  seed?: string;
  epochs?: string;
  steps?: string;
  resume?: boolean;
  data?: string;
  "skip-bad"?: boolean;
}

function integerArg(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new DinoRefError(`--${name} ${value}: expected an integer ≥ ${min}`);
  return n;
}

/** The config of a run: the preset with --seed and --epochs applied. */
export function trainConfigFrom(a: TrainArgs): TrainConfig {
  const c = preset(a.preset ?? DEFAULT_PRESET);
  const seed = integerArg("seed", a.seed, 0);
  const epochs = integerArg("epochs", a.epochs, 1);
  if (a.epochs !== undefined && a.steps !== undefined) throw new DinoRefError("give --epochs or --steps, not both");
  if (a["skip-bad"] && a.data === undefined) throw new DinoRefError("--skip-bad applies to --data DIR only");
  return {
    ...c,
    ...(seed !== undefined ? { seed } : {}),
    // --epochs asks for whole epochs: the preset's early stop no longer applies
    ...(epochs !== undefined ? { epochs, stopAfterSteps: 0 } : {}),
    ...(a.data !== undefined ? { dataset: "folder" as const, dataPath: a.data, skipBad: a["skip-bad"] === true } : {}),
  };
}

export function trainCommand(a: TrainArgs, io: Io): number {
  if (a.out === undefined) throw new DinoRefError("train: --out DIR is required (checkpoint, metrics and summary go there)");
  const c = trainConfigFrom(a);
  const steps = integerArg("steps", a.steps, 1);
  const tty = process.stderr.isTTY === true;
  const status = (line: string) => (tty ? process.stderr.write(`\r\x1b[K${line}`) : io.err(line));
  const report = (e: RunEvent) => {
    switch (e.kind) {
      case "start":
        io.out(`dino-ref train: preset ${a.preset ?? DEFAULT_PRESET}, seed ${c.seed}, ${e.iterations} iterations (${e.itersPerEpoch} per epoch, batch ${c.batchSize}), ${e.params.toLocaleString("en-US")} parameters${e.resumedAt > 0 ? `, resumed at iteration ${e.resumedAt}` : ""}`);
        for (const w of e.warnings) io.err(`warning: ${w}`);
        break;
      case "step":
        status(`epoch ${e.epoch} step ${e.iteration}  ${e.imagesPerSecond.toFixed(0)} img/s  eta ${formatSeconds(e.etaSeconds)}  loss ${e.loss.toFixed(4)}  lr ${e.lr.toExponential(2)}`);
        if (e.warning) io.err(`${tty ? "\n" : ""}warning: step ${e.iteration}: ${e.warning}`);
        break;
      case "checkpoint":
        if (tty) process.stderr.write("\n");
        io.err(`checkpoint (epoch ${e.epoch}): ${e.path}`);
        break;
      case "eval":
        io.err(`evaluating: ${e.what}`);
        break;
      case "knn":
        io.err(`teacher k-NN top-1 after epoch ${e.epoch}: ${e.top1.toFixed(2)}%`);
        break;
    }
  };
  const summary = runTraining(c, { outDir: a.out, steps, resume: a.resume, report });
  io.out(formatSummary(summary, a.out));
  io.out(`attention maps of the trained teacher: ${writeHeldOutAttention(a.out, c, io)}`);
  return 0;
}

/** Attention pictures of the first held-out image of 3 classes, in DIR/attention; returns the folder. */
function writeHeldOutAttention(outDir: string, c: TrainConfig, io: Io): string {
  const dir = join(outDir, "attention");
  mkdirSync(dir, { recursive: true });
  const { backbone, cfg } = loadBackbone(join(outDir, "checkpoint.safetensors"), "teacher");
  const { test } = datasets(c);
  const seen = new Set<number>();
  for (let i = 0; i < test.length && seen.size < 3; i++) {
    const y = test.label(i);
    if (seen.has(y)) continue;
    seen.add(y);
    const path = join(dir, `heldout${i}-${test.classes[y]}.png`);
    writePng(path, test.image(i));
    writeAttentionPictures(backbone, cfg, path, dir, 0.6, 0, { out: () => {}, err: io.err });
  }
  return dir;
}

export function formatSummary(s: Summary, outDir: string): string {
  const pct = (x: number) => `${x.toFixed(2)}%`;
  return [
    "",
    `k-NN top-1 on the held-out digits (k = ${s.preset_config.knnK}, T = ${s.preset_config.knnTemperature}):`,
    `  trained teacher        ${pct(s.knn_top1)}   (student ${pct(s.knn_top1_student)})`,
    `  same net at init       ${pct(s.knn_top1_random_init)}   (gain ${(s.knn_top1 - s.knn_top1_random_init >= 0 ? "+" : "") + (s.knn_top1 - s.knn_top1_random_init).toFixed(2)} points)`,
    `  raw pixels             ${pct(s.knn_top1_raw_pixels)}`,
    `${s.steps} steps (${s.epochs_completed} epochs) in ${formatSeconds(s.seconds)}; ${outDir}/summary.json, metrics.jsonl, checkpoint.safetensors`,
    ...(s.skipped_images > 0 ? [`warning: ${s.skipped_images} unreadable image(s) were skipped (--skip-bad)`] : []),
  ].join("\n");
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${Math.round(s - 60 * m).toString().padStart(2, "0")}s` : `${s.toFixed(1)}s`;
}

/** A training checkpoint (config `c`) loaded: its state, the teacher's (or student's) backbone, and the evaluation splits its run's summary used. */
function checkpointForEvaluation(path: string, c: TrainConfig, student: boolean | undefined) {
  const state = createTrainState(c);
  loadCheckpoint(path, state);
  const { train, test } = evaluationSplits(c);
  return { state, train, test, backbone: (student ? state.student : state.teacher).scope("backbone.") };
}

export function knnCommand(a: { checkpoint?: string; k?: string; temperature?: string; student?: boolean }, io: Io): number {
  if (a.checkpoint === undefined) throw new DinoRefError("knn: --checkpoint FILE is required");
  const c = checkpointConfig(a.checkpoint);
  const k = integerArg("k", a.k, 1) ?? c.knnK;
  const temperature = a.temperature === undefined ? c.knnTemperature : Number(a.temperature);
  if (!(temperature > 0)) throw new DinoRefError(`--temperature ${a.temperature}: expected a number > 0`);
  const { state, train, test, backbone } = checkpointForEvaluation(a.checkpoint, c, a.student);
  const trainF = extractFeatures(wasmBackend, backbone, state.model.vit, train);
  const testF = extractFeatures(wasmBackend, backbone, state.model.vit, test);
  const r = knnClassify(trainF, labelsOf(train), testF, labelsOf(test), c.embedDim, { k, temperature, numClasses: train.classes.length });
  io.out(`k-NN (${a.student ? "student" : "teacher"} of ${a.checkpoint}, k = ${k}, T = ${temperature}): top-1 ${r.top1.toFixed(2)}%, top-5 ${r.top5.toFixed(2)}% on ${test.length} held-out images`);
  return 0;
}

export const PRESET_NAMES = Object.keys(PRESETS);

export interface LinearArgs {
  checkpoint?: string;
  "n-last-blocks"?: string;
  avgpool?: boolean;
  epochs?: string;
  lr?: string;
  student?: boolean;
}

/** `dino-ref linear`: the official linear probe on frozen features of a checkpoint's teacher. */
export function linearCommand(a: LinearArgs, io: Io): number {
  if (a.checkpoint === undefined) throw new DinoRefError("linear: --checkpoint FILE is required");
  const c = checkpointConfig(a.checkpoint);
  const n = integerArg("n-last-blocks", a["n-last-blocks"], 1) ?? Math.min(4, c.depth);
  if (n > c.depth) throw new DinoRefError(`--n-last-blocks ${n}: the backbone has ${c.depth} blocks`);
  const epochs = integerArg("epochs", a.epochs, 1) ?? DEFAULT_PROBE.epochs;
  const lr = a.lr === undefined ? DEFAULT_PROBE.lr : Number(a.lr);
  if (!(lr > 0)) throw new DinoRefError(`--lr ${a.lr}: expected a number > 0`);
  const { state, train, test, backbone } = checkpointForEvaluation(a.checkpoint, c, a.student);
  const opts = { nLastBlocks: n, avgpool: a.avgpool === true };
  const tr = probeFeatures(wasmBackend, backbone, state.model.vit, train, opts);
  const te = probeFeatures(wasmBackend, backbone, state.model.vit, test, opts);
  const r = trainLinearProbe(tr.features, labelsOf(train), te.features, labelsOf(test), tr.dim, train.classes.length, { ...DEFAULT_PROBE, epochs, lr });
  io.out(`linear probe (${a.student ? "student" : "teacher"} of ${a.checkpoint}; CLS of the last ${n} block(s)${opts.avgpool ? " + average patch token" : ""}, ${tr.dim} features, ${epochs} epochs): top-1 ${r.top1.toFixed(2)}%, top-5 ${r.top5.toFixed(2)}% (best epoch ${r.bestEpoch + 1})`);
  return 0;
}
