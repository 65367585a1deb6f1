// Strict safetensors reader and writer: 8-byte little-endian header length, a JSON header
// ({name: {dtype, shape, data_offsets}, "__metadata__": {string: string}}), then raw
// little-endian data. The reader rejects, with the file and tensor named, anything that breaks
// the format: a header that runs past the file, non-JSON, unknown dtypes, dtype size × shape not
// equal to the byte range, ranges outside the data, overlapping ranges or holes, a key given twice
// (JSON.parse would keep the last), nesting deeper than a header has. A file's header is checked
// against its size before any tensor data is read.
// F16 and BF16 tensors are held as their raw 16-bit patterns (Uint16Array), BOOL as bytes: this
// layer moves bits, it never converts them (src/model/weightsFile.ts widens F16/BF16 to F32).

import { closeSync } from "node:fs";
import { endianness } from "node:os";
import { DinoRefError } from "../tensor/errors.js";
import { numel } from "../tensor/named.js";
import { writeFileAtomic } from "./writeFileAtomic.js";
import { openRegularFile, readAt } from "./readFile.js";
import { parseStrictJson, brief } from "./strictJson.js";
import { checkMemory } from "../tensor/limits.js";

export type DType = "F32" | "F64" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";
export type TensorData = Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint16Array | Uint8Array;

/** One tensor of a safetensors file: dtype, shape and its data as a typed array of that dtype. */
export interface StTensor {
  dtype: DType;
  shape: number[];
  data: TensorData;
}

export interface SafetensorsFile {
  tensors: Map<string, StTensor>;
  metadata: Record<string, string>;
}

const BYTES: Record<DType, number> = { F32: 4, F64: 8, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export function bytesPerElement(dtype: DType): number {
  return BYTES[dtype];
}

/** A tensor of `dtype` and `shape` from a typed array (checked to have the right length and type). */
export function tensor(dtype: DType, shape: readonly number[], data: TensorData): StTensor {
  const expected = arrayTypeOf(dtype);
  if (!(data instanceof expected)) throw new Error(`tensor: ${dtype} data must be a ${expected.name}`);
  if (data.length !== numel(shape)) throw new Error(`tensor: shape [${shape}] needs ${numel(shape)} elements, got ${data.length}`);
  return { dtype, shape: [...shape], data };
}

/** A tensor's entry in the header: where its bytes are in the data section. */
interface HeaderEntry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

/** What a header says, checked against the size of the data section that follows it. */
export interface SafetensorsHeader {
  entries: HeaderEntry[];
  metadata: Record<string, string>;
  /** Bytes of the data section (the file's size minus 8 minus the header). */
  dataLength: number;
}

/**
 * Checks the 8-byte length and the JSON header (`header` holds its bytes) against a data section of
 * `dataLength` bytes: every entry well formed, no key twice, the byte ranges tiling the data exactly.
 */
function parseHeader(header: Uint8Array, dataLength: number, fail: (what: string) => never): SafetensorsHeader {
  if (header.length < 2 || header[0] !== 0x7b /* { */) fail("the JSON header must start with '{'");
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(header);
  } catch {
    return fail("the header is not valid UTF-8");
  }
  // {name: {dtype, shape: [...], data_offsets: [...]}}: three levels of objects and arrays at most
  const json = parseStrictJson(text, 3);
  if (!json.ok) return fail(json.syntax ? `the header is not valid UTF-8 JSON (${json.why})` : `the JSON header is not acceptable: ${json.why}`);
  const parsed = json.value;
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) fail("the header must be a JSON object");

  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof value !== "object" || value === null || Array.isArray(value)) fail("__metadata__ must be an object of strings");
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== "string") fail(`__metadata__.${k} must be a string, got ${Array.isArray(v) ? "an array" : v === null ? "null" : typeof v}`);
        setOwn(metadata, k, v);
      }
      continue;
    }
    const where = `tensor '${name}'`;
    if (typeof value !== "object" || value === null || Array.isArray(value)) fail(`${where}: expected {dtype, shape, data_offsets}`);
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (typeof dtype !== "string" || !Object.hasOwn(BYTES, dtype)) {
      fail(`${where}: dtype ${brief(dtype)} is not supported (expected one of ${Object.keys(BYTES).join(", ")})`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`${where}: shape must be an array of non-negative integers, got ${brief(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`${where}: data_offsets must be [begin, end] with non-negative integers, got ${brief(offsets)}`);
    }
    const [begin, end] = offsets as number[];
    if (begin > end) fail(`${where}: data_offsets [${begin}, ${end}] has begin after end`);
    if (end > dataLength) fail(`${where}: data_offsets [${begin}, ${end}] runs past the ${dataLength} data bytes`);
    // elements × element size, computed so that a huge shape cannot overflow to a small number
    const expectedBytes = numel(shape as number[]) * BYTES[dtype as DType];
    if (end - begin !== expectedBytes) {
      const dims = (shape as number[]).join(", ");
      fail(`${where}: ${dtype} [${dims.length > 60 ? `${dims.slice(0, 59)}…` : dims}] needs ${expectedBytes} bytes, data_offsets give ${end - begin}`);
    }
    entries.push({ name, dtype: dtype as DType, shape: shape as number[], begin, end });
  }

  // the ranges must tile the data exactly: no overlaps, no holes
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of sorted) {
    if (e.begin < at) fail(`tensor '${e.name}': data_offsets [${e.begin}, ${e.end}] overlap another tensor's bytes`);
    if (e.begin > at) fail(`bytes ${at}..${e.begin} of the data belong to no tensor (a hole before '${e.name}')`);
    at = e.end;
  }
  if (at !== dataLength) fail(`bytes ${at}..${dataLength} of the data belong to no tensor`);
  return { entries, metadata, dataLength };
}

/** The header length of a file of `fileSize` bytes whose first 8 bytes are `first8`, checked. */
function headerLengthOf(first8: Uint8Array, fileSize: number, fail: (what: string) => never): number {
  if (first8.length < 8) fail(`${fileSize} bytes, expected at least 8 (the header length)`);
  const headerLength = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(fileSize - 8)) fail(`header length ${headerLength} runs past the end of the file (${fileSize} bytes)`);
  const n = Number(headerLength);
  if (n > MAX_HEADER_BYTES) fail(`header length ${n} is above the ${MAX_HEADER_BYTES}-byte limit`);
  return n;
}

function failerFor(source: string): (what: string) => never {
  return (what: string): never => {
    throw new DinoRefError(`${source}: not a valid safetensors file: ${what}`);
  };
}

function checkEndianness(): void {
  if (endianness() !== "LE") throw new DinoRefError("safetensors: this reader needs a little-endian machine");
}

/** The tensors of a header over `data` (the data section's bytes, at its own offset 0). */
function tensorsOf(h: SafetensorsHeader, data: Uint8Array): Map<string, StTensor> {
  const tensors = new Map<string, StTensor>();
  for (const e of h.entries) tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: viewOrCopy(data, e.begin, e.end - e.begin, e.dtype) });
  return tensors;
}

/** Parses a whole safetensors file held in memory. `source` names it in error messages. */
export function parseSafetensors(bytes: Uint8Array, source: string): SafetensorsFile {
  checkEndianness();
  const fail = failerFor(source);
  const n = headerLengthOf(bytes.subarray(0, 8), bytes.length, fail);
  const h = parseHeader(bytes.subarray(8, 8 + n), bytes.length - 8 - n, fail);
  return { tensors: tensorsOf(h, bytes.subarray(8 + n)), metadata: h.metadata };
}

/** Reads only the header of a safetensors file (tensor names, dtypes, shapes, metadata), checked against the file's size. */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  checkEndianness();
  const { fd, size } = openRegularFile(path);
  try {
    return headerOf(fd, size, path);
  } finally {
    closeSync(fd);
  }
}

function headerOf(fd: number, size: number, path: string): SafetensorsHeader & { headerLength: number } {
  const fail = failerFor(path);
  const n = headerLengthOf(readAt(fd, path, 0, 8), size, fail);
  return { ...parseHeader(readAt(fd, path, 8, n), size - 8 - n, fail), headerLength: n };
}

/**
 * Reads and parses a safetensors file; errors name the path. The header is read and checked
 * against the file's size first, so a malformed or sparse file is rejected without reading its
 * data; with `limitMemory` (case files) a data section above the --max-memory limit is refused
 * before it is read.
 */
export function readSafetensors(path: string, opts: { limitMemory?: boolean } = {}): SafetensorsFile {
  checkEndianness();
  const { fd, size } = openRegularFile(path);
  try {
    const h = headerOf(fd, size, path);
    if (opts.limitMemory) checkMemory(h.dataLength, `reading the tensors of ${path}`);
    const data = readAt(fd, path, 8 + h.headerLength, h.dataLength);
    if (data.length !== h.dataLength) throw new DinoRefError(`${path}: cannot read file (it shrank while being read)`);
    return { tensors: tensorsOf(h, data), metadata: h.metadata };
  } finally {
    closeSync(fd);
  }
}

/**
 * Serialises tensors and string metadata. The header lists the tensors in the order given (a
 * state_dict's order survives a round trip); their bytes are laid out by element size, largest
 * first. The header is padded with spaces so that 8 + header length is a multiple of 8: every
 * tensor then starts aligned to its element size.
 */
export function serializeSafetensors(tensors: Iterable<[string, StTensor]>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) setOwn(header, "__metadata__", metadata);
  // larger elements first: with the data start 8-aligned, every tensor then starts aligned to its
  // element size without holes (the format allows none); the sort is stable within a size
  const given = [...tensors];
  const list = [...given].sort(([, a], [, b]) => BYTES[b.dtype] - BYTES[a.dtype]);
  const parts: { bytes: Uint8Array; begin: number }[] = [];
  const entries = new Map<string, unknown>();
  let at = 0;
  for (const [name, t] of list) {
    if (name === "__metadata__") throw new DinoRefError("safetensors: '__metadata__' is not a valid tensor name");
    if (entries.has(name)) throw new DinoRefError(`safetensors: two tensors are named '${name}'`);
    if (t.data.length !== numel(t.shape)) throw new DinoRefError(`safetensors: tensor '${name}' has ${t.data.length} elements, shape [${t.shape}] needs ${numel(t.shape)}`);
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    entries.set(name, { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + bytes.length] });
    parts.push({ bytes, begin: at });
    at += bytes.length;
  }
  for (const [name] of given) setOwn(header, name, entries.get(name));
  let json = JSON.stringify(header);
  const jsonBytes = () => new TextEncoder().encode(json).length;
  while ((8 + jsonBytes()) % 8 !== 0) json += " ";
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + at);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  for (const p of parts) out.set(p.bytes, 8 + headerBytes.length + p.begin);
  return out;
}

/** Writes a safetensors file atomically: to a temporary file beside it, fsync, then rename. */
export function writeSafetensors(path: string, tensors: Iterable<[string, StTensor]>, metadata: Record<string, string> = {}): void {
  writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}

/** obj[key] = value as an own property, also for keys such as "__proto__" (tensor names are arbitrary strings). */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function arrayTypeOf(dtype: DType) {
  switch (dtype) {
    case "F32":
      return Float32Array;
    case "F64":
      return Float64Array;
    case "I64":
      return BigInt64Array;
    case "F16":
    case "BF16":
      return Uint16Array;
    case "I32":
      return Int32Array;
    case "I16":
      return Int16Array;
    case "I8":
      return Int8Array;
    case "U8":
    case "BOOL":
      return Uint8Array;
  }
}

/** A typed-array view on the bytes [offset, offset + byteLength) when aligned (zero copy), a copy otherwise. */
export function viewOrCopy(bytes: Uint8Array, offset: number, byteLength: number, dtype: DType): TensorData {
  const Type = arrayTypeOf(dtype);
  const size = BYTES[dtype];
  const absolute = bytes.byteOffset + offset;
  if (absolute % size === 0) return new Type(bytes.buffer as ArrayBuffer, absolute, byteLength / size);
  const copy = new Uint8Array(byteLength);
  copy.set(bytes.subarray(offset, offset + byteLength));
  return new Type(copy.buffer, 0, byteLength / size);
}
