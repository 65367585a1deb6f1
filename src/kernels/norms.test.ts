import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { l2Norm, l2NormRef, scaleInPlace, scaleInPlaceRef } from "./norms.js";
import { awkwardSize, f32Array, bitEqual } from "../../test/arbitraries.js";
import { ulpDistance } from "../../test/floatCompare.js";

describe("l2Norm (wasm) against l2NormRef (oracle)", () => {
  // Both sum the float64 squares (exact for float32 inputs up to the sum's own rounding); only the
  // order differs, by a relative n·2⁻⁵³ << 2⁻²⁴, so the float32 results are equal or adjacent.
  it("agree within 1 float32 ulp on random sizes and magnitudes", () => {
    fc.assert(
      fc.property(
        awkwardSize(300).chain((n) => fc.tuple(f32Array(n, 1), fc.constantFrom(1, 1e-30, 1e30, 3))),
        ([x, scale]) => {
          const y = x.map((v) => v * scale);
          expect(ulpDistance(l2Norm(y), l2NormRef(y))).toBeLessThanOrEqual(1);
        },
      ),
    );
  });

  it("handles empty, NaN, Inf, zeros, subnormals and values whose float32 squares overflow", () => {
    const cases: number[][] = [[], [0, -0, 0], [3, 4], [NaN, 1, 2, 3, 4], [Infinity, 1, 2, 3, -4], [1e-45, 1e-45, 0, 0, 1e-44], [3e38, 3e38, -3e38, 1, 2, 3]];
    const expected = [0, 0, 5, NaN, Infinity, null, Infinity];
    cases.forEach((c, i) => {
      const x = Float32Array.from(c);
      const fast = l2Norm(x);
      expect(ulpDistance(fast, l2NormRef(x))).toBe(0);
      if (expected[i] !== null) expect(fast).toBe(expected[i]);
    });
    // 2·(3e38)² overflows float32 but not the float64 accumulator
    expect(l2NormRef(Float32Array.from([3e37, 3e37, 3e37, 3e37, 3e37]))).toBe(Math.fround(Math.sqrt(5) * Math.fround(3e37)));
  });
});

describe("scaleInPlace (wasm) against scaleInPlaceRef (oracle)", () => {
  it("is bit-identical on random sizes and scales, NaN and Inf included", () => {
    fc.assert(
      fc.property(awkwardSize().chain((n) => fc.tuple(f32Array(n, 100), fc.double({ min: -2, max: 2, noNaN: true }))), ([x, s]) => {
        const a = x.slice();
        const b = x.slice();
        scaleInPlaceRef(a, s);
        scaleInPlace(b, s);
        expect(bitEqual(a, b)).toBe(true);
      }),
    );
    const a = Float32Array.from([NaN, Infinity, -Infinity, 0, -0]);
    const b = a.slice();
    scaleInPlaceRef(a, 0);
    scaleInPlace(b, 0);
    expect(bitEqual(a, b)).toBe(true);
  });
});
