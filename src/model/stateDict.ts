// Matching the tensors of a weights file to a model's parameters by official state_dict key. The
// official files come with prefixes: `module.` (DistributedDataParallel), `backbone.` / `head.`
// (MultiCropWrapper), and full training checkpoints hold `student` and `teacher` state dicts
// (our converter writes them as `student.` / `teacher.` prefixes). This file strips what applies
// and reports, key by key, what is missing, what is unexpected and why.

import { DinoRefError } from "../tensor/errors.js";
import type { StTensor } from "../io/safetensors.js";
import { numel } from "../tensor/named.js";
import type { ParamSpec } from "./params.js";

export type Side = "teacher" | "student";

export interface StateDictMatch {
  /** Model parameter name → the file's tensor. */
  tensors: Map<string, StTensor>;
  /** Model parameters the file does not have. */
  missing: string[];
  /** File keys not used, each with the reason. */
  unexpected: { key: string; why: string }[];
}

/** Whether a file holds both sides of a training checkpoint (keys under `student.` and `teacher.`). */
export function hasSides(keys: Iterable<string>): boolean {
  let student = false;
  let teacher = false;
  for (const k of keys) {
    if (k.startsWith("student.")) student = true;
    if (k.startsWith("teacher.")) teacher = true;
  }
  return student && teacher;
}

/**
 * The name of a file key inside one network, with the wrappers the official files add removed:
 * the `student.` / `teacher.` side of a training checkpoint (when the file has sides) and
 * DistributedDataParallel's `module.`. Null for a key of the other side.
 */
export function networkKey(key: string, side: Side, sided: boolean): string | null {
  let name = key;
  if (sided) {
    const other: Side = side === "teacher" ? "student" : "teacher";
    if (name.startsWith(`${other}.`)) return null;
    if (name.startsWith(`${side}.`)) name = name.slice(side.length + 1);
  }
  return name.replace(/^module\./, "");
}

/** One network of a file (the teacher by default), its keys as networkKey gives them, split into backbone (no `backbone.`) and head (no `head.`). */
export function networkTensors(file: ReadonlyMap<string, StTensor>, side: Side = "teacher"): { all: Map<string, StTensor>; backbone: Map<string, StTensor>; head: Map<string, StTensor> } {
  const sided = hasSides(file.keys());
  const all = new Map<string, StTensor>();
  for (const [key, t] of file) {
    if (sided && !key.startsWith(`${side}.`)) continue;
    const name = networkKey(key, side, sided);
    if (name !== null) all.set(name, t);
  }
  const backbone = new Map<string, StTensor>();
  const head = new Map<string, StTensor>();
  for (const [name, t] of all) {
    if (name.startsWith("head.")) head.set(name.slice("head.".length), t);
    else backbone.set(name.replace(/^backbone\./, ""), t);
  }
  return { all, backbone, head };
}

/**
 * Maps the file's tensors onto `specs` (names like `cls_token` for a backbone, or
 * `backbone.cls_token` / `head.mlp.0.weight` for a whole DINO model). `side` picks the teacher
 * (default: the weights the official evaluations use) or the student of a training checkpoint.
 */
export function matchStateDict(file: ReadonlyMap<string, StTensor>, specs: readonly ParamSpec[], source: string, side: Side = "teacher"): StateDictMatch {
  const wanted = new Map(specs.map((s) => [s.name, s]));
  const tensors = new Map<string, StTensor>();
  const unexpected: { key: string; why: string }[] = [];
  const sided = hasSides(file.keys());
  const modelHasHead = specs.some((s) => s.name.startsWith("head."));

  for (const [key, t] of file) {
    const name = networkKey(key, side, sided);
    // the other side of a training checkpoint: not asked for
    if (name === null) continue;
    if (sided && !key.startsWith(`${side}.`)) {
      unexpected.push({ key, why: `not a ${side} weight (training checkpoint state: ${key.split(".")[0]})` });
      continue;
    }
    let target: string | undefined;
    if (wanted.has(name)) target = name;
    else if (name.startsWith("backbone.") && wanted.has(name.slice("backbone.".length))) target = name.slice("backbone.".length);
    else if (wanted.has(`backbone.${name}`)) target = `backbone.${name}`;
    if (target === undefined) {
      const why = name.startsWith("head.") && !modelHasHead ? "a DINO head weight; this model is a backbone only" : "no parameter of this model has that name";
      unexpected.push({ key, why });
      continue;
    }
    const spec = wanted.get(target)!;
    if (t.dtype !== "F32") throw new DinoRefError(`${source}: tensor ${key} has dtype ${t.dtype}; expected F32 for parameter ${target}`);
    if (t.shape.length !== spec.shape.length || t.shape.some((d, i) => d !== spec.shape[i])) {
      throw new DinoRefError(`${source}: tensor ${key} has shape [${t.shape.join(", ")}]; parameter ${target} of this model expects [${spec.shape.join(", ")}]`);
    }
    if (tensors.has(target)) throw new DinoRefError(`${source}: two tensors map to parameter ${target} (${key} is the second)`);
    tensors.set(target, t);
  }
  const missing = specs.filter((s) => !tensors.has(s.name)).map((s) => s.name);
  return { tensors, missing, unexpected };
}

/** Copies matched tensors into `params`; throws, naming the keys, if any parameter is missing. */
export function loadMatched(match: StateDictMatch, specs: readonly ParamSpec[], param: (name: string) => { data: Float32Array | Float64Array }, source: string): void {
  if (match.missing.length > 0) {
    const shown = match.missing.slice(0, 8).map((n) => {
      const s = specs.find((p) => p.name === n)!;
      return `${n} [${s.shape.join(", ")}]`;
    });
    throw new DinoRefError(`${source}: missing ${match.missing.length} parameter(s) of this model: ${shown.join(", ")}${match.missing.length > 8 ? ", ..." : ""}`);
  }
  for (const spec of specs) {
    const t = match.tensors.get(spec.name)!;
    const target = param(spec.name).data;
    if (target.length !== numel(spec.shape)) throw new Error(`parameter ${spec.name}: storage has ${target.length} values`);
    target.set(t.data as Float32Array);
  }
}
