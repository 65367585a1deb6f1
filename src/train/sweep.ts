// A recipe study: one training run per point of a grid of config values, each with the same budget
// (iterations and/or seconds), and one table of what each run learned (k-NN gain over the same net
// at init; on a data set with masks also the Jaccard of the teacher's best attention head against
// chance), what it cost (seconds, backbone FLOPs per step) and how the DINO signals ended (teacher
// entropy, KL, collapse warnings). A finished run is reused when the sweep is run again.

import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DinoRefError } from "../tensor/errors.js";
import { writeFileAtomic } from "../io/writeFileAtomic.js";
import { selectedBackend } from "../kernels/backend.js";
import { loadBackbone } from "../model/loadBackbone.js";
import { MASKED_DATASETS, maskedDataset } from "../data/maskedDatasets.js";
import { classInterleaved } from "../data/dataset.js";
import { segmentationScores } from "../eval/segmentation.js";
import { parseSetting, validateConfig } from "./configCheck.js";
import { runTraining, type RunEvent, type Summary } from "./run.js";
import { trainStepFlops } from "./stepFlops.js";
import type { TrainConfig } from "./config.js";

/** One axis of the grid: the keys it sets together and, per value, one text per key. */
export interface GridAxis {
  keys: (keyof TrainConfig)[];
  values: string[][];
}

/** What every run of a sweep may spend, and how it is evaluated. */
export interface SweepBudget {
  /** Stop each run after this many iterations (the schedules still span the config's epochs). */
  steps?: number;
  /** Stop each run once its training loop has run this many seconds. */
  seconds?: number;
  /** k-NN on at most this many held-out images (a fixed stride of both splits; 0: all). */
  evalLimit?: number;
  /** No k-NN at all: the table has the signals and costs only. */
  skipEval?: boolean;
  /** mnist-clutter: score the attention masks on this many held-out images (class-interleaved; default all). */
  segmentCount?: number;
}

/** The attention masks (60% of the mass, as `dino-ref segment`) against the ground truth. */
export interface SweepSegmentation {
  images: number;
  bestHead: number;
  /** Mean Jaccard of the teacher's best head, and the chance level of its masks. */
  best: number;
  chance: number;
  /** Mean Jaccard of the head-mean map's mask. */
  meanMap: number;
}

/** One row of the sweep table. */
export interface SweepRow {
  name: string;
  /** The grid values of this run, as KEY=VALUE texts. */
  settings: string[];
  steps: number;
  /** Backbone GFLOP of one iteration (stepFlops.ts) and of the whole run. */
  gflopPerStep: number;
  gflop: number;
  trainSeconds: number;
  seconds: number;
  imagesPerSecond: number;
  teacher: number | null;
  student: number | null;
  init: number | null;
  pixels: number | null;
  gainTeacher: number | null;
  gainStudent: number | null;
  evalImages: number | null;
  finalLoss: number;
  teacherEntropy: number | null;
  lnK: number | null;
  kl: number | null;
  collapseWarnings: number;
  /** On mnist-clutter: the trained teacher's segmentation from attention (null elsewhere). */
  segmentation: SweepSegmentation | null;
  reused: boolean;
}

/** Splits at the commas that are not inside [ ]. */
function topLevelCommas(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of text) {
    if (ch === "[") depth++;
    if (ch === "]") depth--;
    if (ch === "," && depth === 0) {
      parts.push(cur);
      cur = "";
    } else cur += ch;
  }
  parts.push(cur);
  return parts;
}

/**
 * `KEY=V1,V2,...` (ranges in brackets: `localScale=[0.05,0.4],[0.2,0.5]`), or keys set together:
 * `patchSize/localSize=4/12,7/14`. Every value is checked as `--set KEY=VALUE` would be.
 */
export function parseGridAxis(text: string): GridAxis {
  const eq = text.indexOf("=");
  if (eq <= 0 || eq === text.length - 1) throw new DinoRefError(`--grid ${text}: expected KEY=V1,V2,... or KEY1/KEY2=A1/A2,B1/B2`);
  const keyTexts = text.slice(0, eq).split("/");
  const values = topLevelCommas(text.slice(eq + 1)).map((v) => v.split("/"));
  for (const v of values) {
    if (v.length !== keyTexts.length) throw new DinoRefError(`--grid ${text}: value '${v.join("/")}' has ${v.length} part(s); expected ${keyTexts.length} (one per key: ${keyTexts.join("/")})`);
  }
  const keys = keyTexts.map((k, i) => parseSetting(`${k}=${values[0][i]}`)[0]);
  for (const v of values) v.forEach((x, i) => parseSetting(`${keys[i]}=${x}`));
  if (new Set(keys).size !== keys.length) throw new DinoRefError(`--grid ${text}: a key appears twice`);
  return { keys, values };
}

/** Every combination of one value per axis, the first axis varying slowest, as KEY=VALUE texts. */
export function gridPoints(axes: readonly GridAxis[]): string[][] {
  let points: string[][] = [[]];
  for (const axis of axes) {
    points = points.flatMap((p) => axis.values.map((v) => [...p, ...v.map((x, i) => `${axis.keys[i]}=${x}`)]));
  }
  return points;
}

/** `base` with the KEY=VALUE settings applied in order, checked. */
export function configAt(base: TrainConfig, settings: readonly string[]): TrainConfig {
  const c: TrainConfig = { ...base, ...Object.fromEntries(settings.map(parseSetting)) };
  validateConfig(c, `sweep point ${settings.join(" ") || "(base)"}`);
  return c;
}

/** A folder name for a run: its number and its settings, with anything unusual replaced by '-'. */
export function runName(index: number, settings: readonly string[]): string {
  const text = settings.join("_").replace(/[[\]]/g, "").replace(/[^A-Za-z0-9=._+-]/g, "-");
  return `${String(index + 1).padStart(2, "0")}${text ? `_${text}` : ""}`;
}

/** The row of a finished run. */
function rowOf(name: string, settings: string[], c: TrainConfig, s: Summary, segmentation: SweepSegmentation | null, reused: boolean): SweepRow {
  const gain = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? null : a - b);
  const perStep = trainStepFlops(c) / 1e9;
  const sig = s.final_signals;
  return {
    name, settings, steps: s.steps, gflopPerStep: perStep, gflop: perStep * s.steps, trainSeconds: s.train_seconds, seconds: s.seconds,
    imagesPerSecond: (s.steps * c.batchSize) / s.train_seconds,
    teacher: s.knn_top1 ?? null, student: s.knn_top1_student ?? null, init: s.knn_top1_random_init ?? null, pixels: s.knn_top1_raw_pixels ?? null,
    gainTeacher: gain(s.knn_top1, s.knn_top1_random_init), gainStudent: gain(s.knn_top1_student, s.knn_top1_random_init), evalImages: s.eval_images ?? null,
    finalLoss: s.final_loss, teacherEntropy: sig?.teacherEntropy ?? null, lnK: sig?.lnK ?? null, kl: sig?.kl ?? null, collapseWarnings: s.collapse_warnings, segmentation, reused,
  };
}

/** What a finished run was asked to do (written beside its summary; a rerun reuses the run when it matches). */
function runRequest(c: TrainConfig, budget: SweepBudget): string {
  return JSON.stringify({ config: c, steps: budget.steps ?? null, seconds: budget.seconds ?? null, evalLimit: budget.evalLimit ?? 0, skipEval: budget.skipEval === true, segmentCount: budget.segmentCount ?? 0 });
}

/** The segmentation from attention of a run's trained teacher, on a data set with masks (data/maskedDatasets.ts); else null. */
function segmentationOf(c: TrainConfig, checkpoint: string, count: number | undefined): SweepSegmentation | null {
  if (!Object.hasOwn(MASKED_DATASETS, c.dataset)) return null;
  const be = selectedBackend();
  const { backbone, cfg } = loadBackbone(be, checkpoint, "teacher");
  const test = maskedDataset(c.dataset, c.seed).test;
  const s = segmentationScores(be, backbone, cfg, test, classInterleaved(test, count ?? test.length), 0.6);
  return { images: s.images, bestHead: s.bestHead, best: s.best, chance: s.chance, meanMap: s.meanAttention };
}

export type SweepEvent = { kind: "note"; text: string } | { kind: "run"; index: number; count: number; name: string; reused: boolean } | { kind: "train"; index: number; event: RunEvent } | { kind: "row"; row: SweepRow };

/**
 * Trains `base` at every grid point with `budget`, each run in outDir/NAME (checkpoint, metrics,
 * summary), and writes outDir/sweep.md and outDir/sweep.json after every run. A run whose folder
 * holds a summary of the same request (config and budget) is read back instead of trained again
 * (a time budget makes runs machine-dependent: such a run is reused as it was measured).
 */
export function runSweep(base: TrainConfig, axes: readonly GridAxis[], budget: SweepBudget, outDir: string, report: (e: SweepEvent) => void = () => {}, command = ""): SweepRow[] {
  const points = gridPoints(axes);
  const configs = points.map((p) => configAt(base, p)); // every point checked before the first run
  const stops = new Set(configs.map((c) => c.stopAfterSteps).filter((s) => s > 0 && budget.steps !== undefined && s < budget.steps));
  if (stops.size > 0) report({ kind: "note", text: `stopAfterSteps ${[...stops].join(", ")} is below --steps ${budget.steps}: those runs stop there (--set stopAfterSteps=0 lifts it)` });
  mkdirSync(outDir, { recursive: true });
  const rows: SweepRow[] = [];
  const baselines = new Map<string, number>();
  configs.forEach((c, i) => {
    const name = runName(i, points[i]);
    const dir = join(outDir, name);
    const request = runRequest(c, budget);
    const requestPath = join(dir, "sweep-run.json");
    const reused = existsSync(requestPath) && existsSync(join(dir, "summary.json")) && readFileSync(requestPath, "utf8") === request;
    report({ kind: "run", index: i, count: configs.length, name, reused });
    const segmentationPath = join(dir, "segmentation.json");
    let summary: Summary;
    let segmentation: SweepSegmentation | null;
    if (reused) {
      summary = JSON.parse(readFileSync(join(dir, "summary.json"), "utf8")) as Summary;
      segmentation = existsSync(segmentationPath) ? (JSON.parse(readFileSync(segmentationPath, "utf8")) as SweepSegmentation) : null;
    } else {
      summary = runTraining(c, { outDir: dir, steps: budget.steps, maxSeconds: budget.seconds, skipEval: budget.skipEval, evalLimit: budget.evalLimit, baselines, report: (event) => report({ kind: "train", index: i, event }) });
      segmentation = segmentationOf(c, join(dir, "checkpoint.safetensors"), budget.segmentCount);
      if (segmentation !== null) writeFileAtomic(segmentationPath, new TextEncoder().encode(JSON.stringify(segmentation, null, 2) + "\n"));
      writeFileAtomic(requestPath, new TextEncoder().encode(request));
    }
    const row = rowOf(name, points[i], c, summary, segmentation, reused);
    rows.push(row);
    report({ kind: "row", row });
    writeFileAtomic(join(outDir, "sweep.json"), new TextEncoder().encode(JSON.stringify({ command, budget, base, rows }, null, 2) + "\n"));
    writeFileAtomic(join(outDir, "sweep.md"), new TextEncoder().encode(sweepMarkdown(rows, budget, command)));
  });
  return rows;
}

const fixed = (x: number | null, digits = 2) => (x === null || !Number.isFinite(x) ? "–" : x.toFixed(digits));
const signed = (x: number | null) => (x === null ? "–" : `${x >= 0 ? "+" : ""}${x.toFixed(2)}`);

/** The sweep table in markdown, one row per run, with the command and budget above it. */
export function sweepMarkdown(rows: readonly SweepRow[], budget: SweepBudget, command = ""): string {
  const limits = [budget.steps !== undefined ? `${budget.steps} iterations` : null, budget.seconds !== undefined ? `${budget.seconds} s of training` : null].filter((x) => x !== null);
  const evalText = budget.skipEval ? "no k-NN evaluation" : budget.evalLimit ? `k-NN on every n-th image (at most ${budget.evalLimit} held out)` : "k-NN on the full splits";
  const seg = rows.some((r) => r.segmentation !== null);
  const lines = [
    "# dino-ref sweep",
    "",
    ...(command ? ["```", command, "```", ""] : []),
    `Budget per run: ${limits.length ? limits.join(", at most ") : "the config's own (stopAfterSteps or every epoch)"}; ${evalText}. Δ = k-NN top-1 minus the same net at init (points). GFLOP: backbone arithmetic (src/train/stepFlops.ts); seconds and images/s depend on the machine and its load.`,
    "",
    ...(seg ? ["Attention: the trained teacher's last-block CLS attention, masks keeping 60% of the mass (`dino-ref segment`), mean Jaccard against the ground truth of the best head (its number), the chance level of its masks, and the head-mean map.", ""] : []),
    `| run | settings | steps | GFLOP/step | train s | img/s | teacher | student | init | Δ teacher | Δ student | Δ teacher / 100 GFLOP | entropy (ln K) | KL | final loss | collapse warnings |${seg ? " best head (chance) | head-mean map |" : ""}`,
    `| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |${seg ? " --- | ---: |" : ""}`,
  ];
  for (const r of rows) {
    const perGflop = r.gainTeacher === null || r.gflop === 0 ? null : (100 * r.gainTeacher) / r.gflop;
    lines.push(
      `| ${r.name}${r.reused ? " (reused)" : ""} | ${r.settings.join(" ") || "(base)"} | ${r.steps} | ${fixed(r.gflopPerStep, 2)} | ${fixed(r.trainSeconds, 0)} | ${fixed(r.imagesPerSecond, 0)} | ${fixed(r.teacher)} | ${fixed(r.student)} | ${fixed(r.init)} | ${signed(r.gainTeacher)} | ${signed(r.gainStudent)} | ${fixed(perGflop, 3)} | ${fixed(r.teacherEntropy, 3)} (${fixed(r.lnK, 3)}) | ${r.kl === null ? "–" : r.kl.toPrecision(3)} | ${fixed(r.finalLoss, 3)} | ${r.collapseWarnings} |${seg ? ` ${segText(r.segmentation)}` : ""}`,
    );
  }
  return lines.join("\n") + "\n";
}

/** The segmentation cells of a row: "0.177 (head 0; chance 0.095) | 0.104 |". */
function segText(s: SweepSegmentation | null): string {
  return s === null ? "– | – |" : `${s.best.toFixed(3)} (head ${s.bestHead}; chance ${s.chance.toFixed(3)}) | ${s.meanMap.toFixed(3)} |`;
}
