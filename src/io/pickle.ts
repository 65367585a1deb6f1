// A restricted unpickler: reads Python pickles (protocols 0–5) as plain data and never runs code.
// It knows every opcode, but a GLOBAL (a reference to a Python function or class, the way a pickle
// runs code) is only accepted when the caller's table names it; then REDUCE / NEWOBJ / BUILD call
// the caller's own TypeScript for it. Any other global is refused, naming it, before anything
// happens. Every read is bounds-checked; Python ints come back as bigint and floats as number, so
// that 7 and 7.0 stay apart.

import { DinoRefError } from "../tensor/errors.js";

/** A Python value as this reader returns it (the caller's globals may add their own objects). */
export type PyValue = null | boolean | bigint | number | string | Uint8Array | PyValue[] | PyTuple | PyDict | PySet | PyObject | PyGlobal | PyOpaque;

/** A tuple (JS arrays are lists). */
export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}

/** A dict or collections.OrderedDict, in insertion order; `attrs` holds an instance __dict__ set by BUILD (an OrderedDict state_dict's `_metadata`). */
export class PyDict {
  readonly map = new Map<PyValue, PyValue>();
  attrs: PyDict | null = null;
  constructor(readonly ordered: boolean) {}
}

/** A set or frozenset. */
export class PySet {
  constructor(readonly items: PyValue[]) {}
}

/** An instance of an accepted plain-data class (argparse.Namespace): its class and its attributes. */
export class PyObject {
  readonly attrs = new PyDict(false);
  constructor(readonly className: string) {}
}

/** A value the caller's globals made (a tensor, a storage type): opaque to this reader. */
export class PyOpaque {
  constructor(readonly kind: string, readonly value: unknown) {}
}

/** What REDUCE, NEWOBJ and BUILD do with one accepted global; a missing member is refused. */
export interface GlobalHandler {
  /** REDUCE: global(*args). */
  call?: (args: PyValue[]) => PyValue;
  /** NEWOBJ: global.__new__(global, *args). */
  construct?: (args: PyValue[]) => PyValue;
}

/** A global named by the pickle and accepted by the caller, as a value on the stack. */
export class PyGlobal {
  constructor(readonly name: string, readonly handler: GlobalHandler) {}
}

export interface UnpickleOptions {
  /** Names the input in errors (a file, or `file:entry`). */
  source: string;
  /** The accepted globals, "module.name" → what they do. */
  globals: ReadonlyMap<string, GlobalHandler>;
  /** BINPERSID / PERSID: the object a persistent id stands for (torch: a storage). Absent: refused. */
  persistentLoad?: (pid: PyValue) => PyValue;
  /** Where to start reading (several pickles can follow each other, as in torch's legacy format). */
  offset?: number;
  /** The accepted globals in words, for the refusal message (default: their names). */
  accepts?: string;
}

/** Python 2 module names that Python 3's pickle maps to their new names (fix_imports). */
const RENAMED_MODULES: Readonly<Record<string, string>> = { __builtin__: "builtins", copy_reg: "copyreg" };

const MARK = Symbol("mark");
type Slot = PyValue | typeof MARK;

/**
 * Reads one pickle from `bytes` (from `opts.offset`) and returns its value and the offset after
 * its STOP. Throws a one-line DinoRefError for a global not in `opts.globals`, an opcode that
 * could run code otherwise (extensions, out-of-band buffers), or a malformed or truncated pickle.
 */
export function unpickle(bytes: Uint8Array, opts: UnpickleOptions): { value: PyValue; end: number } {
  const { source, globals } = opts;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  let pos = opts.offset ?? 0;
  const stack: Slot[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();

  const fail = (what: string): never => {
    throw new DinoRefError(`${source}: not a readable pickle: ${what}`);
  };
  const need = (n: number) => {
    if (!(n >= 0) || pos + n > bytes.length) fail(`truncated: ${n} byte(s) needed at byte ${pos}, the data end at ${bytes.length}`);
  };
  const take = (n: number): Uint8Array => {
    need(n);
    pos += n;
    return bytes.subarray(pos - n, pos);
  };
  const u8 = () => take(1)[0];
  const u16 = () => (need(2), (pos += 2), view.getUint16(pos - 2, true));
  const u32 = () => (need(4), (pos += 4), view.getUint32(pos - 4, true));
  const i32 = () => (need(4), (pos += 4), view.getInt32(pos - 4, true));
  const u64 = () => {
    need(8);
    pos += 8;
    const v = view.getBigUint64(pos - 8, true);
    return v <= BigInt(bytes.length) ? Number(v) : fail(`a length of ${v} bytes at byte ${pos - 8} is longer than the data`);
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail(`truncated: a text line at byte ${pos} has no end`);
    const text = latin1(bytes.subarray(pos, end));
    pos = end + 1;
    return text;
  };
  const text = (raw: Uint8Array): string => {
    try {
      return utf8.decode(raw);
    } catch {
      return fail(`a string at byte ${pos - raw.length} is not UTF-8`);
    }
  };
  const pop = (): PyValue => {
    const v = stack.pop();
    if (v === undefined || v === MARK || (marks.length > 0 && stack.length < marks[marks.length - 1])) fail(`the stack is empty (or at a mark) at byte ${pos - 1}`);
    return v as PyValue;
  };
  const top = (): PyValue => {
    const v = stack[stack.length - 1];
    if (stack.length === 0 || v === MARK) fail(`the stack is empty at byte ${pos - 1}`);
    return v as PyValue;
  };
  const popMark = (): PyValue[] => {
    const m = marks.pop();
    if (m === undefined) fail(`no mark to pop to at byte ${pos - 1}`);
    const items = stack.splice(m!);
    if (items[0] !== MARK) fail(`the mark at stack position ${m} is gone`);
    return items.slice(1) as PyValue[];
  };
  const resolveGlobal = (module: string, name: string): PyGlobal => {
    const full = `${RENAMED_MODULES[module] ?? module}.${name}`;
    const handler = globals.get(full);
    if (handler === undefined) {
      const accepted = opts.accepts ?? (globals.size === 0 ? "none" : [...globals.keys()].join(", "));
      throw new DinoRefError(`${source}: refused: the pickle asks for the Python global '${full}', which this reader does not accept (it accepts ${accepted}); nothing was run`);
    }
    return new PyGlobal(full, handler);
  };
  const asGlobal = (v: PyValue, what: string): PyGlobal => (v instanceof PyGlobal ? v : fail(`${what} of a ${typeName(v)}, not of an accepted global`));
  const call = (fn: PyValue, args: PyValue[], how: "call" | "construct"): PyValue => {
    const g = asGlobal(fn, how === "call" ? "REDUCE (a call)" : "NEWOBJ (an instance)");
    const f = g.handler[how];
    if (f === undefined) throw new DinoRefError(`${source}: refused: the pickle ${how === "call" ? "calls" : "instantiates"} '${g.name}', which this reader accepts only ${g.handler.call ? "as a call" : g.handler.construct ? "as an instance" : "as a value"}`);
    return f(args);
  };
  const setItems = (target: PyValue, items: PyValue[]) => {
    if (items.length % 2 !== 0) fail(`SETITEMS with an odd number of items at byte ${pos - 1}`);
    if (!(target instanceof PyDict)) fail(`SETITEM(S) on a ${typeName(target)} at byte ${pos - 1}`);
    for (let i = 0; i < items.length; i += 2) (target as PyDict).map.set(items[i], items[i + 1]);
  };
  const append = (target: PyValue, items: PyValue[]) => {
    if (!Array.isArray(target)) fail(`APPEND(S) on a ${typeName(target)} at byte ${pos - 1}`);
    for (const x of items) (target as PyValue[]).push(x);
  };
  const memoGet = (i: number): PyValue => (memo.has(i) ? memo.get(i)! : fail(`memo entry ${i} is not set (byte ${pos})`));
  const persistent = (pid: PyValue): PyValue => (opts.persistentLoad ? opts.persistentLoad(pid) : fail("a persistent id without a loader for it"));

  for (;;) {
    const at = pos;
    const op = u8();
    switch (op) {
      case 0x80: {
        // PROTO
        const p = u8();
        if (p > 5) fail(`protocol ${p} (this reader knows 0 to 5)`);
        break;
      }
      case 0x95: // FRAME: a hint only
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length > 0) fail(`STOP with ${stack.length} item(s) on the stack at byte ${at}`);
        return { value: stack[0] as PyValue, end: pos };
      case 0x28: // MARK
        marks.push(stack.length);
        stack.push(MARK);
        break;
      case 0x30: // POP
        if (stack[stack.length - 1] === MARK) popMark();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      // ---- constants and numbers
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4b: // BININT1
        stack.push(BigInt(u8()));
        break;
      case 0x4d: // BININT2
        stack.push(BigInt(u16()));
        break;
      case 0x4a: // BININT
        stack.push(BigInt(i32()));
        break;
      case 0x8a: // LONG1
        stack.push(littleEndianSigned(take(u8())));
        break;
      case 0x8b: {
        // LONG4
        const n = i32();
        if (n < 0) fail(`LONG4 with a negative length at byte ${at}`);
        stack.push(littleEndianSigned(take(n)));
        break;
      }
      case 0x49: {
        // INT (text): I01 / I00 are True / False
        const t = line();
        if (t === "01" || t === "00") stack.push(t === "01");
        else stack.push(decimal(t, at, fail));
        break;
      }
      case 0x4c: // LONG (text, optional trailing L)
        stack.push(decimal(line().replace(/L$/, ""), at, fail));
        break;
      case 0x47: // BINFLOAT: big-endian double
        need(8);
        pos += 8;
        stack.push(view.getFloat64(pos - 8, false));
        break;
      case 0x46: {
        // FLOAT (text)
        const t = line().trim();
        const x = /^[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?|inf|nan)$/i.test(t) ? Number(t.replace(/inf/i, "Infinity").replace(/nan/i, "NaN")) : NaN;
        if (Number.isNaN(x) && !/nan/i.test(t)) fail(`FLOAT '${t}' at byte ${at}`);
        stack.push(x);
        break;
      }
      // ---- strings and bytes
      case 0x58: // BINUNICODE
        stack.push(text(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(take(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(take(u64())));
        break;
      case 0x56: // UNICODE (raw-unicode-escape text)
        stack.push(rawUnicodeEscape(line()));
        break;
      case 0x54: {
        // BINSTRING (a Python 2 str: decoded as UTF-8, as torch.load does)
        const n = i32();
        if (n < 0) fail(`BINSTRING with a negative length at byte ${at}`);
        stack.push(text(take(n)));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        stack.push(text(take(u8())));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()).slice());
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(take(u64()).slice());
        break;
      // ---- containers
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new PyTuple([]));
        break;
      case 0x74: // TUPLE
        stack.push(new PyTuple(popMark()));
        break;
      case 0x85: // TUPLE1
        stack.push(new PyTuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push(new PyTuple([pop(), b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push(new PyTuple([pop(), b, c]));
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new PyDict(false));
        break;
      case 0x64: {
        // DICT
        const d = new PyDict(false);
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push(new PySet([]));
        break;
      case 0x91: // FROZENSET
        stack.push(new PySet(popMark()));
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof PySet)) fail(`ADDITEMS on a ${typeName(s)} at byte ${at}`);
        (s as PySet).items.push(...items);
        break;
      }
      case 0x61: {
        // APPEND
        const x = pop();
        append(top(), [x]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      // ---- memo
      case 0x70: // PUT (text index)
        memo.set(Number(decimal(line(), at, fail)), top());
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x67: // GET (text index)
        stack.push(memoGet(Number(decimal(line(), at, fail))));
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      // ---- globals and the opcodes that use them: only the caller's accepted globals get here
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        stack.push(resolveGlobal(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") fail(`STACK_GLOBAL with a ${typeName(module)} and a ${typeName(name)} at byte ${at}`);
        stack.push(resolveGlobal(module as string, name as string));
        break;
      }
      case 0x69: {
        // INST "module\nname\n": class(*args since the mark)
        const module = line();
        const g = resolveGlobal(module, line());
        stack.push(call(g, popMark(), g.handler.construct ? "construct" : "call"));
        break;
      }
      case 0x6f: {
        // OBJ: mark, class, args...
        const [cls, ...args] = popMark();
        const g = asGlobal(cls ?? null, "OBJ (an instance)");
        stack.push(call(g, args, g.handler.construct ? "construct" : "call"));
        break;
      }
      case 0x52: {
        // REDUCE: callable(*args)
        const args = pop();
        const fn = pop();
        if (!(args instanceof PyTuple)) fail(`REDUCE with ${typeName(args)} arguments at byte ${at}`);
        stack.push(call(fn, (args as PyTuple).items, "call"));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args)
        const args = pop();
        const cls = pop();
        if (!(args instanceof PyTuple)) fail(`NEWOBJ with ${typeName(args)} arguments at byte ${at}`);
        stack.push(call(cls, (args as PyTuple).items, "construct"));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX: cls.__new__(cls, *args, **kwargs); keyword arguments are refused
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!(args instanceof PyTuple) || !(kwargs instanceof PyDict) || kwargs.map.size > 0) fail(`NEWOBJ_EX with keyword arguments at byte ${at}`);
        stack.push(call(cls, (args as PyTuple).items, "construct"));
        break;
      }
      case 0x62: {
        // BUILD: obj.__setstate__(state) or obj.__dict__.update(state), for dicts and plain objects only
        const state = pop();
        const obj = top();
        const attrs = obj instanceof PyObject ? obj.attrs : obj instanceof PyDict ? (obj.attrs ??= new PyDict(false)) : null;
        if (attrs === null) fail(`BUILD (setting the state) of a ${typeName(obj)} at byte ${at}`);
        // a state (dict, slots) pair or a dict
        const dicts = state instanceof PyTuple ? state.items : [state];
        for (const d of dicts) {
          if (d === null) continue;
          if (!(d instanceof PyDict)) fail(`BUILD with a ${typeName(d)} state at byte ${at}`);
          for (const [k, v] of (d as PyDict).map) attrs!.map.set(k, v);
        }
        break;
      }
      case 0x51: // BINPERSID
        stack.push(persistent(pop()));
        break;
      case 0x50: // PERSID (text)
        stack.push(persistent(line()));
        break;
      case 0x82:
      case 0x83:
      case 0x84:
        fail(`opcode EXT${op === 0x82 ? 1 : op === 0x83 ? 2 : 4} (the copyreg extension registry) at byte ${at} is not supported`);
        break;
      case 0x97:
      case 0x98:
        fail(`opcode ${op === 0x97 ? "NEXT_BUFFER" : "READONLY_BUFFER"} (out-of-band data) at byte ${at} is not supported`);
        break;
      case 0x53:
        fail(`opcode STRING (Python 2 text-mode str) at byte ${at} is not supported`);
        break;
      default:
        fail(`unknown opcode 0x${op.toString(16).padStart(2, "0")} at byte ${at}`);
    }
  }
}

/** What a value is, for messages. */
export function typeName(v: PyValue | undefined): string {
  if (v === null) return "None";
  if (v === undefined) return "nothing";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "bigint") return "int";
  if (typeof v === "number") return "float";
  if (typeof v === "string") return "str";
  if (v instanceof Uint8Array) return "bytes";
  if (Array.isArray(v)) return "list";
  if (v instanceof PyTuple) return "tuple";
  if (v instanceof PyDict) return v.ordered ? "OrderedDict" : "dict";
  if (v instanceof PySet) return "set";
  if (v instanceof PyObject) return v.className;
  if (v instanceof PyGlobal) return v.name;
  return v.kind;
}

function latin1(b: Uint8Array): string {
  let s = "";
  for (const c of b) s += String.fromCharCode(c);
  return s;
}

/** A two's-complement little-endian integer of any length (LONG1 / LONG4). */
function littleEndianSigned(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b.length > 0 && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v;
}

function decimal(t: string, at: number, fail: (what: string) => never): bigint {
  const s = t.trim();
  if (!/^[-+]?\d{1,4300}$/.test(s)) fail(`the integer '${s.slice(0, 40)}' at byte ${at}`);
  return BigInt(s);
}

/** Python's raw-unicode-escape: \uXXXX and \UXXXXXXXX escapes, every other byte a Latin-1 character. */
function rawUnicodeEscape(s: string): string {
  return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, u: string | undefined, U: string | undefined) => {
    const cp = parseInt(u ?? U!, 16);
    return cp <= 0x10ffff ? String.fromCodePoint(cp) : "\ufffd";
  });
}
