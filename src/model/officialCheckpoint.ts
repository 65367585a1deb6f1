// The official checkpoints as named tensors and back, the mapping reference-tests/convert_checkpoint.py
// documents: a state_dict of tensors (a released backbone such as dino_deitsmall16_pretrain.pth,
// or a Hugging Face pytorch_model.bin) keeps its keys; a main_dino.py training checkpoint
// {student, teacher, optimizer, epoch, args, dino_loss[, fp16_scaler]} becomes `student.<key>` and
// `teacher.<key>` (DistributedDataParallel's `module.` stripped and recorded), `center` from
// dino_loss, and metadata epoch, args (JSON of vars(args)) and `dropped` (the optimizer, whose
// AdamW state is keyed by parameter index, and fp16_scaler). The way back rebuilds what the
// official restart_from_checkpoint and evaluation scripts load.

import { DinoRefError } from "../tensor/errors.js";
import type { StTensor } from "../io/safetensors.js";
import { PyDict, PyObject, type PyValue, typeName } from "../io/pickle.js";
import { pyJsonDumps, pyJsonLoads } from "../io/pyJson.js";
import { tensorOf, torchTensor } from "../io/torchFile.js";
import { hasSides } from "./stateDict.js";

/** A weights file's content: tensors in file order and string metadata (a safetensors file's model). */
export interface NamedWeights {
  tensors: Map<string, StTensor>;
  metadata: Record<string, string>;
}

/** Metadata `source` of a converted .pth (reference-tests/convert_checkpoint.py names itself there instead). */
export const CONVERTED_SOURCE = "facebookresearch/dino checkpoint (converted by dino-ref convert)";
/** The dino-ref training checkpoint format (src/train/checkpoint.ts writes it). */
const DINO_REF_CHECKPOINT = "dino-ref-checkpoint/1";

/** The entries of a dict with string keys. */
function stringEntries(d: PyDict, what: string, source: string): [string, PyValue][] {
  return [...d.map].map(([k, v]) => {
    if (typeof k !== "string") throw new DinoRefError(`${source}: ${what} has a ${typeName(k)} key ${String(k)}; expected str keys`);
    return [k, v];
  });
}

/** A dict whose values are all tensors, as named tensors; null when it is not one (or is empty). */
function stateDict(v: PyValue | undefined, what: string, source: string): Map<string, StTensor> | null {
  if (!(v instanceof PyDict) || v.map.size === 0) return null;
  const out = new Map<string, StTensor>();
  for (const [k, x] of stringEntries(v, what, source)) {
    const t = tensorOf(x);
    if (t === null) return null;
    out.set(k, t);
  }
  return out;
}

/** An official checkpoint object (what torch.load returns) → named tensors and metadata. */
export function checkpointToTensors(value: PyValue, source: string): NamedWeights {
  const metadata: Record<string, string> = { format: "pt", source: CONVERTED_SOURCE };
  const plain = stateDict(value, "the state_dict", source);
  if (plain !== null) {
    metadata.kind = "state_dict";
    return { tensors: plain, metadata };
  }
  const top = value instanceof PyDict ? new Map(stringEntries(value, "the checkpoint", source)) : null;
  if (top === null || !top.has("student") || !top.has("teacher")) {
    const what = top === null ? `a ${typeName(value)}` : `a dict with keys ${[...top.keys()].slice(0, 8).join(", ")}`;
    throw new DinoRefError(`${source}: not an official DINO checkpoint: expected a state_dict of tensors or a main_dino.py checkpoint {student, teacher, ...}; found ${what}`);
  }
  const tensors = new Map<string, StTensor>();
  for (const net of ["student", "teacher"] as const) {
    const sd = stateDict(top.get(net), `'${net}'`, source);
    if (sd === null) throw new DinoRefError(`${source}: '${net}' is a ${typeName(top.get(net)!)}, not a state_dict of tensors`);
    // DistributedDataParallel's prefix: stripped from every key that has it, recorded when all had it
    const all = [...sd.keys()].every((k) => k.startsWith("module."));
    metadata[`${net}_prefix`] = all ? "module." : "";
    for (const [k, t] of sd) tensors.set(`${net}.${k.startsWith("module.") ? k.slice("module.".length) : k}`, t);
  }
  metadata.kind = "training_checkpoint";
  const loss = top.get("dino_loss");
  const center = loss instanceof PyDict ? loss.map.get("center") : undefined;
  if (center !== undefined) {
    const t = tensorOf(center);
    if (t === null) throw new DinoRefError(`${source}: dino_loss.center is a ${typeName(center)}, not a tensor`);
    tensors.set("center", t);
  }
  const epoch = top.get("epoch");
  if (epoch !== undefined) {
    if (typeof epoch !== "bigint" && typeof epoch !== "number") throw new DinoRefError(`${source}: epoch is a ${typeName(epoch)}, expected an int`);
    metadata.epoch = typeof epoch === "bigint" ? epoch.toString() : String(Math.trunc(epoch));
  }
  const args = top.get("args");
  if (args !== undefined && args !== null) {
    const fields = args instanceof PyObject ? args.attrs : args instanceof PyDict ? args : null;
    if (fields === null) throw new DinoRefError(`${source}: args is a ${typeName(args)}, expected an argparse.Namespace or a dict`);
    metadata.args = pyJsonDumps(fields);
  }
  const written = new Set(["student", "teacher", "epoch", "args", "dino_loss"]);
  metadata.dropped = [...top.keys()].filter((k) => !written.has(k)).sort().join(", ");
  return { tensors, metadata };
}

/**
 * Named tensors → the object torch.save writes: a training checkpoint {student, teacher, epoch,
 * args, dino_loss} when there are `student.` and `teacher.` keys (a dino-ref checkpoint's AdamW
 * moments `optimizer.*` are dropped: the official optimizer state is keyed by parameter index),
 * else an OrderedDict state_dict. `notes` hears what was dropped.
 */
export function tensorsToCheckpoint(w: NamedWeights, source: string, notes: string[]): PyValue {
  if (!hasSides(w.tensors.keys())) {
    const sd = new PyDict(true);
    for (const [k, t] of w.tensors) sd.map.set(k, torchTensor(t));
    return sd;
  }
  const ckpt = new PyDict(true);
  for (const [net, defaultPrefix] of [["student", "module."], ["teacher", ""]] as const) {
    const prefix = w.metadata[`${net}_prefix`] ?? defaultPrefix;
    const sd = new PyDict(true);
    for (const [k, t] of w.tensors) if (k.startsWith(`${net}.`)) sd.map.set(prefix + k.slice(net.length + 1), torchTensor(t));
    ckpt.map.set(net, sd);
  }
  let others = [...w.tensors.keys()].filter((k) => !k.startsWith("student.") && !k.startsWith("teacher.") && k !== "center");
  if (w.metadata.format === DINO_REF_CHECKPOINT) {
    const moments = others.filter((k) => k.startsWith("optimizer."));
    others = others.filter((k) => !k.startsWith("optimizer."));
    if (moments.length > 0) notes.push(`dropped ${moments.length} optimizer.* tensors (AdamW moments, keyed by name here and by index in PyTorch; the official resume restarts them, as restart_from_checkpoint does when 'optimizer' is absent)`);
    if (w.metadata.config !== undefined) notes.push("dropped the dino-ref training config (metadata 'config'; main_dino.py takes its arguments from its command line)");
  }
  if (others.length > 0) throw new DinoRefError(`${source}: unexpected keys beside student.*, teacher.* and center: ${others.slice(0, 5).join(", ")}`);
  if (w.metadata.epoch !== undefined) {
    if (!/^-?\d+$/.test(w.metadata.epoch)) throw new DinoRefError(`${source}: metadata epoch '${w.metadata.epoch}' is not an integer`);
    ckpt.map.set("epoch", BigInt(w.metadata.epoch));
  }
  if (w.metadata.args !== undefined) {
    const fields = pyJsonLoads(w.metadata.args, `${source}: metadata args`);
    if (!(fields instanceof PyDict)) throw new DinoRefError(`${source}: metadata args is a JSON ${typeName(fields)}, expected an object`);
    const ns = new PyObject("argparse.Namespace");
    for (const [k, v] of fields.map) ns.attrs.map.set(k, v);
    ckpt.map.set("args", ns);
  }
  const center = w.tensors.get("center");
  if (center !== undefined) {
    const loss = new PyDict(true);
    loss.map.set("center", torchTensor(center));
    ckpt.map.set("dino_loss", loss);
  }
  return ckpt;
}
