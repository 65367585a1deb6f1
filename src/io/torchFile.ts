// PyTorch `torch.save` files (.pth / .pt / .bin) read and written without Python. Reading goes
// through the restricted unpickler (pickle.ts) with the few globals a saved state dict or
// checkpoint uses: collections.OrderedDict, the tensor-rebuild functions of torch._utils, the
// storage types (torch.FloatStorage, ...) and argparse.Namespace (as plain data). Both container
// formats are read: the zip archive of torch ≥ 1.6 (`<name>/data.pkl` + `<name>/data/<key>`) and
// the legacy stream (magic number, protocol, system info, the pickle, the storage keys, then each
// storage's bytes). Tensors come back as StTensors with their dtype and bits, made contiguous.
// Writing produces the zip format, which torch.load (1.6 and later) reads.

import { endianness } from "node:os";
import { DinoRefError } from "../tensor/errors.js";
import { numel } from "../tensor/named.js";
import { type DType, type StTensor, bytesPerElement, tensor, viewOrCopy } from "./safetensors.js";
import { isZip, readZip, writeZip } from "./zip.js";
import { type GlobalHandler, PyDict, PyGlobal, PyObject, PyOpaque, PyTuple, type PyValue, typeName, unpickle } from "./pickle.js";
import { pickleProtocol2, type PickleGlobalRef } from "./pickleWriter.js";

/** The storage classes of torch.save and the dtype of their elements. */
export const STORAGE_DTYPES: ReadonlyMap<string, DType> = new Map([
  ["FloatStorage", "F32"], ["DoubleStorage", "F64"], ["HalfStorage", "F16"], ["BFloat16Storage", "BF16"],
  ["LongStorage", "I64"], ["IntStorage", "I32"], ["ShortStorage", "I16"], ["CharStorage", "I8"],
  ["ByteStorage", "U8"], ["BoolStorage", "BOOL"],
]);

/** A tensor read from a torch file (an opaque value inside the returned tree). */
export class TorchTensor {
  constructor(readonly tensor: StTensor) {}
}

/** Whether a value is a tensor of a torch file, and the tensor. */
export function tensorOf(v: PyValue): StTensor | null {
  return v instanceof PyOpaque && v.value instanceof TorchTensor ? v.value.tensor : null;
}

/** A tensor as a value of the tree torch files are written from. */
export function torchTensor(t: StTensor): PyOpaque {
  return new PyOpaque("tensor", new TorchTensor(t));
}

export interface TorchFile {
  /** The saved object, tensors as `PyOpaque("tensor", TorchTensor)` (see tensorOf). */
  value: PyValue;
  /** "zip" (torch ≥ 1.6) or "legacy" (`_use_new_zipfile_serialization=False`, and torch < 1.6). */
  container: "zip" | "legacy";
}

/** A storage named by a persistent id: its dtype, element count and (once known) bytes. */
interface Storage {
  dtype: DType;
  key: string;
  numel: number;
  bytes: Uint8Array | null;
}

/** A tensor whose storage bytes may arrive later (legacy format): materialised at the end. */
interface PendingTensor {
  storage: Storage;
  offset: number;
  shape: number[];
  stride: number[];
  out: PyOpaque & { value: TorchTensor };
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001n;

/** Reads a torch.save file held in memory; `source` names it in errors. */
export function readTorchFile(bytes: Uint8Array, source: string): TorchFile {
  if (endianness() !== "LE") throw new DinoRefError("torch files: this reader needs a little-endian machine");
  const pending: PendingTensor[] = [];
  const storages = new Map<string, Storage>();
  const globals = torchGlobals(source, pending);
  const accepts = "only what a saved state dict or checkpoint uses: collections.OrderedDict, torch._utils._rebuild_tensor_v2 / _rebuild_tensor / _rebuild_parameter, torch.<Type>Storage, argparse.Namespace";

  if (isZip(bytes)) {
    const entries = readZip(bytes, source);
    const pkl = [...entries.keys()].find((k) => /^[^/]+\/data\.pkl$/.test(k) || k === "data.pkl");
    if (pkl === undefined) throw new DinoRefError(`${source}: a zip archive without <name>/data.pkl: not a torch.save file (entries: ${[...entries.keys()].slice(0, 5).join(", ")})`);
    const prefix = pkl.slice(0, pkl.length - "data.pkl".length);
    const byteorder = entries.get(`${prefix}byteorder`);
    if (byteorder !== undefined && new TextDecoder().decode(byteorder).trim() !== "little") {
      throw new DinoRefError(`${source}: the tensors are stored big-endian (${prefix}byteorder); this reader reads little-endian files`);
    }
    const persistentLoad = (pid: PyValue): PyValue => {
      const s = storageOf(pid, source, storages, false);
      if (s.bytes === null) {
        const data = entries.get(`${prefix}data/${s.key}`);
        if (data === undefined) throw new DinoRefError(`${source}: storage '${s.key}' has no entry ${prefix}data/${s.key}`);
        if (data.length < s.numel * bytesPerElement(s.dtype)) throw new DinoRefError(`${source}: storage '${s.key}' has ${data.length} bytes; ${s.numel} ${s.dtype} elements need ${s.numel * bytesPerElement(s.dtype)}`);
        s.bytes = data;
      }
      return new PyOpaque("storage", s);
    };
    const { value } = unpickle(entries.get(pkl)!, { source: `${source}:${pkl}`, globals, persistentLoad, accepts });
    materialise(pending, source);
    return { value, container: "zip" };
  }

  // the legacy stream: four pickles, then the storages' bytes in the order of the key list
  const plain = { source, globals, accepts };
  let at = 0;
  const magic = unpickle(bytes, { ...plain, offset: at });
  if (magic.value !== LEGACY_MAGIC) {
    throw new DinoRefError(`${source}: not a torch.save file (neither a zip archive nor the legacy format's magic number; the tar format of torch < 0.4 is not supported)`);
  }
  const protocol = unpickle(bytes, { ...plain, offset: magic.end });
  if (protocol.value !== LEGACY_PROTOCOL) throw new DinoRefError(`${source}: legacy torch file of protocol ${String(protocol.value)}; expected ${LEGACY_PROTOCOL}`);
  const sysInfo = unpickle(bytes, { ...plain, offset: protocol.end });
  if (sysInfo.value instanceof PyDict && sysInfo.value.map.get("little_endian") === false) {
    throw new DinoRefError(`${source}: the tensors are stored big-endian; this reader reads little-endian files`);
  }
  const persistentLoad = (pid: PyValue): PyValue => new PyOpaque("storage", storageOf(pid, source, storages, true));
  const main = unpickle(bytes, { source, globals, persistentLoad, accepts, offset: sysInfo.end });
  const keys = unpickle(bytes, { ...plain, offset: main.end });
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === "string")) throw new DinoRefError(`${source}: the legacy storage key list is a ${typeName(keys.value)}, expected a list of str`);
  at = keys.end;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const key of keys.value as string[]) {
    const s = storages.get(key);
    if (at + 8 > bytes.length) throw new DinoRefError(`${source}: truncated: storage '${key}' has no size at byte ${at}`);
    const count = view.getBigInt64(at, true);
    const size = s ? bytesPerElement(s.dtype) : 1;
    if (s === undefined || count !== BigInt(s.numel)) throw new DinoRefError(`${source}: storage '${key}' at byte ${at} ${s ? `has ${count} elements; its tensor said ${s.numel}` : "is not used by any tensor"}`);
    if (at + 8 + s.numel * size > bytes.length) throw new DinoRefError(`${source}: truncated: storage '${key}' needs ${s.numel * size} bytes at byte ${at + 8}`);
    s.bytes = bytes.subarray(at + 8, at + 8 + s.numel * size);
    at += 8 + s.numel * size;
  }
  materialise(pending, source);
  return { value: main.value, container: "legacy" };
}

/** The storage a persistent id names: ('storage', torch.<T>Storage, key, location, numel[, view_metadata]). */
function storageOf(pid: PyValue, source: string, storages: Map<string, Storage>, legacy: boolean): Storage {
  const items = pid instanceof PyTuple ? pid.items : [];
  const [kind, type, key, , count, view] = items;
  const dtype = type instanceof PyGlobal && type.name.startsWith("torch.") ? STORAGE_DTYPES.get(type.name.slice("torch.".length)) : undefined;
  if (kind !== "storage" || dtype === undefined || typeof key !== "string" || typeof count !== "bigint") {
    throw new DinoRefError(`${source}: a persistent id that is not a torch storage (${typeName(pid)} of ${items.map((x) => typeName(x)).join(", ")})`);
  }
  if (legacy && view !== null && view !== undefined) throw new DinoRefError(`${source}: storage '${key}' is a view of another storage (torch < 0.4 files); not supported`);
  const n = safeCount(count, `storage '${key}' size`, source);
  const known = storages.get(key);
  if (known !== undefined) {
    if (known.dtype !== dtype || known.numel !== n) throw new DinoRefError(`${source}: storage '${key}' is named twice with different types or sizes`);
    return known;
  }
  const s: Storage = { dtype, key, numel: n, bytes: null };
  storages.set(key, s);
  return s;
}

/** The globals a torch.save file of tensors and plain data uses, and what each does here. */
function torchGlobals(source: string, pending: PendingTensor[]): Map<string, GlobalHandler> {
  const g = new Map<string, GlobalHandler>();
  g.set("collections.OrderedDict", {
    call(args) {
      const d = new PyDict(true);
      // OrderedDict() or OrderedDict([(k, v), ...])
      const pairs = args.length === 0 ? [] : Array.isArray(args[0]) ? args[0] : null;
      if (pairs === null || args.length > 1) throw new DinoRefError(`${source}: OrderedDict called with ${args.map((a) => typeName(a)).join(", ")}`);
      for (const p of pairs) {
        const kv = p instanceof PyTuple ? p.items : Array.isArray(p) ? p : [];
        if (kv.length !== 2) throw new DinoRefError(`${source}: OrderedDict item is a ${typeName(p)}, not a (key, value) pair`);
        d.map.set(kv[0], kv[1]);
      }
      return d;
    },
  });
  const rebuild = (args: PyValue[], version: 1 | 2): PyValue => {
    // _rebuild_tensor(storage, storage_offset, size, stride); v2 adds requires_grad, backward_hooks[, metadata]
    const [storage, offset, size, stride, , hooks, metadata] = args;
    const okCount = version === 1 ? args.length === 4 : args.length === 6 || args.length === 7;
    if (!okCount || !(storage instanceof PyOpaque && storage.kind === "storage") || !(size instanceof PyTuple) || !(stride instanceof PyTuple)) {
      throw new DinoRefError(`${source}: a tensor rebuilt from ${args.map((a) => typeName(a)).join(", ")}; expected (storage, offset, size, stride, ...)`);
    }
    if (hooks instanceof PyDict && hooks.map.size > 0) throw new DinoRefError(`${source}: a tensor with backward hooks; not supported`);
    if (metadata instanceof PyDict && metadata.map.size > 0) throw new DinoRefError(`${source}: a tensor with extra metadata (${[...metadata.map.keys()].map(String).join(", ")}); not supported`);
    const s = storage.value as Storage;
    const out = new PyOpaque("tensor", new TorchTensor(tensor(s.dtype, [0], viewOrCopy(new Uint8Array(0), 0, 0, s.dtype)))) as PyOpaque & { value: TorchTensor };
    pending.push({
      storage: s,
      offset: safeCount(offset, "tensor offset", source),
      shape: size.items.map((d) => safeCount(d, "tensor size", source)),
      stride: stride.items.map((d) => safeCount(d, "tensor stride", source)),
      out,
    });
    return out;
  };
  g.set("torch._utils._rebuild_tensor_v2", { call: (args) => rebuild(args, 2) });
  g.set("torch._utils._rebuild_tensor", { call: (args) => rebuild(args, 1) });
  // an nn.Parameter: its tensor (requires_grad does not change the numbers)
  g.set("torch._utils._rebuild_parameter", {
    call(args) {
      if (args.length !== 3 || !(args[0] instanceof PyOpaque && args[0].kind === "tensor")) throw new DinoRefError(`${source}: a Parameter rebuilt from ${args.map((a) => typeName(a)).join(", ")}`);
      return args[0];
    },
  });
  // storage classes appear as values inside persistent ids, never called
  for (const name of STORAGE_DTYPES.keys()) g.set(`torch.${name}`, {});
  g.set("argparse.Namespace", {
    construct(args) {
      if (args.length > 0) throw new DinoRefError(`${source}: argparse.Namespace built with arguments`);
      return new PyObject("argparse.Namespace");
    },
  });
  return g;
}

/** Copies every pending tensor's elements out of its storage (strides followed, result contiguous). */
function materialise(pending: readonly PendingTensor[], source: string): void {
  for (const p of pending) {
    const { storage: s, offset, shape, stride } = p;
    if (s.bytes === null) throw new DinoRefError(`${source}: storage '${s.key}' has no data`);
    if (shape.length !== stride.length) throw new DinoRefError(`${source}: a tensor of size [${shape}] has stride [${stride}]`);
    const n = numel(shape);
    const size = bytesPerElement(s.dtype);
    let out: Uint8Array = new Uint8Array(0);
    if (n > 0) {
      // the last element read: offset + Σ (d_i − 1)·stride_i must lie inside the storage
      const last = offset + shape.reduce((m, d, i) => m + (d - 1) * stride[i], 0);
      if (last >= s.numel) throw new DinoRefError(`${source}: a tensor of size [${shape}], stride [${stride}], offset ${offset} reads element ${last} of storage '${s.key}', which has ${s.numel}`);
      const contiguous = shape.every((d, i) => d === 1 || stride[i] === shape.slice(i + 1).reduce((a, b) => a * b, 1));
      // a contiguous tensor is a view on the file's bytes (viewOrCopy copies it only when unaligned)
      out = contiguous ? s.bytes.subarray(offset * size, (offset + n) * size) : gather(s.bytes, n, offset, shape, stride, size);
    }
    p.out.value.tensor.shape = shape;
    p.out.value.tensor.data = viewOrCopy(out, 0, out.length, s.dtype);
  }
}

/** The elements of a strided view, in row-major order (a copy). */
function gather(src: Uint8Array, n: number, offset: number, shape: number[], stride: number[], size: number): Uint8Array {
  const out = new Uint8Array(n * size);
  const rank = shape.length;
  const index = new Array<number>(rank).fill(0);
  for (let e = 0; e < n; e++) {
    let at = offset;
    for (let i = 0; i < rank; i++) at += index[i] * stride[i];
    out.set(src.subarray(at * size, at * size + size), e * size);
    for (let i = rank - 1; i >= 0; i--) {
      if (++index[i] < shape[i]) break;
      index[i] = 0;
    }
  }
  return out;
}

function safeCount(v: PyValue | undefined, what: string, source: string): number {
  if (typeof v !== "bigint" || v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw new DinoRefError(`${source}: ${what} is ${typeName(v)} ${String(v)}; expected a non-negative integer`);
  return Number(v);
}

/** The storage class torch.save writes for a dtype. */
function storageClass(dtype: DType): PickleGlobalRef {
  for (const [name, d] of STORAGE_DTYPES) if (d === dtype) return { module: "torch", name };
  throw new Error(`no storage class for ${dtype}`);
}

/**
 * A torch.save zip archive of `value` (tensors as torchTensor(...), dicts, OrderedDicts, lists,
 * tuples, str, int (bigint), float, bool, None, argparse.Namespace): every tensor in its own
 * contiguous storage. torch.load gives back the same structure and tensors bit for bit.
 */
export function writeTorchFile(value: PyValue): Uint8Array {
  const storages: StTensor[] = [];
  const pkl = pickleProtocol2(value, (v) => {
    const t = tensorOf(v);
    if (t === null) return null;
    const key = String(storages.length);
    storages.push(t);
    return { storage: storageClass(t.dtype), key, numel: numel(t.shape), shape: t.shape };
  });
  const prefix = "archive/";
  const entries = [{ name: `${prefix}data.pkl`, data: pkl }];
  storages.forEach((t, i) => entries.push({ name: `${prefix}data/${i}`, data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) }));
  entries.push({ name: `${prefix}version`, data: new TextEncoder().encode("3\n") });
  entries.push({ name: `${prefix}byteorder`, data: new TextEncoder().encode("little") });
  return writeZip(entries);
}
