// Writes plain data as a pickle of protocol 2 (what torch.save uses): None, bool, int (bigint),
// float, str, bytes, list, tuple, dict, collections.OrderedDict, argparse.Namespace, and the
// tensors a caller turns into torch's persistent storage ids (torchFile.ts). No memo: every value
// is written where it occurs, so shared objects come back as copies.

import { DinoRefError } from "../tensor/errors.js";
import { PyDict, PyObject, PyTuple, type PyValue, typeName } from "./pickle.js";

export interface PickleGlobalRef {
  module: string;
  name: string;
}

/** How a tensor is written: torch._utils._rebuild_tensor_v2 on a persistent storage ('storage', class, key, 'cpu', numel). */
export interface TensorRecord {
  storage: PickleGlobalRef;
  key: string;
  numel: number;
  shape: readonly number[];
}

/** Nesting depth at most (a checkpoint nests 4 deep): deeper data, or a cycle, is refused. */
const MAX_DEPTH = 64;

/** The pickle of `value`; `tensorOf` says which values are tensors and how to store them (null: not a tensor). */
export function pickleProtocol2(value: PyValue, tensorOf: (v: PyValue) => TensorRecord | null): Uint8Array {
  const out: number[] = [];
  const enc = new TextEncoder();
  const byte = (...b: number[]): void => {
    for (const x of b) out.push(x);
  };
  const u32 = (n: number) => byte(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  const ascii = (s: string) => byte(...enc.encode(s));
  const global = (g: PickleGlobalRef) => {
    // GLOBAL 'module\nname\n'
    byte(0x63);
    ascii(`${g.module}\n${g.name}\n`);
  };
  const str = (s: string) => {
    // BINUNICODE
    const b = enc.encode(s);
    byte(0x58);
    u32(b.length);
    for (const x of b) out.push(x);
  };
  const int = (v: bigint) => {
    if (v >= 0n && v < 256n) byte(0x4b, Number(v)); // BININT1
    else if (v >= 0n && v < 65536n) byte(0x4d, Number(v) & 0xff, Number(v) >> 8); // BININT2
    else if (v >= -(2n ** 31n) && v < 2n ** 31n) (byte(0x4a), u32(Number(BigInt.asUintN(32, v)))); // BININT
    else {
      // LONG1: the shortest two's-complement little-endian bytes
      const bytes: number[] = [];
      let x = v;
      for (;;) {
        bytes.push(Number(x & 0xffn));
        x >>= 8n;
        const sign = bytes[bytes.length - 1] & 0x80;
        if ((x === 0n && !sign) || (x === -1n && sign)) break;
      }
      byte(0x8a, bytes.length, ...bytes);
    }
  };
  const orderedDict = () => {
    global({ module: "collections", name: "OrderedDict" });
    byte(0x29, 0x52); // EMPTY_TUPLE REDUCE
  };
  const setItems = (d: PyDict, depth: number) => {
    if (d.map.size === 0) return;
    byte(0x28); // MARK
    for (const [k, v] of d.map) {
      write(k, depth + 1);
      write(v, depth + 1);
    }
    byte(0x75); // SETITEMS
  };
  const tuple = (items: PyValue[], depth: number): void => {
    if (items.length === 0) return byte(0x29);
    if (items.length > 3) byte(0x28);
    for (const x of items) write(x, depth + 1);
    byte(items.length === 1 ? 0x85 : items.length === 2 ? 0x86 : items.length === 3 ? 0x87 : 0x74);
  };

  function write(v: PyValue, depth: number): void {
    if (depth > MAX_DEPTH) throw new DinoRefError(`pickle: data nested deeper than ${MAX_DEPTH} levels (or a cycle); not written`);
    const t = tensorOf(v);
    if (t !== null) {
      global({ module: "torch._utils", name: "_rebuild_tensor_v2" });
      byte(0x28); // MARK: the arguments
      byte(0x28); // MARK: the persistent id
      str("storage");
      global(t.storage);
      str(t.key);
      str("cpu");
      int(BigInt(t.numel));
      byte(0x74, 0x51); // TUPLE BINPERSID
      int(0n); // storage offset
      tuple(t.shape.map((d) => BigInt(d)), depth);
      // contiguous strides: stride_i = Π_{j>i} size_j
      tuple(t.shape.map((_, i) => BigInt(t.shape.slice(i + 1).reduce((a, b) => a * b, 1))), depth);
      byte(0x89); // NEWFALSE: requires_grad
      orderedDict(); // backward_hooks
      byte(0x74, 0x52); // TUPLE REDUCE
      return;
    }
    if (v === null) return byte(0x4e);
    if (v === true) return byte(0x88);
    if (v === false) return byte(0x89);
    if (typeof v === "bigint") return int(v);
    if (typeof v === "number") {
      // BINFLOAT: big-endian double
      const b = new Uint8Array(8);
      new DataView(b.buffer).setFloat64(0, v, false);
      return byte(0x47, ...b);
    }
    if (typeof v === "string") return str(v);
    if (v instanceof Uint8Array) {
      // BINBYTES (read by every Python 3 unpickler)
      byte(0x42);
      u32(v.length);
      for (const x of v) out.push(x);
      return;
    }
    if (Array.isArray(v)) {
      byte(0x5d); // EMPTY_LIST
      if (v.length === 0) return;
      byte(0x28);
      for (const x of v) write(x, depth + 1);
      return byte(0x65); // APPENDS
    }
    if (v instanceof PyTuple) return tuple(v.items, depth);
    if (v instanceof PyDict) {
      if (v.ordered) orderedDict();
      else byte(0x7d); // EMPTY_DICT
      return setItems(v, depth);
    }
    if (v instanceof PyObject && v.className === "argparse.Namespace") {
      global({ module: "argparse", name: "Namespace" });
      byte(0x29, 0x81, 0x7d); // EMPTY_TUPLE NEWOBJ EMPTY_DICT
      setItems(v.attrs, depth);
      return byte(0x62); // BUILD
    }
    throw new DinoRefError(`pickle: a ${typeName(v)} cannot be written (plain data and tensors only)`);
  }

  byte(0x80, 2); // PROTO 2
  write(value, 0);
  byte(0x2e); // STOP
  return Uint8Array.from(out);
}
