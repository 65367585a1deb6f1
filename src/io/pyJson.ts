// JSON as Python's json module writes and reads it, for the `args` of an official checkpoint kept
// in safetensors metadata: `json.dumps(obj, sort_keys=True)` (", " and ": " separators, non-ASCII
// escaped, floats as Python's repr, NaN / Infinity allowed) and a reader that keeps ints (bigint)
// apart from floats (number), so that 7 and 7.0 survive a round trip through a file.

import { DinoRefError } from "../tensor/errors.js";
import { PyDict, PyObject, PySet, PyTuple, type PyValue, typeName } from "./pickle.js";

/** Python's repr of a float: the shortest digits that read back exactly, fixed for 1e-4 ≤ |x| < 1e16, else d.ddde±XX. */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [mantissa, expText] = x.toExponential().split("e");
  const sign = mantissa.startsWith("-") ? "-" : "";
  const digits = mantissa.replace("-", "").replace(".", "");
  const exp = Number(expText);
  if (exp < -4 || exp >= 16) return `${sign}${digits[0]}${digits.length > 1 ? "." + digits.slice(1) : ""}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  const whole = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
  const frac = digits.slice(exp + 1);
  return `${sign}${whole}.${frac === "" ? "0" : frac}`;
}

/** A JSON string as Python writes it with ensure_ascii: \" \\ \n \r \t \b \f, other controls and non-ASCII as \uXXXX. */
function pyString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    const short: Record<string, string> = { '"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f" };
    if (short[ch] !== undefined) out += short[ch];
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else if (c > 0xffff) {
      const v = c - 0x10000;
      out += `\\u${(0xd800 + (v >> 10)).toString(16).padStart(4, "0")}\\u${(0xdc00 + (v & 0x3ff)).toString(16).padStart(4, "0")}`;
    } else out += `\\u${c.toString(16).padStart(4, "0")}`;
  }
  return out + '"';
}

/** Whether json.dumps can write a value (the Python converter writes the repr of those it cannot). */
function jsonable(v: PyValue, depth = 0): boolean {
  if (depth > 64) return false;
  if (v === null || typeof v === "boolean" || typeof v === "bigint" || typeof v === "number" || typeof v === "string") return true;
  if (Array.isArray(v)) return v.every((x) => jsonable(x, depth + 1));
  if (v instanceof PyTuple) return v.items.every((x) => jsonable(x, depth + 1));
  if (v instanceof PyDict) return [...v.map].every(([k, x]) => (k === null || ["string", "bigint", "number", "boolean"].includes(typeof k)) && jsonable(x, depth + 1));
  return false;
}

/** `json.dumps(v, sort_keys=True)`; a value json cannot hold is written as its repr (as the Python converter's `_jsonable` does for each arg). */
export function pyJsonDumps(v: PyValue, depth = 0): string {
  if (depth > 64) throw new DinoRefError("json: data nested deeper than 64 levels (or a cycle)");
  if (v === null) return "null";
  if (v === true) return "true";
  if (v === false) return "false";
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number") return Number.isNaN(v) ? "NaN" : !Number.isFinite(v) ? (v > 0 ? "Infinity" : "-Infinity") : pyFloatRepr(v);
  if (typeof v === "string") return pyString(v);
  if (Array.isArray(v) || v instanceof PyTuple) return `[${(Array.isArray(v) ? v : v.items).map((x) => pyJsonDumps(x, depth + 1)).join(", ")}]`;
  if (v instanceof PyDict && jsonable(v)) {
    // keys become strings as json does: ints and floats by their text, True / False / None as true / false / null
    const entries = [...v.map].map(([k, x]) => [typeof k === "string" ? k : k === null ? "null" : typeof k === "boolean" ? String(k) : typeof k === "number" ? pyJsonDumps(k) : String(k), x] as const);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${pyString(k)}: ${pyJsonDumps(x, depth + 1)}`).join(", ")}}`;
  }
  return pyString(pyRepr(v));
}

/** Python's repr for the values a checkpoint's args can hold (used where JSON cannot hold them). */
export function pyRepr(v: PyValue, depth = 0): string {
  if (depth > 64) return "...";
  if (v === null) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number") return pyFloatRepr(v);
  if (typeof v === "string") return v.includes("'") && !v.includes('"') ? `"${v}"` : `'${v.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
  if (v instanceof Uint8Array) return `b'${Array.from(v, (b) => (b >= 0x20 && b < 0x7f && b !== 0x27 && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`)).join("")}'`;
  if (Array.isArray(v)) return `[${v.map((x) => pyRepr(x, depth + 1)).join(", ")}]`;
  if (v instanceof PyTuple) return v.items.length === 1 ? `(${pyRepr(v.items[0], depth + 1)},)` : `(${v.items.map((x) => pyRepr(x, depth + 1)).join(", ")})`;
  if (v instanceof PySet) return v.items.length === 0 ? "set()" : `{${v.items.map((x) => pyRepr(x, depth + 1)).join(", ")}}`;
  if (v instanceof PyDict) return `${v.ordered ? "OrderedDict(" : ""}{${[...v.map].map(([k, x]) => `${pyRepr(k, depth + 1)}: ${pyRepr(x, depth + 1)}`).join(", ")}}${v.ordered ? ")" : ""}`;
  if (v instanceof PyObject) return `${v.className.split(".").pop()}(${[...v.attrs.map].map(([k, x]) => `${String(k)}=${pyRepr(x, depth + 1)}`).join(", ")})`;
  return `<${typeName(v)}>`;
}

/** `json.loads`: objects become dicts, arrays lists, integers bigint, other numbers (and NaN, Infinity) float. */
export function pyJsonLoads(text: string, source: string): PyValue {
  let pos = 0;
  const fail = (what: string): never => {
    throw new DinoRefError(`${source}: not valid JSON: ${what} at character ${pos}`);
  };
  const ws = () => {
    while (pos < text.length && " \t\n\r".includes(text[pos])) pos++;
  };
  const value = (depth: number): PyValue => {
    if (depth > 64) fail("nested deeper than 64 levels");
    ws();
    const c = text[pos];
    if (c === "{") {
      pos++;
      const d = new PyDict(false);
      ws();
      if (text[pos] === "}") return pos++, d;
      for (;;) {
        ws();
        if (text[pos] !== '"') fail("expected a key string");
        const k = string();
        ws();
        if (text[pos++] !== ":") fail("expected ':'");
        d.map.set(k, value(depth + 1));
        ws();
        const sep = text[pos++];
        if (sep === "}") return d;
        if (sep !== ",") fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      pos++;
      const a: PyValue[] = [];
      ws();
      if (text[pos] === "]") return pos++, a;
      for (;;) {
        a.push(value(depth + 1));
        ws();
        const sep = text[pos++];
        if (sep === "]") return a;
        if (sep !== ",") fail("expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    for (const [word, v] of [["true", true], ["false", false], ["null", null], ["NaN", NaN], ["Infinity", Infinity], ["-Infinity", -Infinity]] as const) {
      if (text.startsWith(word, pos)) return (pos += word.length), v;
    }
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?/.exec(text.slice(pos, pos + 400));
    if (m === null) return fail("unexpected character");
    pos += m[0].length;
    return m[2] === undefined && m[3] === undefined ? BigInt(m[0]) : Number(m[0]);
  };
  const string = (): string => {
    const m = /^"(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"/.exec(text.slice(pos));
    if (m === null) return fail("a malformed string");
    pos += m[0].length;
    return JSON.parse(m[0]) as string;
  };
  const v = value(0);
  ws();
  if (pos !== text.length) fail("trailing characters");
  return v;
}
