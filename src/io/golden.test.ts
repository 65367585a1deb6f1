import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { compareTensors, goldenCaseFrom } from "./golden.js";
import { tensor, type SafetensorsFile } from "./safetensors.js";

const f32 = (xs: number[], shape = [xs.length]) => tensor("F32", shape, Float32Array.from(xs));

describe("compareTensors (numpy allclose)", () => {
  it("passes exactly at the bound atol + rtol·|expected| and fails just above it", () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1e3, max: 1e3, noNaN: true }),
        fc.double({ min: 0, max: 1e-2, noNaN: true }),
        fc.double({ min: 0, max: 1e-2, noNaN: true }),
        (e, atol, rtol) => {
          const bound = atol + rtol * Math.abs(e);
          const expected = tensor("F64", [1], Float64Array.of(e));
          const inside = tensor("F64", [1], Float64Array.of(e + bound * 0.5));
          const outside = tensor("F64", [1], Float64Array.of(e + bound * 2 + 1e-9));
          expect(compareTensors("x", expected, inside, [atol, rtol]).pass).toBe(true);
          expect(compareTensors("x", expected, outside, [atol, rtol]).pass).toBe(false);
        },
      ),
    );
  });

  it("treats NaN = NaN and equal infinities as equal, but not NaN against a number", () => {
    expect(compareTensors("x", f32([NaN, Infinity, -Infinity]), f32([NaN, Infinity, -Infinity]), [0, 0]).pass).toBe(true);
    expect(compareTensors("x", f32([NaN]), f32([0]), [1, 1]).pass).toBe(false);
    expect(compareTensors("x", f32([1]), f32([NaN]), [1, 1]).pass).toBe(false);
    expect(compareTensors("x", f32([Infinity]), f32([-Infinity]), [1, 1]).pass).toBe(false);
  });

  it("reports the max errors and the worst index per dimension", () => {
    const expected = f32([0, 1, 2, 3, 4, 5], [2, 3]);
    const actual = f32([0, 1, 2, 3, 4.5, 5.1], [2, 3]);
    const r = compareTensors("y", expected, actual, [0.01, 0]);
    expect(r.pass).toBe(false);
    expect(r.mismatches).toBe(2);
    expect(r.maxAbsError).toBeCloseTo(0.5, 6);
    expect(r.maxRelError).toBeCloseTo(0.125, 6);
    expect(r.worstIndex).toEqual([1, 1]);
  });

  it("requires integer outputs to be equal whatever the tolerance", () => {
    const e = tensor("I64", [2], BigInt64Array.of(1n, 2n));
    expect(compareTensors("p", e, tensor("I64", [2], BigInt64Array.of(1n, 2n)), [1, 1]).pass).toBe(true);
    expect(compareTensors("p", e, tensor("I64", [2], BigInt64Array.of(1n, 3n)), [1, 1]).pass).toBe(false);
  });

  it("fails on a missing output, another shape or a float for an integer", () => {
    expect(compareTensors("c", f32([1, 2]), undefined, [0, 0]).problem).toBe("not produced");
    expect(compareTensors("c", f32([1, 2]), f32([1, 2], [2, 1]), [0, 0]).problem).toMatch(/shape \[2,1\] but expected \[2\]/);
    expect(compareTensors("c", tensor("U8", [1], Uint8Array.of(1)), f32([1]), [0, 0]).problem).toMatch(/dtype F32 but expected U8/);
  });
});

describe("goldenCaseFrom", () => {
  const file = (metadata: Record<string, string>, names = ["in.x", "out.y"]): SafetensorsFile => ({
    metadata,
    tensors: new Map(names.map((n) => [n, f32([1])])),
  });
  const ok = { format: "dino-golden/1", op: "gelu", params: "{}", tolerance: '{"default": [1e-6, 1e-5]}' };

  it("splits inputs and outputs and parses params and tolerances", () => {
    const c = goldenCaseFrom(file({ ...ok, params: '{"eps": 1e-6}', tolerance: '{"default": [0, 0], "out.y": [1, 2]}' }), "case.safetensors");
    expect([...c.inputs.keys()]).toEqual(["x"]);
    expect([...c.outputs.keys()]).toEqual(["y"]);
    expect(c.params).toEqual({ eps: 1e-6 });
    expect(c.tolerance["out.y"]).toEqual([1, 2]);
  });

  const bad: [string, SafetensorsFile, RegExp][] = [
    ["another format", file({ ...ok, format: "dino-golden/2" }), /format is "dino-golden\/2", expected "dino-golden\/1"/],
    ["no op", file({ ...ok, op: "" }), /op is missing/],
    ["params that are not JSON", file({ ...ok, params: "{eps" }), /params is not valid JSON/],
    ["a tolerance without default", file({ ...ok, tolerance: '{"out.y": [0, 0]}' }), /no "default" entry/],
    ["a negative tolerance", file({ ...ok, tolerance: '{"default": [-1, 0]}' }), /tolerance\.default must be \[atol, rtol\]/],
    ["a tensor that is neither in nor out", file(ok, ["in.x", "out.y", "weights"]), /tensor 'weights' is neither/],
    ["no outputs", file(ok, ["in.x"]), /no out\.\* tensors/],
  ];
  for (const [what, f, message] of bad) {
    it(`rejects ${what}, naming the file`, () => {
      expect(() => goldenCaseFrom(f, "case.safetensors")).toThrow(message);
      expect(() => goldenCaseFrom(f, "case.safetensors")).toThrow(/^case\.safetensors: not a dino-golden\/1 case/);
    });
  }
});
