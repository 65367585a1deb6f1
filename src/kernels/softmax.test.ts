import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { softmaxForward, softmaxForwardRef, logSoftmaxForward, logSoftmaxForwardRef, softmaxAndLogSoftmaxRef } from "./softmax.js";
import { awkwardSize, bitEqual, f32Array } from "../../test/arbitraries.js";
import { maxUlpDistance } from "../../test/floatCompare.js";

// Oracle and kernel do the same operations in the same order (the row sum too, left to right in
// float64), with the project's own exp64/log64 (bit-identical in TypeScript and wasm, also in
// exp64x2's two lanes): the results must agree bit for bit.
const MAX_ULPS = 0;

const shapeAndLogits = (bound = 8) =>
  fc.tuple(awkwardSize(6), awkwardSize(45)).chain(([R, K]) =>
    fc.tuple(fc.constant(R), fc.constant(K), f32Array(R * K, bound), fc.constantFrom(1, 0.1, 0.04, 0.07, 3.3)),
  );

function run(fn: typeof softmaxForward, logits: Float32Array, R: number, K: number, t: number): Float32Array {
  const out = new Float32Array(R * K);
  fn(out, logits, R, K, t);
  return out;
}

describe("softmaxForward / logSoftmaxForward (wasm) against their oracles", () => {
  it("are bit-identical on random shapes that are not multiples of 4", () => {
    fc.assert(
      fc.property(shapeAndLogits(), ([R, K, x, t]) => {
        expect(maxUlpDistance(run(softmaxForward, x, R, K, t), run(softmaxForwardRef, x, R, K, t))).toBeLessThanOrEqual(MAX_ULPS);
        expect(maxUlpDistance(run(logSoftmaxForward, x, R, K, t), run(logSoftmaxForwardRef, x, R, K, t))).toBeLessThanOrEqual(MAX_ULPS);
      }),
    );
  });

  it("agree on edge values: NaN, ±Inf, huge, tiny and all-equal rows", () => {
    const rows = [
      [1, NaN, 2, 3, 4],
      [Infinity, 1, 2, 3, 4],
      [-Infinity, 1, 2, 3, 4],
      [-Infinity, -Infinity, -Infinity, -Infinity, -Infinity],
      [3e38, -3e38, 1e38, 0, 5],
      [1e-40, -1e-45, 0, -0, 1e-30],
      [7, 7, 7, 7, 7],
    ];
    const x = Float32Array.from(rows.flat());
    const R = rows.length;
    const K = 5;
    for (const t of [1, 0.04, 1e-3]) {
      const p = run(softmaxForward, x, R, K, t);
      expect(maxUlpDistance(p, run(softmaxForwardRef, x, R, K, t))).toBe(0);
      expect(maxUlpDistance(run(logSoftmaxForward, x, R, K, t), run(logSoftmaxForwardRef, x, R, K, t))).toBe(0);
      // NaN, +Inf and an all −Inf row make the whole row NaN
      for (const r of [0, 1, 3]) expect(Array.from(p.subarray(r * K, r * K + K)).every(Number.isNaN)).toBe(true);
      // −Inf alone gets probability 0
      expect(p[2 * K]).toBe(0);
      // all-equal rows are uniform
      for (let k = 0; k < K; k++) expect(p[6 * K + k]).toBeCloseTo(0.2, 6);
    }
  });

  it("are bit-identical on long rows at DINO's head width and temperature (K = 65536 + 3, τ 0.1)", () => {
    const R = 3;
    const K = 65539;
    let seed = 5;
    const x = Float32Array.from({ length: R * K }, () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 31 - 1);
    expect(bitEqual(run(softmaxForward, x, R, K, 0.1), run(softmaxForwardRef, x, R, K, 0.1))).toBe(true);
    expect(bitEqual(run(logSoftmaxForward, x, R, K, 0.1), run(logSoftmaxForwardRef, x, R, K, 0.1))).toBe(true);
  });

  it("works in place (output aliasing the logits)", () => {
    const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7]);
    const expected = run(softmaxForwardRef, x, 1, 7, 0.5);
    const y = x.slice();
    softmaxForward(y, y, 1, 7, 0.5);
    expect(maxUlpDistance(y, expected)).toBeLessThanOrEqual(MAX_ULPS);
  });
});

describe("softmax properties (oracle in float64, kernel in float32)", () => {
  it("rows sum to 1 and log-softmax is the log of softmax", () => {
    fc.assert(
      fc.property(shapeAndLogits(20), ([R, K, x, t]) => {
        const p = run(softmaxForward, x, R, K, t);
        const lp = run(logSoftmaxForward, x, R, K, t);
        for (let r = 0; r < R; r++) {
          let s = 0;
          for (let k = 0; k < K; k++) {
            s += p[r * K + k];
            // log p vs log_softmax: close in absolute terms where p is not tiny
            if (p[r * K + k] > 1e-6) expect(Math.abs(Math.log(p[r * K + k]) - lp[r * K + k])).toBeLessThan(1e-5);
          }
          // each p is within 1 ulp of e/Σe; K of them: |Σp − 1| <= K·2⁻²⁴ plus the rounding of the sum
          expect(Math.abs(s - 1)).toBeLessThanOrEqual((K + 2) * 2 ** -24);
        }
      }),
    );
  });

  it("is unchanged by adding a constant to a row (float64 oracle)", () => {
    fc.assert(
      fc.property(shapeAndLogits(5), fc.double({ min: -50, max: 50, noNaN: true }), ([R, K, x, t], c) => {
        const shifted = Float64Array.from(x, (v) => v + c);
        const a = new Float64Array(R * K);
        const b = new Float64Array(R * K);
        softmaxForwardRef(a, Float64Array.from(x), R, K, t);
        softmaxForwardRef(b, shifted, R, K, t);
        // float64: z = (x + c)/τ loses |c/τ|·2⁻⁵³ per element, amplified by nothing larger than 1
        const tol = 8 * (Math.abs(c) / t + 5 / t) * 2 ** -53 + 1e-15;
        for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(tol);
      }),
    );
  });

  it("approaches the one-hot argmax as τ → 0 and the uniform distribution as τ → ∞", () => {
    const x = Float64Array.from([0.3, -1.2, 0.9, 0.85, 0.1, -0.4, 0.0]);
    const K = x.length;
    const p = new Float64Array(K);
    softmaxForwardRef(p, x, 1, K, 1e-4);
    expect(p[2]).toBeCloseTo(1, 12);
    softmaxForwardRef(p, x, 1, K, 1e6);
    for (let k = 0; k < K; k++) expect(p[k]).toBeCloseTo(1 / K, 6);
    // and monotonically in between: the top probability grows as τ shrinks
    let prev = 0;
    for (const t of [100, 10, 1, 0.1, 0.04, 0.01]) {
      softmaxForwardRef(p, x, 1, K, t);
      expect(p[2]).toBeGreaterThan(prev);
      prev = p[2];
    }
  });

  it("rejects bad sizes and temperatures by name", () => {
    const x = new Float32Array(6);
    expect(() => softmaxForward(new Float32Array(6), x, 2, 4, 1)).toThrow(/logits has 6 elements; expected R\*K = 2\*4 = 8/);
    expect(() => logSoftmaxForward(new Float32Array(5), x, 2, 3, 1)).toThrow(/output has 5 elements/);
    expect(() => softmaxForwardRef(new Float32Array(6), x, 2, 3, 0)).toThrow(/temperature 0/);
  });
});

describe("softmaxAndLogSoftmaxRef", () => {
  it("gives the values of softmaxForwardRef and logSoftmaxForwardRef, bit for bit, in float32 and float64", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 40 }), fc.double({ min: 0.01, max: 10, noNaN: true }), fc.nat(), (R, K, tau, seed) => {
        for (const Type of [Float32Array, Float64Array]) {
          const logits = new Type(R * K);
          for (let i = 0; i < R * K; i++) logits[i] = Math.sin(i * 1.7 + seed) * 20;
          const [p, lp, p2, lp2] = [0, 1, 2, 3].map(() => new Type(R * K));
          softmaxForwardRef(p, logits, R, K, tau);
          logSoftmaxForwardRef(lp, logits, R, K, tau);
          softmaxAndLogSoftmaxRef(p2, lp2, logits, R, K, tau);
          expect(Array.from(p2)).toEqual(Array.from(p));
          expect(Array.from(lp2)).toEqual(Array.from(lp));
        }
      }),
    );
  });
});
