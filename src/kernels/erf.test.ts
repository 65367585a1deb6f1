import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { erf64, erfc64, exp64 } from "./erf.js";
import { erfSeries, piFromMachin } from "../../test/erfReference.js";

/** Distance in units in the last place of `ref` (float64). */
function ulps(a: number, ref: number): number {
  if (a === ref) return 0;
  const spacing = Math.max(Math.abs(ref) * 2 ** -52, 2 ** -1074);
  // the spacing of float64 just below a power of two is half as large: measure against the smaller one
  return Math.abs(a - ref) / (2 ** Math.floor(Math.log2(spacing)));
}

const finite = (min: number, max: number) => fc.double({ min, max, noNaN: true, noDefaultInfinity: true });

describe("the high-precision reference itself", () => {
  it("reproduces π and erf(1) to the last bit", () => {
    expect(piFromMachin).toBe(Math.PI);
    // erf(1) = 0.8427007929497148693412206350826... (Abramowitz & Stegun table 7.1)
    expect(erfSeries(1)).toBe(0.8427007929497149);
  });
});

describe("exp64", () => {
  it("is within 1 ulp of Math.exp over the range it is used on", () => {
    fc.assert(
      fc.property(finite(-745, 709), (x) => {
        const ref = Math.exp(x);
        if (ref < 2 ** -1022) return; // subnormal: checked below
        expect(ulps(exp64(x), ref)).toBeLessThanOrEqual(1);
      }),
    );
  });

  it("has the right special values and rounds subnormal results once", () => {
    expect(exp64(0)).toBe(1);
    expect(exp64(-0)).toBe(1);
    expect(exp64(-Infinity)).toBe(0);
    expect(exp64(Infinity)).toBe(Infinity);
    expect(exp64(NaN)).toBeNaN();
    expect(exp64(710)).toBe(Infinity);
    expect(exp64(-746)).toBe(0);
    expect(ulps(exp64(1), Math.E)).toBeLessThanOrEqual(1);
    for (const x of [-708.5, -720, -730.25, -744]) {
      expect(Math.abs(exp64(x) - Math.exp(x))).toBeLessThanOrEqual(2 ** -1074);
    }
  });
});

describe("erf64 and erfc64", () => {
  it("agree with the 240-bit Maclaurin series to 1 ulp on |x| ≤ 3.5 (all rational intervals below 1/0.35 and part of the next)", () => {
    fc.assert(
      fc.property(fc.oneof(finite(-3.5, 3.5), finite(-1e-3, 1e-3), fc.constantFrom(0.84375, 1.25, 1 / 0.35, -0.84375, 1e-10, 3e-9)), (x) => {
        if (Math.abs(x) < 2 ** -60) return;
        const ref = erfSeries(x);
        expect(ulps(erf64(x), ref)).toBeLessThanOrEqual(1);
        // erfc where it is not tiny: 1 − erf with the reference's exactness
        if (Math.abs(x) < 1) expect(ulps(erfc64(x), 1 - ref)).toBeLessThanOrEqual(2);
      }),
    );
  });

  it("follows the asymptotic expansion of erfc for large x (to the conditioning of e^(−x²))", () => {
    fc.assert(
      fc.property(finite(5, 26), (x) => {
        // erfc(x) ≈ e^(−x²)/(x√π) · Σ_n (−1)^n (2n−1)!! / (2x²)^n, summed to its smallest term
        let term = 1;
        let sum = 1;
        for (let n = 1; n < 200; n++) {
          const next = (-term * (2 * n - 1)) / (2 * x * x);
          if (Math.abs(next) >= Math.abs(term)) break;
          term = next;
          sum += term;
        }
        const ref = (Math.exp(-x * x) / (x * Math.sqrt(Math.PI))) * sum;
        // e^(−x²) with x² rounded: relative error up to x²·2^-52, plus a few roundings
        const relTol = (x * x + 8) * 2 ** -52 + Math.abs(term);
        expect(Math.abs(erfc64(x) - ref) / ref).toBeLessThanOrEqual(relTol);
        expect(erfc64(-x)).toBe(2 - erfc64(x));
      }),
    );
  });

  it("satisfies erf(0) = 0, erf(−0) = −0, erf(±Inf) = ±1, erfc(±Inf) = 0 / 2, NaN → NaN", () => {
    expect(Object.is(erf64(0), 0)).toBe(true);
    expect(Object.is(erf64(-0), -0)).toBe(true);
    expect(erf64(Infinity)).toBe(1);
    expect(erf64(-Infinity)).toBe(-1);
    expect(erf64(NaN)).toBeNaN();
    expect(erfc64(0)).toBe(1);
    expect(erfc64(Infinity)).toBe(0);
    expect(erfc64(-Infinity)).toBe(2);
    expect(erfc64(NaN)).toBeNaN();
    expect(erf64(6)).toBe(1);
    expect(erf64(30)).toBe(1);
  });

  it("is odd bit for bit, and erf + erfc = 1 to rounding", () => {
    fc.assert(
      fc.property(finite(-30, 30), (x) => {
        expect(Object.is(erf64(-x), -erf64(x))).toBe(true);
        expect(Math.abs(erf64(x) + erfc64(x) - 1)).toBeLessThanOrEqual(3 * 2 ** -53);
      }),
    );
  });

  it("is continuous and monotone across the interval boundaries", () => {
    for (const b of [3.725290298461914e-9, 0.84375, 1.25, 1 / 0.35, 6, 28]) {
      const below = b * (1 - 2 ** -52);
      const above = b * (1 + 2 ** -52);
      expect(erf64(below)).toBeLessThanOrEqual(erf64(above));
      expect(erfc64(below)).toBeGreaterThanOrEqual(erfc64(above));
      expect(Math.abs(erf64(above) - erf64(below))).toBeLessThanOrEqual(4 * 2 ** -52);
      if (b < 28) expect(Math.abs(erfc64(above) / erfc64(below) - 1)).toBeLessThanOrEqual(8 * 2 ** -52 * Math.max(1, b * b));
    }
  });
});
