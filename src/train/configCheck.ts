// Checking a training config: what every field may hold (its kind — integer, number, boolean, one
// of a list, a text, a [min, max] range — and its bounds), and the fields that must fit together.
// `--set KEY=VALUE`, `--config FILE.json`, the config recorded in a checkpoint and the presets are
// all checked against this one table, so a wrong key or value is one line naming the key and what
// is allowed.

import { normalize, resolve } from "node:path";
import { DinoRefError } from "../tensor/errors.js";
import { DATASET_NAMES } from "../data/splits.js";
import { AUGMENTATION_NAMES } from "../data/multiCrop.js";
import { KNN_FEATURES } from "../eval/knnFeatures.js";
import type { TrainConfig } from "./config.js";

type Field =
  | { kind: "integer"; min: number; max?: number }
  | { kind: "number"; min?: number; max?: number; above?: number; below?: number }
  | { kind: "boolean" }
  | { kind: "choice"; values: readonly string[] }
  | { kind: "text" }
  | { kind: "range"; above: number; max: number };

const INT = (min: number, max?: number): Field => ({ kind: "integer", min, max });

/** Every TrainConfig field with what it may hold (src/train/config.ts says what each one means). */
export const CONFIG_FIELDS: { readonly [K in keyof TrainConfig]: Field } = {
  dataset: { kind: "choice", values: DATASET_NAMES },
  dataPath: { kind: "text" },
  skipBad: { kind: "boolean" },
  trainLimit: INT(0),
  patchSize: INT(1, 1024),
  embedDim: INT(1, 65536),
  depth: INT(1, 1024),
  numHeads: INT(1, 65536),
  mlpRatio: { kind: "number", above: 0, max: 64 },
  dropPathRate: { kind: "number", min: 0, below: 1 },
  outDim: INT(1, 1 << 20),
  hiddenDim: INT(1, 1 << 20),
  bottleneckDim: INT(1, 1 << 20),
  headLayers: INT(1, 64),
  normLastLayer: { kind: "boolean" },
  globalSize: INT(1, 4096),
  localSize: INT(1, 4096),
  localCrops: INT(0, 64),
  globalScale: { kind: "range", above: 0, max: 1 },
  localScale: { kind: "range", above: 0, max: 1 },
  augmentation: { kind: "choice", values: AUGMENTATION_NAMES },
  batchSize: INT(1, 65536),
  epochs: INT(1, 1_000_000),
  stopAfterSteps: INT(0),
  lr: { kind: "number", above: 0 },
  minLr: { kind: "number", min: 0 },
  warmupEpochs: INT(0),
  weightDecay: { kind: "number", min: 0 },
  weightDecayEnd: { kind: "number", min: 0 },
  clipGrad: { kind: "number", min: 0 },
  freezeLastLayer: INT(0),
  momentumTeacher: { kind: "number", min: 0, max: 1 },
  teacherTemp: { kind: "number", above: 0 },
  warmupTeacherTemp: { kind: "number", above: 0 },
  warmupTeacherTempEpochs: INT(0),
  studentTemp: { kind: "number", above: 0 },
  centerMomentum: { kind: "number", min: 0, max: 1 },
  centering: { kind: "boolean" },
  knnFeatures: { kind: "choice", values: KNN_FEATURES },
  knnK: INT(1),
  knnTemperature: { kind: "number", above: 0 },
  knnEveryEpochs: INT(0),
  seed: INT(0),
};

export const CONFIG_KEYS = Object.keys(CONFIG_FIELDS) as (keyof TrainConfig)[];

/** What a field allows, in words ("an integer in [1, 1024]", "true or false", ...). */
export function allowed(f: Field): string {
  switch (f.kind) {
    case "integer":
      return f.max === undefined ? `an integer ≥ ${f.min}` : `an integer in [${f.min}, ${f.max}]`;
    case "number": {
      const lo = f.above !== undefined ? `> ${f.above}` : f.min !== undefined ? `≥ ${f.min}` : null;
      const hi = f.below !== undefined ? `< ${f.below}` : f.max !== undefined ? `≤ ${f.max}` : null;
      return `a number${lo ? ` ${lo}` : ""}${lo && hi ? " and" : ""}${hi ? ` ${hi}` : ""}`;
    }
    case "boolean":
      return "true or false";
    case "choice":
      return `one of ${f.values.join(", ")}`;
    case "text":
      return "a text";
    case "range":
      return `two numbers [min, max] with ${f.above} < min ≤ max ≤ ${f.max}`;
  }
}

/** Whether `v` is a value the field allows. */
function fits(f: Field, v: unknown): boolean {
  const num = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);
  switch (f.kind) {
    case "integer":
      return num(v) && Number.isSafeInteger(v) && v >= f.min && (f.max === undefined || v <= f.max);
    case "number":
      return num(v) && (f.above === undefined || v > f.above) && (f.min === undefined || v >= f.min) && (f.below === undefined || v < f.below) && (f.max === undefined || v <= f.max);
    case "boolean":
      return typeof v === "boolean";
    case "choice":
      return typeof v === "string" && f.values.includes(v);
    case "text":
      return typeof v === "string";
    case "range":
      return Array.isArray(v) && v.length === 2 && num(v[0]) && num(v[1]) && v[0] > f.above && v[0] <= v[1] && v[1] <= f.max;
  }
}

/** The field of `key`, or an error naming the known keys. `where` says where the key came from. */
function fieldOf(key: string, where: string): Field {
  if (!Object.hasOwn(CONFIG_FIELDS, key)) throw new DinoRefError(`${where}: unknown config key '${key}' (known: ${CONFIG_KEYS.join(", ")})`);
  return CONFIG_FIELDS[key as keyof TrainConfig];
}

/** Throws, naming the key and what is allowed, unless `value` fits the field of `key`. */
export function checkField(key: string, value: unknown, where: string): void {
  const f = fieldOf(key, where);
  if (!fits(f, value)) throw new DinoRefError(`${where}: config ${key} = ${JSON.stringify(value) ?? String(value)}; expected ${allowed(f)}`);
}

/** `KEY=VALUE` of `--set` as a typed [key, value]: numbers, true/false, and ranges as `MIN,MAX`. */
export function parseSetting(text: string): [keyof TrainConfig, unknown] {
  const eq = text.indexOf("=");
  if (eq <= 0) throw new DinoRefError(`--set ${/^[\x21-\x7e]+$/.test(text) ? text : JSON.stringify(text)}: expected KEY=VALUE (keys: ${CONFIG_KEYS.join(", ")})`);
  const key = text.slice(0, eq);
  const raw = text.slice(eq + 1);
  const f = fieldOf(key, "--set");
  const where = `--set ${key}`;
  const number = (s: string) => (s.trim() === "" ? NaN : Number(s));
  let value: unknown;
  switch (f.kind) {
    case "integer":
    case "number":
      value = number(raw);
      break;
    case "boolean":
      value = raw === "true" ? true : raw === "false" ? false : raw;
      break;
    case "range":
      value = raw.replace(/^\[|\]$/g, "").split(",").map(number);
      break;
    default:
      value = raw;
  }
  if (!fits(f, value)) throw new DinoRefError(`${where}=${JSON.stringify(raw).slice(1, -1)}: expected ${allowed(f)}`);
  return [key as keyof TrainConfig, value];
}

/** A partial config from parsed JSON (a `--config` file, or a checkpoint's metadata), every key and value checked. */
export function partialConfig(json: unknown, where: string): Partial<TrainConfig> {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new DinoRefError(`${where}: expected a JSON object of config keys (got ${Array.isArray(json) ? "an array" : json === null ? "null" : typeof json})`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    checkField(key, value, where);
    out[key] = value;
  }
  return out as Partial<TrainConfig>;
}

/**
 * Throws a DinoRefError naming the first setting that cannot work: a field outside what
 * configFields.ts allows, or fields that do not fit together. `where` says where the config came from.
 */
export function validateConfig(c: TrainConfig, where = "config"): void {
  for (const key of CONFIG_KEYS) checkField(key, c[key], where);
  for (const key of Object.keys(c)) if (!Object.hasOwn(CONFIG_FIELDS, key)) checkField(key, undefined, where);
  if (c.dataset === "folder" && c.dataPath === "") throw new DinoRefError(`${where}: dataset 'folder' needs a dataPath (--data DIR)`);
  if (c.embedDim % c.numHeads !== 0) throw new DinoRefError(`${where}: embedDim ${c.embedDim} is not divisible by numHeads ${c.numHeads}`);
  if (c.globalSize % c.patchSize !== 0 || c.localSize % c.patchSize !== 0) {
    throw new DinoRefError(`${where}: crop sizes ${c.globalSize} and ${c.localSize} must be multiples of patchSize ${c.patchSize}`);
  }
  if (c.warmupEpochs > c.epochs) throw new DinoRefError(`${where}: warmupEpochs ${c.warmupEpochs} is longer than training (${c.epochs} epochs)`);
  if (c.warmupTeacherTempEpochs > c.epochs) {
    throw new DinoRefError(`${where}: warmupTeacherTempEpochs ${c.warmupTeacherTempEpochs} is longer than training (${c.epochs} epochs)`);
  }
}

/** A data folder path in one spelling: `DIR/`, `DIR//` and `./DIR` are `DIR` (path.normalize, no trailing separator). */
export function normalizeDataPath(path: string): string {
  if (path === "") return path;
  const n = normalize(path);
  return n.length > 1 ? n.replace(/[\\/]+$/, "") : n;
}

/**
 * The first field in which two configs differ, as "lr = 0.01 (this run: 0.1)", or null when they
 * are the same run. Data paths are compared as the folders they name from the current folder
 * (`DIR/`, `./DIR` and its absolute path are the same). `a` is the recorded config, `b` this run's.
 */
export function configDifference(a: TrainConfig, b: TrainConfig): string | null {
  const folder = (p: string) => (p === "" ? p : resolve(p));
  for (const key of CONFIG_KEYS) {
    const same = key === "dataPath" ? folder(a.dataPath) === folder(b.dataPath) : JSON.stringify(a[key]) === JSON.stringify(b[key]);
    if (!same) return `${key} = ${JSON.stringify(a[key])} (this run: ${JSON.stringify(b[key])})`;
  }
  return null;
}
