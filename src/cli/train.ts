// `dino-ref train`: a training run with its progress on the terminal, its summary, and attention
// pictures of the trained teacher on a few held-out images.

import { join } from "node:path";
import { mkdirSync } from "node:fs";
import { DinoRefError } from "../tensor/errors.js";
import { selectedBackend } from "../kernels/backend.js";
import { preset, DEFAULT_PRESET, PRESETS, type TrainConfig } from "../train/config.js";
import { normalizeDataPath, parseSetting, partialConfig, validateConfig } from "../train/configCheck.js";
import { runTraining, type RunEvent, type Summary } from "../train/run.js";
import { datasetSplits } from "../data/splits.js";
import { writePng } from "../data/png.js";
import { loadBackbone } from "../model/loadBackbone.js";
import { writeAttentionPictures } from "../eval/attentionPictures.js";
import { INIT_ARCHITECTURE_FIELDS, readInitSource, type InitSource } from "../train/initFrom.js";
import { integerArg, oneLine } from "./args.js";
import { parseStrictJson } from "../io/strictJson.js";
import { readFileBounded } from "../io/readFile.js";
import type { Io } from "./io.js";

export interface TrainArgs {
  preset?: string;
  out?: string;
  seed?: string;
  epochs?: string;
  steps?: string;
  resume?: boolean;
  data?: string;
  "skip-bad"?: boolean;
  /** `KEY=VALUE` settings of any config field, applied in order after the preset and --config. */
  set?: string[];
  /** A JSON file of config fields applied over the preset. */
  config?: string;
  "no-eval"?: boolean;
  /** Start from the weights of this file (src/train/initFrom.ts). */
  init?: string;
}

/**
 * The config of a run, each layer over the one before: the preset, then the architecture of the
 * --init file, then --config FILE.json, then every --set KEY=VALUE in order, then --seed, --epochs
 * and --data. Every value is checked (src/train/configCheck.ts); a --config or --set value that
 * contradicts the --init file's architecture is an error naming the field.
 */
export function trainConfigFrom(a: TrainArgs, init?: InitSource): TrainConfig {
  const c = preset(a.preset ?? DEFAULT_PRESET);
  const seed = integerArg("seed", a.seed, 0);
  const epochs = integerArg("epochs", a.epochs, 1);
  if (a.epochs !== undefined && a.steps !== undefined) throw new DinoRefError("give --epochs or --steps, not both");
  if (a["skip-bad"] && a.data === undefined) throw new DinoRefError("--skip-bad applies to --data DIR only");
  const fromFile = a.config === undefined ? {} : partialConfig(readJson(a.config), a.config);
  const settings = Object.fromEntries((a.set ?? []).map(parseSetting)) as Partial<TrainConfig>;
  const merged: TrainConfig = {
    ...c,
    ...(init?.architecture ?? {}),
    ...fromFile,
    ...settings,
    ...(seed !== undefined ? { seed } : {}),
    // --epochs asks for whole epochs: the preset's early stop no longer applies
    ...(epochs !== undefined ? { epochs, stopAfterSteps: 0 } : {}),
    ...(a.data !== undefined ? { dataset: "folder" as const, dataPath: normalizeDataPath(a.data), skipBad: a["skip-bad"] === true } : {}),
  };
  if (init !== undefined) {
    const explicit: Partial<TrainConfig> = { ...fromFile, ...settings };
    for (const field of INIT_ARCHITECTURE_FIELDS) {
      const fromInit = init.architecture[field];
      if (fromInit === undefined || init.assumed.includes(field) || explicit[field] === undefined || explicit[field] === fromInit) continue;
      throw new DinoRefError(`train --init ${init.path}: the file's ${field} is ${JSON.stringify(fromInit)} but --config / --set give ${JSON.stringify(explicit[field])} (the architecture comes from the --init file; drop that setting or use another file)`);
    }
    if (merged.embedDim % merged.numHeads !== 0) throw new DinoRefError(`train --init ${init.path}: numHeads ${merged.numHeads} does not divide the file's width ${merged.embedDim}; give the head count with --set numHeads=N`);
    if (explicit.localSize === undefined) merged.localSize = localSizeFor(c, merged.globalSize, merged.patchSize);
  }
  validateConfig(merged, "train");
  return merged;
}

/**
 * The local crop size for the --init file's global size and patch size, when no --set / --config
 * gives one: the preset's local-to-global ratio, rounded down to whole patches (at least one).
 * mnist-tiny's 14 of 28 px → 112 px (7 patches) for a ViT-S/16 at 224 px (the official recipe
 * uses 96), 12 px for a patch-4 net at 28 px.
 */
function localSizeFor(presetConfig: TrainConfig, globalSize: number, patchSize: number): number {
  const scaled = (presetConfig.localSize * globalSize) / presetConfig.globalSize;
  return patchSize * Math.max(1, Math.floor(scaled / patchSize));
}

/** A JSON file, parsed, or a one-line error naming it. */
function readJson(path: string): unknown {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(readFileBounded(path));
  } catch (e) {
    throw new DinoRefError(`--config ${e instanceof DinoRefError ? e.message : `${path}: not UTF-8 text`}`);
  }
  // a config is an object of numbers, texts, booleans and [min, max] ranges; a key given twice is an error
  const json = parseStrictJson(text, 2);
  if (!json.ok) throw new DinoRefError(`--config ${path}: ${json.syntax ? `not valid JSON (${json.why})` : `not acceptable: ${json.why}`}`);
  return json.value;
}

export function trainCommand(a: TrainArgs, io: Io): number {
  if (a.out === undefined) throw new DinoRefError("train: --out DIR is required (checkpoint, metrics and summary go there)");
  const init = a.init === undefined ? undefined : readInitSource(a.init);
  const c = trainConfigFrom(a, init);
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
      case "init":
        io.out(e.record.resumed ? `resumed: the run started from ${e.record.file} (${e.record.kind}); its checkpoint holds those weights, trained since` : `initialised from ${e.record.file} (${e.record.kind}): loaded ${e.record.loaded.join(", ")}; fresh: ${e.record.fresh.join(", ")}`);
        for (const n of e.record.notes) io.err(`note: ${n}`);
        break;
    }
  };
  const noEval = a["no-eval"] === true;
  const summary = runTraining(c, { outDir: a.out, steps, resume: a.resume, report, skipEval: noEval, ...(init ? { init } : {}) });
  io.out(formatSummary(summary, a.out));
  if (!noEval) io.out(`attention maps of the trained teacher: ${writeHeldOutAttention(a.out, c, io)}`);
  return 0;
}

/** Attention pictures of the first held-out image of 3 classes, in DIR/attention; returns the folder. */
function writeHeldOutAttention(outDir: string, c: TrainConfig, io: Io): string {
  const dir = join(outDir, "attention");
  mkdirSync(dir, { recursive: true });
  const be = selectedBackend();
  const { backbone, cfg } = loadBackbone(be, join(outDir, "checkpoint.safetensors"), "teacher");
  const { test } = datasetSplits(c);
  const seen = new Set<number>();
  for (let i = 0; i < test.length && seen.size < 3; i++) {
    const y = test.label(i);
    if (seen.has(y)) continue;
    seen.add(y);
    const path = join(dir, `heldout${i}-${test.classes[y]}.png`);
    writePng(path, test.image(i));
    const written = writeAttentionPictures(be, backbone, cfg, path, dir, 0.6, 0);
    if (written.cropped) io.err(oneLine(written.cropped));
  }
  return dir;
}

/** What the k-NN scored, in words (config knnFeatures). */
function knnFeatureWords(features: TrainConfig["knnFeatures"]): string {
  return features === "cls" ? "CLS features" : "CLS + mean patch token features";
}

export function formatSummary(s: Summary, outDir: string): string {
  const pct = (x: number | undefined) => (x === undefined ? "-" : `${x.toFixed(2)}%`);
  const gain = (s.knn_top1 ?? NaN) - (s.knn_top1_random_init ?? NaN);
  const knnLines = s.evaluation === "k-NN" ? [
    `k-NN top-1 on the held-out images (${knnFeatureWords(s.preset_config.knnFeatures)}, k = ${s.preset_config.knnK}, T = ${s.preset_config.knnTemperature}):`,
    `  trained teacher        ${pct(s.knn_top1)}   (student ${pct(s.knn_top1_student)})`,
    `  same net at init       ${pct(s.knn_top1_random_init)}   (gain ${(gain >= 0 ? "+" : "") + gain.toFixed(2)} points)`,
    ...(s.knn_top1_init_weights !== undefined ? [`  the --init weights     ${pct(s.knn_top1_init_weights)}   (before training)`] : []),
    `  raw pixels             ${pct(s.knn_top1_raw_pixels)}`,
  ] : ["no evaluation (--no-eval): final loss " + s.final_loss.toFixed(4)];
  return [
    "",
    ...knnLines,
    `${s.steps} steps (${s.epochs_completed} epochs) in ${formatSeconds(s.seconds)}; ${outDir}/summary.json, metrics.jsonl, checkpoint.safetensors`,
    ...(s.skipped_images > 0 ? [`warning: ${s.skipped_images} unreadable image(s) were skipped (--skip-bad)`] : []),
  ].join("\n");
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${Math.round(s - 60 * m).toString().padStart(2, "0")}s` : `${s.toFixed(1)}s`;
}

export const PRESET_NAMES = Object.keys(PRESETS);
