// Training checkpoints: one safetensors file with the official state_dict keys under `student.`
// and `teacher.` (so the reference-tests converter turns it into an official checkpoint), the
// centre, AdamW's moments under `optimizer.exp_avg.` / `optimizer.exp_avg_sq.`, and in the
// metadata the config, the iteration and AdamW's per-tensor step counts. Written to a temporary
// file and renamed: a crash never leaves half a checkpoint.

import { readSafetensors, writeSafetensors, tensor, type StTensor } from "../io/safetensors.js";
import { DinoRefError } from "../tensor/errors.js";
import type { TrainState } from "./trainState.js";
import { withDefaults, type TrainConfig } from "./config.js";
import { partialConfig } from "./configCheck.js";

export const CHECKPOINT_FORMAT = "dino-ref-checkpoint/1";

export interface CheckpointPosition {
  /** Iterations done so far (the next one to run). */
  iteration: number;
  /** Epochs completed. */
  epoch: number;
}

export function saveCheckpoint(path: string, config: TrainConfig, state: TrainState, pos: CheckpointPosition): void {
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

/** The config a checkpoint was trained with (fields added to TrainConfig since then take their defaults). */
export function checkpointConfig(path: string): TrainConfig {
  const meta = readSafetensors(path).metadata;
  const c = trainingConfigOf(meta, path);
  if (c === null) throw new DinoRefError(`${path}: not a dino-ref training checkpoint (format ${JSON.stringify(meta.format)}, expected "${CHECKPOINT_FORMAT}")`);
  return c;
}

/** The training config recorded in a file's metadata, or null when the file is not a dino-ref training checkpoint. */
export function trainingConfigOf(metadata: Readonly<Record<string, string>>, source: string): TrainConfig | null {
  if (metadata.format !== CHECKPOINT_FORMAT) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(metadata.config ?? "");
  } catch {
    throw new DinoRefError(`${source}: metadata "config" is not JSON; expected the training configuration as a JSON object`);
  }
  return withDefaults(partialConfig(parsed, `${source}: metadata "config"`));
}

/** Restores a state saved by saveCheckpoint into `state` (same architecture) and returns the position. */
export function loadCheckpoint(path: string, state: TrainState): CheckpointPosition {
  const file = readSafetensors(path);
  const meta = file.metadata;
  if (meta.format !== CHECKPOINT_FORMAT) throw new DinoRefError(`${path}: not a dino-ref training checkpoint (format ${JSON.stringify(meta.format)}, expected "${CHECKPOINT_FORMAT}")`);
  const take = (key: string, shape: readonly number[]): Float32Array => {
    const t = file.tensors.get(key);
    if (t === undefined) throw new DinoRefError(`${path}: tensor ${key} is missing (the architecture in the checkpoint's config needs it)`);
    if (t.dtype !== "F32" || t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new DinoRefError(`${path}: tensor ${key} is ${t.dtype} [${t.shape.join(", ")}]; expected F32 [${shape.join(", ")}] from the architecture in the checkpoint's config (the weights and the recorded config do not match)`);
    }
    return t.data as Float32Array;
  };
  for (const p of state.student.params) p.data.set(take(`student.${p.name}`, p.shape));
  for (const p of state.teacher.params) p.data.set(take(`teacher.${p.name}`, p.shape));
  state.center = take("center", [1, state.center.length]).slice();
  state.optimizer.clear();
  const steps = JSON.parse(meta.optimizer_steps ?? "{}") as Record<string, number>;
  for (const [name, step] of Object.entries(steps)) {
    const shape = state.student.param(name).shape;
    state.optimizer.set(name, { step, expAvg: take(`optimizer.exp_avg.${name}`, shape).slice(), expAvgSq: take(`optimizer.exp_avg_sq.${name}`, shape).slice() });
  }
  return { iteration: Number(meta.iteration), epoch: Number(meta.epoch) };
}
