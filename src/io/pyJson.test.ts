import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PyDict } from "./pickle.js";
import { pyFloatRepr, pyJsonDumps, pyJsonLoads } from "./pyJson.js";

describe("Python-compatible JSON", () => {
  it("writes floats as Python's repr: the shortest exact digits, exponent outside [1e-4, 1e16)", () => {
    // Python 3: repr(x) for each x
    const cases: [number, string][] = [
      [7, "7.0"], [0.1, "0.1"], [1e-6, "1e-06"], [0.0001, "0.0001"], [0.00001, "1e-05"], [1e16, "1e+16"], [123456789012345.6, "123456789012345.6"],
      [-0, "-0.0"], [2.5e-310, "2.5e-310"], [1.7976931348623157e308, "1.7976931348623157e+308"], [-1.5, "-1.5"], [0.996, "0.996"],
    ];
    for (const [x, repr] of cases) expect(pyFloatRepr(x)).toBe(repr);
  });

  it("reads back what it writes, keeping ints (bigint) apart from floats", () => {
    const value = fc.letrec<{ v: unknown }>((tie) => ({
      v: fc.oneof(
        { depthSize: "small" },
        fc.constant(null), fc.boolean(), fc.bigInt(), fc.double(), fc.string(),
        fc.array(tie("v"), { maxLength: 4 }),
        fc.uniqueArray(fc.tuple(fc.string(), tie("v")), { selector: ([k]) => k, maxLength: 4 }).map((es) => {
          const d = new PyDict(false);
          for (const [k, x] of es.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) d.map.set(k, x as never);
          return d;
        }),
      ),
    })).v;
    fc.assert(
      fc.property(value, (v) => {
        const text = pyJsonDumps(v as never);
        expect(/^[\x20-\x7e]*$/.test(text)).toBe(true); // ensure_ascii
        expect(pyJsonDumps(pyJsonLoads(text, "t"))).toBe(text);
      }),
    );
  });

  it("refuses malformed JSON in one line naming the source", () => {
    expect(() => pyJsonLoads('{"a": 1,}', "metadata args")).toThrow(/^metadata args: not valid JSON/);
    expect(() => pyJsonLoads("[1] 2", "m")).toThrow(/trailing characters/);
  });
});
