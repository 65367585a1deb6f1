import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { exp64, exp64Wasm, log64, log64Wasm } from "./exp.js";

const bits = new BigUint64Array(1);
const view = new Float64Array(bits.buffer);

/** Same float64 bits (any NaN equal to any NaN). */
function sameBits(a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  view[0] = a;
  const x = bits[0];
  view[0] = b;
  return x === bits[0];
}

/** Indices where two arrays differ bitwise, with values, for a readable failure. */
function mismatches(got: Float64Array, want: ArrayLike<number>, x: Float64Array): string[] {
  const out: string[] = [];
  for (let i = 0; i < got.length && out.length < 5; i++) {
    if (!sameBits(got[i], want[i])) out.push(`x = ${x[i]}: ${got[i]} vs ${want[i]}`);
  }
  return out;
}

/** Distance in float64 units in the last place of `ref`. */
function ulps(a: number, ref: number): number {
  if (a === ref) return 0;
  const spacing = Math.max(Math.abs(ref) * 2 ** -52, 2 ** -1074);
  return Math.abs(a - ref) / 2 ** Math.floor(Math.log2(spacing));
}

const ln2 = Math.LN2;
const below = (v: number) => v - Math.abs(v) * 2 ** -52;
const above = (v: number) => v + Math.abs(v) * 2 ** -52;

/** exp's edge cases: ±0, tiny, the range-reduction boundaries (k + ½)·ln2, the overflow and underflow thresholds ± 1 ulp, the subnormal-result range, ±Inf, NaN. */
const EXP_EDGES = [
  0, -0, 5e-324, -5e-324, 1e-300, -1e-300, 2 ** -30, -(2 ** -30), 1e-10, 0.5 * ln2, -0.5 * ln2, 1.5 * ln2, -1.5 * ln2, 1, -1,
  709.782712893384, below(709.782712893384), above(709.782712893384), 709.79, 710, 1000, 1e300, Number.MAX_VALUE,
  -745.1332191019411, below(-745.1332191019411), above(-745.1332191019411), -745.2, -746, -1000, -1e300, -Number.MAX_VALUE,
  -708, -708.4, -708.5, -709, -720, -730.25, -740, -744, -744.44, 0.5625, -0.5625, -784, -784.5625,
  Infinity, -Infinity, NaN,
];

describe("exp64x2 (wasm, two lanes) against exp64", () => {
  it("is bit-identical lane by lane, and to the scalar wasm exp64, on the edge cases", () => {
    // each edge value in lane 0 and in lane 1, beside every other edge value
    const x = Float64Array.from(EXP_EDGES.flatMap((a) => EXP_EDGES.flatMap((b) => [a, b])));
    const want = Float64Array.from(x, exp64);
    expect(mismatches(exp64Wasm(x, 2), want, x)).toEqual([]);
    expect(mismatches(exp64Wasm(x, 1), want, x)).toEqual([]);
  });

  it("is bit-identical on 200k random points over the whole float64 exp range and beyond", () => {
    const n = 200_001; // odd: the last value runs alone in lane 0
    let s = 7;
    const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    const x = Float64Array.from({ length: n }, (_, i) =>
      i % 4 === 0 ? -760 + 1480 * rnd() : i % 4 === 1 ? -30 + 30 * rnd() : i % 4 === 2 ? (rnd() - 0.5) * 2 ** (-60 * rnd()) : -12 * rnd(),
    );
    const want = Float64Array.from(x, exp64);
    expect(mismatches(exp64Wasm(x, 2), want, x)).toEqual([]);
    expect(mismatches(exp64Wasm(x, 1), want, x)).toEqual([]);
  });

  it("is bit-identical on arbitrary float64 values (fast-check)", () => {
    fc.assert(
      fc.property(fc.array(fc.double(), { minLength: 1, maxLength: 41 }), (xs) => {
        const x = Float64Array.from(xs);
        expect(mismatches(exp64Wasm(x, 2), Float64Array.from(x, exp64), x)).toEqual([]);
      }),
    );
  });

  it("has exp64's special values", () => {
    const got = exp64Wasm(Float64Array.from([0, -0, Infinity, -Infinity, NaN, 710, -746, 1e300, -1e300]), 2);
    expect(Array.from(got)).toEqual([1, 1, Infinity, 0, NaN, Infinity, 0, Infinity, 0]);
  });
});

describe("log64", () => {
  const finitePositive = fc.double({ min: 5e-324, max: Number.MAX_VALUE, noNaN: true });

  it("is within 1 ulp of Math.log on the whole positive range and near 1", () => {
    fc.assert(
      fc.property(fc.oneof(finitePositive, fc.double({ min: 0.5, max: 2, noNaN: true }), fc.double({ min: 1, max: 65536, noNaN: true })), (x) => {
        expect(ulps(log64(x), Math.log(x))).toBeLessThanOrEqual(1);
      }),
      { numRuns: 2000 },
    );
  });

  it("has the right special values and is exact where ln x is", () => {
    expect(Object.is(log64(1), 0)).toBe(true);
    expect(log64(0)).toBe(-Infinity);
    expect(log64(-0)).toBe(-Infinity);
    expect(log64(-1)).toBeNaN();
    expect(log64(-Infinity)).toBeNaN();
    expect(log64(NaN)).toBeNaN();
    expect(log64(Infinity)).toBe(Infinity);
    expect(log64(2)).toBe(Math.LN2);
    expect(log64(Math.E)).toBe(1);
    for (const x of [5e-324, 1e-310, 2.2250738585072014e-308, Number.MAX_VALUE, Math.SQRT2, Math.SQRT1_2, 1 + 2 ** -52, 1 - 2 ** -53]) {
      expect(ulps(log64(x), Math.log(x))).toBeLessThanOrEqual(1);
    }
  });

  it("is bit-identical in wasm (log64Batch) on 100k points and the special values", () => {
    let s = 3;
    const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    const specials = [0, -0, -1, 1, 2, Math.SQRT2, Math.SQRT1_2, 5e-324, 1e-310, Number.MAX_VALUE, Infinity, -Infinity, NaN];
    const x = Float64Array.from([
      ...specials,
      ...Array.from({ length: 100_000 }, (_, i) => (i % 2 ? 1 + 65535 * rnd() : 2 ** (2000 * rnd() - 1070) * (1 + rnd()))),
    ]);
    expect(mismatches(log64Wasm(x), Float64Array.from(x, log64), x)).toEqual([]);
  });
});
