// The restricted unpickler on real Python pickles of every protocol (fixtures/weights/plain_p*.pkl
// with their values in tagged JSON, both written by reference-tests/weights/make_weight_fixtures.py),
// on pickles that would run code, and on random bytes; the protocol-2 writer against the reader.
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DinoRefError } from "../tensor/errors.js";
import { type GlobalHandler, PyDict, PyObject, PySet, PyTuple, type PyValue, unpickle } from "./pickle.js";
import { pickleProtocol2 } from "./pickleWriter.js";
import { pyFloatRepr } from "./pyJson.js";

/** A value in the generator's tagged JSON form. */
function tagged(v: PyValue): unknown {
  if (v === null || typeof v === "boolean" || typeof v === "string") return v;
  if (typeof v === "bigint") return { int: v.toString() };
  if (typeof v === "number") return { float: pyFloatRepr(v) };
  if (v instanceof Uint8Array) return { bytes: Buffer.from(v).toString("hex") };
  if (Array.isArray(v)) return { list: v.map(tagged) };
  if (v instanceof PyTuple) return { tuple: v.items.map(tagged) };
  if (v instanceof PyDict) return { [v.ordered ? "odict" : "dict"]: [...v.map].map(([k, x]) => [tagged(k), tagged(x)]) };
  if (v instanceof PyObject) return { namespace: [...v.attrs.map].map(([k, x]) => [k, tagged(x)]) };
  throw new Error(`no tagged form for ${String(v)}`);
}

/** The globals the plain-data fixtures use. */
const PLAIN: ReadonlyMap<string, GlobalHandler> = new Map<string, GlobalHandler>([
  ["collections.OrderedDict", { call: () => new PyDict(true) }],
  ["argparse.Namespace", { construct: () => new PyObject("argparse.Namespace") }],
]);

const ops = (...parts: (number | string)[]): Uint8Array =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === "number" ? [p] : Array.from(new TextEncoder().encode(p)))));

describe("restricted unpickler", () => {
  for (let p = 0; p <= 5; p++) {
    it(`reads Python's protocol ${p} pickles of plain data as Python wrote them`, () => {
      const value = unpickle(readFileSync(`fixtures/weights/plain_p${p}.pkl`), { source: `plain_p${p}.pkl`, globals: PLAIN }).value;
      expect(tagged(value)).toEqual(JSON.parse(readFileSync(`fixtures/weights/plain_p${p}.json`, "utf8")));
    });
  }

  it("refuses a global it does not know before anything happens, naming it (protocol 2 GLOBAL and protocol 4 STACK_GLOBAL)", () => {
    let called = false;
    const globals = new Map<string, GlobalHandler>([["collections.OrderedDict", { call: () => ((called = true), new PyDict(true)) }]]);
    // GLOBAL 'os system' ; MARK 'echo' TUPLE REDUCE STOP
    const reduce = ops(0x80, 2, 0x63, "os\nsystem\n", 0x28, 0x58, 4, 0, 0, 0, "echo", 0x74, 0x52, 0x2e);
    expect(() => unpickle(reduce, { source: "evil.pkl", globals })).toThrow(/^evil\.pkl: refused: the pickle asks for the Python global 'os\.system'/);
    const stack = ops(0x80, 4, 0x8c, 8, "builtins", 0x8c, 4, "eval", 0x93, 0x8c, 1, "1", 0x85, 0x52, 0x2e);
    expect(() => unpickle(stack, { source: "evil.pkl", globals })).toThrow(/refused: the pickle asks for the Python global 'builtins\.eval'.*nothing was run/);
    // Python 2 names are reported under their Python 3 names
    expect(() => unpickle(ops(0x63, "__builtin__\ngetattr\n", 0x2e), { source: "p", globals })).toThrow(/'builtins\.getattr'/);
    // INST and OBJ go through the same table
    expect(() => unpickle(ops(0x28, 0x69, "subprocess\nPopen\n", 0x2e), { source: "p", globals })).toThrow(/'subprocess\.Popen'/);
    expect(called).toBe(false);
  });

  it("calls an accepted global only the way the caller allows (a storage class is a value, never called)", () => {
    const globals = new Map<string, GlobalHandler>([["torch.FloatStorage", {}]]);
    const call = ops(0x63, "torch\nFloatStorage\n", 0x29, 0x52, 0x2e);
    expect(() => unpickle(call, { source: "p", globals })).toThrow(/refused: the pickle calls 'torch\.FloatStorage', which this reader accepts only as a value/);
    // REDUCE on something that is not a global at all
    expect(() => unpickle(ops(0x4e, 0x29, 0x52, 0x2e), { source: "p", globals })).toThrow(/REDUCE \(a call\) of a None/);
    // BUILD on a list: no __setstate__ is ever looked up
    expect(() => unpickle(ops(0x5d, 0x7d, 0x62, 0x2e), { source: "p", globals })).toThrow(/BUILD \(setting the state\) of a list/);
  });

  it("refuses the opcodes that reach outside the data: extensions, out-of-band buffers, persistent ids without a loader", () => {
    const globals = new Map<string, GlobalHandler>();
    expect(() => unpickle(ops(0x80, 2, 0x82, 1, 0x2e), { source: "p", globals })).toThrow(/EXT1/);
    expect(() => unpickle(ops(0x80, 5, 0x97, 0x2e), { source: "p", globals })).toThrow(/NEXT_BUFFER/);
    expect(() => unpickle(ops(0x4e, 0x51, 0x2e), { source: "p", globals })).toThrow(/persistent id without a loader/);
  });

  const malformed: [string, Uint8Array, RegExp][] = [
    ["an empty input", new Uint8Array(0), /truncated/],
    ["a pickle without STOP", ops(0x80, 2, 0x4b, 1), /truncated/],
    ["a string longer than the data", ops(0x58, 0xff, 0xff, 0, 0, "ab", 0x2e), /truncated: 65535 byte\(s\) needed/],
    ["a memo entry never set", ops(0x68, 7, 0x2e), /memo entry 7 is not set/],
    ["STOP with two items on the stack", ops(0x4e, 0x4e, 0x2e), /STOP with 2 item/],
    ["APPEND to a dict", ops(0x7d, 0x4e, 0x61, 0x2e), /APPEND\(S\) on a dict/],
    ["an unknown opcode", ops(0xff), /unknown opcode 0xff/],
    ["a protocol from the future", ops(0x80, 9, 0x2e), /protocol 9/],
    ["invalid UTF-8 in a string", ops(0x8c, 1, 0xff, 0x2e), /not UTF-8/],
  ];
  for (const [what, bytes, message] of malformed) {
    it(`refuses ${what} in one line naming the input`, () => {
      expect(() => unpickle(bytes, { source: "m.pkl", globals: PLAIN })).toThrow(message);
      expect(() => unpickle(bytes, { source: "m.pkl", globals: PLAIN })).toThrow(/^m\.pkl: /);
    });
  }

  it("answers random bytes with a value or a one-line DinoRefError, never anything else", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.boolean(), (tail, proto) => {
        const bytes = proto ? Uint8Array.from([0x80, 2, ...tail]) : tail;
        try {
          unpickle(bytes, { source: "fuzz", globals: PLAIN, persistentLoad: () => null });
        } catch (e) {
          expect(e).toBeInstanceOf(DinoRefError);
          expect((e as Error).message).not.toContain("\n");
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("reads back what the protocol-2 writer writes (ints of any size, floats, str, lists, tuples, dicts, OrderedDicts, Namespaces)", () => {
    const leaf: fc.Arbitrary<PyValue> = fc.oneof(
      fc.constant(null),
      fc.boolean(),
      fc.bigInt({ min: -(1n << 80n), max: 1n << 80n }),
      fc.double(),
      fc.string(),
      fc.uint8Array({ maxLength: 8 }),
    );
    const { tree } = fc.letrec<{ tree: PyValue }>((tie) => ({
      tree: fc.oneof(
        { depthSize: "small" },
        leaf,
        fc.array(tie("tree"), { maxLength: 4 }),
        fc.array(tie("tree"), { maxLength: 5 }).map((items) => new PyTuple(items)),
        fc.tuple(fc.boolean(), fc.uniqueArray(fc.tuple(fc.oneof(fc.string(), fc.bigInt({ min: -1000n, max: 1000n })), tie("tree")), { selector: ([k]) => k, maxLength: 4 })).map(([ordered, entries]) => {
          const d = new PyDict(ordered);
          for (const [k, v] of entries) d.map.set(k, v);
          return d;
        }),
        fc.uniqueArray(fc.tuple(fc.string({ minLength: 1 }), tie("tree")), { selector: ([k]) => k, maxLength: 3 }).map((entries) => {
          const ns = new PyObject("argparse.Namespace");
          for (const [k, v] of entries) ns.attrs.map.set(k, v);
          return ns;
        }),
      ),
    }));
    fc.assert(
      fc.property(tree, (v) => {
        const back = unpickle(pickleProtocol2(v, () => null), { source: "rt", globals: PLAIN }).value;
        expect(tagged(back)).toEqual(tagged(v));
        if (typeof v === "number") expect(Object.is(back, v) || (Number.isNaN(v) && Number.isNaN(back as number))).toBe(true);
      }),
    );
  });

  it("keeps sets as plain lists of items (never calls set())", () => {
    const v = unpickle(ops(0x80, 4, 0x8f, 0x28, 0x4b, 1, 0x4b, 2, 0x90, 0x2e), { source: "s", globals: PLAIN }).value;
    expect(v).toBeInstanceOf(PySet);
    expect((v as PySet).items).toEqual([1n, 2n]);
  });
});
