// Training checkpoints: one safetensors file with the official state_dict keys under `student.`
// and `teacher.` (so the reference-tests converter turns it into an official checkpoint), the
// centre, AdamW's moments under `optimizer.exp_avg.` / `optimizer.exp_avg_sq.`, and in the
// metadata the config, the iteration and AdamW's per-tensor step counts. Written to a temporary
// file and renamed: a crash never leaves half a checkpoint.

import { readSafetensors, readSafetensorsHeader, writeSafetensors, tensor, type StTensor } from "../io/safetensors.js";
import { brief, parseStrictJson } from "../io/strictJson.js";
import { dinoParamSpecs, isTrainable, type DinoModelConfig } from "../model/dino.js";
import { resolveDinoHeadConfig } from "../model/dinoHead.js";
import { numel } from "../tensor/named.js";
import { DinoRefError } from "../tensor/errors.js";
import { firstNonFinite, type TrainState } from "./trainState.js";
import { withDefaults, type TrainConfig } from "./config.js";
import { partialConfig, validateConfig } from "./configCheck.js";

export const CHECKPOINT_FORMAT = "dino-ref-checkpoint/1";

export interface CheckpointPosition {
  /** Iterations done so far (the next one to run). */
  iteration: number;
  /** Epochs completed. */
  epoch: number;
}

/** About how many bytes a checkpoint of `model` takes: both networks, the centre, two AdamW moments per parameter. */
export function checkpointBytes(model: DinoModelConfig): number {
  const P = dinoParamSpecs(model).reduce((n, s) => n + numel(s.shape), 0);
  return 4 * (4 * P + resolveDinoHeadConfig(model.head).outDim) + 65536;
}

/**
 * Writes the state (atomically). Refuses, naming the tensor, when any value is NaN or infinite: a
 * non-finite tensor never reaches disk, and the previous checkpoint stays as it was.
 */
export function saveCheckpoint(path: string, config: TrainConfig, state: TrainState, pos: CheckpointPosition): void {
  const bad = firstNonFinite(state);
  if (bad !== null) throw new DinoRefError(`${path}: not written: ${bad} (the previous checkpoint is kept)`);
  const entries: [string, StTensor][] = [];
  for (const p of state.student.params) entries.push([`student.${p.name}`, tensor("F32", p.shape, p.data.slice())]);
  for (const p of state.teacher.params) entries.push([`teacher.${p.name}`, tensor("F32", p.shape, p.data.slice())]);
  entries.push(["center", tensor("F32", [1, state.center.length], state.center.slice())]);
  const steps: Record<string, number> = {};
  for (const [name, s] of state.optimizer) {
    const shape = state.student.param(name).shape;
    entries.push([`optimizer.exp_avg.${name}`, tensor("F32", shape, s.expAvg.slice())]);
    entries.push([`optimizer.exp_avg_sq.${name}`, tensor("F32", shape, s.expAvgSq.slice())]);
    steps[name] = s.step;
  }
  writeSafetensors(path, entries, {
    format: CHECKPOINT_FORMAT,
    config: JSON.stringify(config),
    iteration: String(pos.iteration),
    epoch: String(pos.epoch),
    optimizer_steps: JSON.stringify(steps),
  });
}

/** The config a checkpoint was trained with (fields added to TrainConfig since then take their defaults); reads the header only. */
export function checkpointConfig(path: string): TrainConfig {
  const meta = readSafetensorsHeader(path).metadata;
  const c = trainingConfigOf(meta, path);
  if (c === null) throw new DinoRefError(`${path}: not a dino-ref training checkpoint (format ${brief(meta.format ?? null)}, expected "${CHECKPOINT_FORMAT}")`);
  return c;
}

/** The training config recorded in a file's metadata, or null when the file is not a dino-ref training checkpoint. */
export function trainingConfigOf(metadata: Readonly<Record<string, string>>, source: string): TrainConfig | null {
  if (metadata.format !== CHECKPOINT_FORMAT) return null;
  if (metadata.config === undefined) throw new DinoRefError(`${source}: metadata "config" is missing; expected the training configuration as a JSON object`);
  const json = parseStrictJson(metadata.config, 2);
  if (!json.ok) throw new DinoRefError(`${source}: metadata "config" is ${json.syntax ? "not JSON" : `not acceptable (${json.why})`}; expected the training configuration as a JSON object`);
  const c = withDefaults(partialConfig(json.value, `${source}: metadata "config"`));
  validateConfig(c, `${source}: metadata "config"`);
  return c;
}

/** A metadata field that must hold a non-negative integer (written by saveCheckpoint as decimal digits). */
function countField(meta: Readonly<Record<string, string>>, key: string, path: string): number {
  const text = meta[key];
  const n = text !== undefined && /^\d{1,16}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n)) throw new DinoRefError(`${path}: metadata "${key}" is ${text === undefined ? "missing" : brief(text)}; expected a non-negative integer`);
  return n;
}

/** AdamW's per-tensor step counts from the metadata: a JSON object {trainable parameter: integer in [1, iteration]}. */
function optimizerSteps(meta: Readonly<Record<string, string>>, path: string, state: TrainState, iteration: number): Map<string, number> {
  const where = `${path}: metadata "optimizer_steps"`;
  const json = parseStrictJson(meta.optimizer_steps ?? "{}", 1);
  if (!json.ok) throw new DinoRefError(`${where} is ${json.syntax ? `not valid JSON (${json.why})` : `not acceptable: ${json.why}`}`);
  const value = json.value;
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new DinoRefError(`${where}: expected a JSON object {parameter: step count}`);
  const trainable = new Set(state.student.params.filter((p) => isTrainable(p.name, state.model)).map((p) => p.name));
  const steps = new Map<string, number>();
  for (const [name, step] of Object.entries(value)) {
    if (!trainable.has(name)) throw new DinoRefError(`${where}: ${brief(name)} is not a trainable parameter of the model in the checkpoint's config`);
    if (!Number.isSafeInteger(step) || (step as number) < 1 || (step as number) > iteration) {
      throw new DinoRefError(`${where}: ${name} has step count ${brief(step)}; expected an integer in [1, ${iteration}] (the iteration)`);
    }
    steps.set(name, step as number);
  }
  return steps;
}

/**
 * Restores a state saved by saveCheckpoint into `state` (same architecture) and returns the
 * position. Every metadata field is checked, and every tensor must be finite: a checkpoint holding
 * NaN or infinity (in the weights, the centre or AdamW's moments) is refused, naming the tensor.
 */
export function loadCheckpoint(path: string, state: TrainState): CheckpointPosition {
  const file = readSafetensors(path);
  const meta = file.metadata;
  if (meta.format !== CHECKPOINT_FORMAT) throw new DinoRefError(`${path}: not a dino-ref training checkpoint (format ${brief(meta.format ?? null)}, expected "${CHECKPOINT_FORMAT}")`);
  const iteration = countField(meta, "iteration", path);
  const epoch = countField(meta, "epoch", path);
  const take = (key: string, shape: readonly number[]): Float32Array => {
    const t = file.tensors.get(key);
    if (t === undefined) throw new DinoRefError(`${path}: tensor ${key} is missing (the architecture in the checkpoint's config needs it)`);
    if (t.dtype !== "F32" || t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new DinoRefError(`${path}: tensor ${key} is ${t.dtype} [${t.shape.join(", ")}]; expected F32 [${shape.join(", ")}] from the architecture in the checkpoint's config (the weights and the recorded config do not match)`);
    }
    const data = t.data as Float32Array;
    const i = data.findIndex((v) => !Number.isFinite(v));
    if (i >= 0) throw new DinoRefError(`${path}: tensor ${key} holds ${data[i]} at index ${i}; a checkpoint with non-finite values cannot be resumed`);
    return data;
  };
  for (const p of state.student.params) p.data.set(take(`student.${p.name}`, p.shape));
  for (const p of state.teacher.params) p.data.set(take(`teacher.${p.name}`, p.shape));
  state.center = take("center", [1, state.center.length]).slice();
  state.optimizer.clear();
  for (const [name, step] of optimizerSteps(meta, path, state, iteration)) {
    const shape = state.student.param(name).shape;
    state.optimizer.set(name, { step, expAvg: take(`optimizer.exp_avg.${name}`, shape).slice(), expAvgSq: take(`optimizer.exp_avg_sq.${name}`, shape).slice() });
  }
  return { iteration, epoch };
}
