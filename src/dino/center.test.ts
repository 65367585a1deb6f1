import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { updateCenter } from "./center.js";
import { f32Array } from "../../test/arbitraries.js";
import { ulpDistance } from "../../test/floatCompare.js";
import { ts32Backend, wasmBackend } from "../kernels/backend.js";

const teacherOf = (rows: number, K: number, data: Float32Array) => ({ shape: [rows, K], data });

const cases = fc
  .record({ B: fc.integer({ min: 1, max: 4 }), K: fc.integer({ min: 1, max: 13 }), m: fc.constantFrom(0.9, 0.99, 0.5, 0, 1) })
  .chain(({ B, K, m }) => fc.tuple(fc.constant(B), fc.constant(K), fc.constant(m), f32Array(K, 1), f32Array(2 * B * K, 1)));

describe.each([{ be: wasmBackend }, { be: ts32Backend }])("updateCenter: c ← m·c + (1 − m)·mean over all 2B raw teacher rows (kernels: $be.name)", ({ be }) => {
  it("matches the formula in float32 semantics, f32(f32(c·f32(m)) + f32(f32(1 − m)·mean))", () => {
    fc.assert(
      fc.property(cases, ([B, K, m, c, t]) => {
        const next = updateCenter(be, c, teacherOf(2 * B, K, t), m);
        for (let k = 0; k < K; k++) {
          let s = 0;
          for (let r = 0; r < 2 * B; r++) s += t[r * K + k];
          const mean = Math.fround(s / (2 * B));
          const f = Math.fround;
          expect(next[k]).toBe(f(f(c[k] * f(m)) + f(f(1 - m) * mean)));
        }
      }),
    );
  });

  it("has the centre as a fixed point when every teacher row equals it (up to the float32 rounding of m and 1 − m)", () => {
    fc.assert(
      fc.property(cases, ([B, K, m, c]) => {
        const rows = new Float32Array(2 * B * K);
        for (let r = 0; r < 2 * B; r++) rows.set(c, r * K);
        const next = updateCenter(be, c, teacherOf(2 * B, K, rows), m);
        // f32(m) + f32(1 − m) = 1 ± 2⁻²⁴ and two roundings of half an ulp each: at most 2 ulps
        for (let k = 0; k < K; k++) expect(ulpDistance(next[k], c[k])).toBeLessThanOrEqual(2);
      }),
    );
  });

  it("uses both global crops (every row) and the raw outputs, and does not modify its input", () => {
    const c = Float32Array.from([0.5, -0.25, 1]);
    const t = Float32Array.from([1, 2, 3, 3, 2, 1, 0, 0, 0, 4, 4, 4]); // 2B = 4 rows
    const before = c.slice();
    // m = 0: the centre becomes the plain batch mean, whatever it was
    expect(Array.from(updateCenter(be, c, teacherOf(4, 3, t), 0))).toEqual([2, 2, 2]);
    expect(Array.from(c)).toEqual(Array.from(before));
    // m = 1: unchanged
    expect(Array.from(updateCenter(be, c, teacherOf(4, 3, t), 1))).toEqual(Array.from(c));
    // a row of the second global crop moves the centre
    const t2 = t.slice();
    t2[9] += 4;
    expect(updateCenter(be, c, teacherOf(4, 3, t2), 0)[0]).toBe(3);
  });

  it("rejects a teacher of another width and a momentum outside [0, 1], by name", () => {
    expect(() => updateCenter(be, new Float32Array(3), teacherOf(2, 4, new Float32Array(8)), 0.9)).toThrow(/teacherOut has shape \[2, 4\]; expected \[2\*B, K\] with K = 3/);
    expect(() => updateCenter(be, new Float32Array(3), teacherOf(2, 3, new Float32Array(6)), 1.1)).toThrow(/centerMomentum 1.1/);
  });
});
