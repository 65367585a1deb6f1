// Any weights file as named tensors: safetensors (ours, the Python converter's, Hugging Face's)
// or a PyTorch file (.pth / .pt / .bin, read by the restricted unpickler; a training checkpoint
// mapped as officialCheckpoint.ts documents), chosen by extension, else by the first bytes. And
// the one rule for numbers: files keep their dtype (F16 stays F16, so conversions are bit for
// bit); the model reads F32, so F16 and BF16 tensors are widened to F32 on loading, which is
// exact (every half and bfloat16 value is a float32 value). Other dtypes are refused for weights.

import { extname } from "node:path";
import { DinoRefError } from "../tensor/errors.js";
import { readWholeFile } from "../io/readFile.js";
import { parseSafetensors, writeSafetensors, type StTensor } from "../io/safetensors.js";
import { readTorchFile, writeTorchFile } from "../io/torchFile.js";
import { isZip } from "../io/zip.js";
import { writeFileAtomic } from "../io/writeFileAtomic.js";
import { checkpointToTensors, tensorsToCheckpoint, type NamedWeights } from "./officialCheckpoint.js";
import { detectLayout, hfToOfficial, type Layout } from "./hfLayout.js";

export type Container = "safetensors" | "torch zip" | "torch legacy";

export interface WeightsFile extends NamedWeights {
  /** What the file was: safetensors, or torch.save's zip or legacy format. */
  container: Container;
  layout: Layout;
}

const TORCH_EXTENSIONS = new Set([".pth", ".pt", ".bin"]);

/** The format a path's extension names, or null for another extension. */
export function formatOfPath(path: string): "safetensors" | "torch" | null {
  const ext = extname(path).toLowerCase();
  return ext === ".safetensors" ? "safetensors" : TORCH_EXTENSIONS.has(ext) ? "torch" : null;
}

/** Reads any weights file (see the header); errors name the path. */
export function readWeightsFile(path: string): WeightsFile {
  const bytes = readWholeFile(path);
  // by extension; an unknown extension by the first bytes (a zip archive or a pickle's PROTO opcode: torch)
  const format = formatOfPath(path) ?? (isZip(bytes) || bytes[0] === 0x80 ? "torch" : "safetensors");
  if (format === "safetensors") {
    const f = parseSafetensors(bytes, path);
    return { tensors: f.tensors, metadata: f.metadata, container: "safetensors", layout: detectLayout(f.tensors.keys()) };
  }
  const torch = readTorchFile(bytes, path);
  const w = checkpointToTensors(torch.value, path);
  return { ...w, container: torch.container === "zip" ? "torch zip" : "torch legacy", layout: detectLayout(w.tensors.keys()) };
}

/** Writes named tensors by the extension of `path`: safetensors, or a torch.save zip archive (.pth / .pt / .bin). Returns notes on what was dropped. */
export function writeWeightsFile(path: string, w: NamedWeights): string[] {
  const format = formatOfPath(path);
  if (format === null) throw new DinoRefError(`${path}: unknown output format; expected .safetensors, .pth, .pt or .bin`);
  if (format === "safetensors") {
    writeSafetensors(path, w.tensors, w.metadata);
    return [];
  }
  const notes: string[] = [];
  writeFileAtomic(path, writeTorchFile(tensorsToCheckpoint(w, path, notes)));
  return notes;
}

// float32 from IEEE half: sign, 5-bit exponent (bias 15), 10-bit fraction; subnormals and Inf/NaN included
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return sign * f * 2 ** -24;
  if (e === 31) return f === 0 ? sign * Infinity : NaN;
  return sign * (1 + f / 1024) * 2 ** (e - 15);
}

/** A tensor as F32: F32 as is, F16 and BF16 widened exactly (bit patterns kept for NaN payloads of BF16); other dtypes refused. */
export function asFloat32(t: StTensor, key: string, source: string): StTensor {
  if (t.dtype === "F32") return t;
  const src = t.data as Uint16Array;
  if (t.dtype === "BF16") {
    // bfloat16 is the high half of a float32
    const bits = new Uint32Array(src.length);
    for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
    return { dtype: "F32", shape: t.shape, data: new Float32Array(bits.buffer) };
  }
  if (t.dtype === "F16") return { dtype: "F32", shape: t.shape, data: Float32Array.from(src, halfToFloat) };
  throw new DinoRefError(`${source}: tensor ${key} has dtype ${t.dtype}; weights must be F32, F16 or BF16`);
}

/**
 * The tensors of a weights file in the official layout, float32: a Hugging Face backbone renamed
 * (hfLayout.ts), F16 / BF16 widened. `notes` says what was done; `unexpected` lists HF keys left out.
 */
export function officialFloat32(w: WeightsFile, source: string): { tensors: Map<string, StTensor>; notes: string[]; unexpected: { key: string; why: string }[] } {
  const notes: string[] = [];
  let tensors = w.tensors;
  let unexpected: { key: string; why: string }[] = [];
  if (w.layout === "hf") {
    ({ tensors, unexpected } = hfToOfficial(w.tensors, source));
    notes.push("Hugging Face layout: renamed to the official keys, query/key/value concatenated into attn.qkv");
  }
  const out = new Map<string, StTensor>();
  const widened = new Set<string>();
  for (const [k, t] of tensors) {
    if (t.dtype === "F16" || t.dtype === "BF16") widened.add(t.dtype);
    // integer and F64 tensors are not weights of this model: kept as they are, for the key matcher to report
    out.set(k, t.dtype === "F16" || t.dtype === "BF16" ? asFloat32(t, k, source) : t);
  }
  if (widened.size > 0) notes.push(`${[...widened].join(" and ")} tensors widened to F32 (exact)`);
  return { tensors: out, notes, unexpected };
}
