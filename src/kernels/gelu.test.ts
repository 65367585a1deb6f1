import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { geluBackward, geluBackwardRef, geluForward, geluForwardRef } from "./gelu.js";
import { awkwardSize, f32Array } from "../../test/arbitraries.js";
import { sameFloats, U32 } from "../../test/compare.js";
import { maxUlpDistance } from "../../test/floatCompare.js";

function fwd(impl: typeof geluForward, x: Float32Array): Float32Array {
  const y = new Float32Array(x.length).fill(123); // garbage: the forward must overwrite
  impl(y, x, x.length);
  return y;
}

function bwd(impl: typeof geluBackward, gradX0: Float32Array, gradY: Float32Array, x: Float32Array): Float32Array {
  const gradX = gradX0.slice();
  impl(gradX, gradY, x, x.length);
  return gradX;
}

/** GELU′(x)'s two terms Φ(x) and x·φ(x) in float64: the scale of the derivative's rounding (they cancel near x ≈ −0.75). */
function derivativeScale(x: number): number {
  const phi = Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
  // |Φ(x)| ≤ max(1, ...); Φ(x) itself is bounded by Φ(|x|)
  return Math.max(Math.abs(x * phi), x < 0 ? 0.5 * Math.exp(-0.5 * x * x) : 1, 2 ** -126);
}

/**
 * The kernel's backward (from gradX0 = 0, gradY = 1) against the oracle, in float32 ulps of the
 * derivative's scale: the float32 exp and the fitted erfcx make each term good to a few ulp.
 * Where the result is subnormal (x < −13), a few units of the smallest subnormal are not counted.
 */
function backwardError(x: Float32Array): number {
  const n = x.length;
  const ones = new Float32Array(n).fill(1);
  const wasm = bwd(geluBackward, new Float32Array(n), ones, x);
  const ref = bwd(geluBackwardRef, new Float32Array(n), ones, x);
  let worst = 0;
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(ref[i]) && Number.isNaN(wasm[i])) continue;
    worst = Math.max(worst, Math.max(0, Math.abs(wasm[i] - ref[i]) - 4 * 2 ** -149) / (U32 * 2 * derivativeScale(x[i])));
  }
  return worst;
}

/**
 * The kernel's forward against the oracle in float32 ulps where the exact result is a normal float;
 * where it is subnormal (x < −13), within a few units of the smallest subnormal.
 */
function forwardError(x: Float32Array): number {
  const y = fwd(geluForward, x);
  const ref = fwd(geluForwardRef, x);
  const normal = (v: number) => Math.abs(v) >= 2 ** -126;
  ref.forEach((r, i) => {
    if (!normal(r)) expect(Math.abs(y[i] - r)).toBeLessThanOrEqual(2 ** -126 * 2 ** -20 * Math.abs(x[i]) + 2 ** -145);
  });
  return maxUlpDistance(y.filter((_, i) => normal(ref[i])), ref.filter(normal));
}

describe("GELU wasm against the oracle", () => {
  it("forward within 12 ulp and backward within 6 ulp of the derivative's scale, on random sizes and values", () => {
    fc.assert(
      fc.property(
        awkwardSize().chain((n) => fc.tuple(f32Array(n, 12), f32Array(n), f32Array(n))),
        ([x, gradY, gradX0]) => {
          expect(forwardError(x)).toBeLessThanOrEqual(12);
          expect(backwardError(x)).toBeLessThanOrEqual(6);
          // gradX += gradY·GELU′(x): within 6 ulp of the scale of the two terms added
          const wasm = bwd(geluBackward, gradX0, gradY, x);
          const ref = bwd(geluBackwardRef, gradX0, gradY, x);
          for (let i = 0; i < x.length; i++) {
            const scale = Math.abs(gradX0[i]) + Math.abs(gradY[i]) * derivativeScale(x[i]);
            expect(Math.abs(wasm[i] - ref[i])).toBeLessThanOrEqual(7 * 2 * U32 * scale + 2 ** -149);
          }
        },
      ),
    );
  });

  it("forward within 12 ulp (4 for x > −1) and backward within 6 ulp of the scale on a dense grid, −16 to 16", () => {
    const n = 320_001;
    const x = Float32Array.from({ length: n }, (_, i) => -16 + (32 * i) / (n - 1));
    expect(forwardError(x)).toBeLessThanOrEqual(12);
    expect(forwardError(x.filter((v) => v > -1))).toBeLessThanOrEqual(4);
    expect(backwardError(x)).toBeLessThanOrEqual(6);
  });

  it("agrees on NaN, ±Inf, ±0, huge and subnormal inputs, with PyTorch's values there", () => {
    const x = Float32Array.from([NaN, Infinity, -Infinity, 0, -0, 3e38, -3e38, 1e-40, -1e-40, 1e-30]);
    const y = fwd(geluForward, x);
    expect(sameFloats(y, fwd(geluForwardRef, x))).toBe(true);
    expect(y[0]).toBeNaN();
    expect(y[1]).toBe(Infinity);
    expect(y[2]).toBeNaN(); // −Inf·0, as 0.5·x·(1 + erf(x/√2)) gives in PyTorch
    expect(y[3]).toBe(0);
    expect(y[5]).toBe(Math.fround(3e38));
    expect(Object.is(y[6], -0)).toBe(true);
    expect(y[7]).toBe(Math.fround(Math.fround(1e-40) / 2));
    expect(y[9]).toBe(Math.fround(1e-30 / 2));
    const g = bwd(geluBackward, new Float32Array(x.length), new Float32Array(x.length).fill(1), x);
    expect(sameFloats(g, bwd(geluBackwardRef, new Float32Array(x.length), new Float32Array(x.length).fill(1), x))).toBe(true);
    expect(g[0]).toBeNaN();
    expect(g[1]).toBeNaN(); // 1 + Inf·0
    expect(g[3]).toBe(0.5);
    expect(g[5]).toBe(1);
    expect(Math.abs(g[6])).toBe(0);
  });
});

describe("GELU values", () => {
  it("matches the exact erf form, not the tanh approximation", () => {
    // x·Φ(x) and Φ(x) + x·φ(x) from mpmath 1.3 at 40 digits
    const cases: [number, number, number][] = [
      [-3, -0.00404969409489028358, -0.011945647204183927],
      [-1, -0.15865525393145705141, -0.083315470587686298383],
      [-0.5, -0.15426876936299344818, 0.13250487534383715747],
      [0.5, 0.34573123063700655182, 0.86749512465616284253],
      [1, 0.84134474606854294859, 1.0833154705876862984],
      [2, 1.9544997361036415856, 1.0852318010781968967],
      [3, 2.9959503059051097164, 1.011945647204183927],
    ];
    const x = Float32Array.from(cases.map((c) => c[0]));
    const y = fwd(geluForward, x);
    const g = bwd(geluBackward, new Float32Array(x.length), new Float32Array(x.length).fill(1), x);
    cases.forEach(([, yRef, gRef], i) => {
      // the oracle is correctly rounded to float32 (its float64 evaluation is good to a few 1e-16)
      const oracleY = fwd(geluForwardRef, x.subarray(i, i + 1))[0];
      expect(oracleY).toBe(Math.fround(yRef));
      // the kernel within a few ulp of the exact values
      expect(maxUlpDistance([y[i]], [Math.fround(yRef)])).toBeLessThanOrEqual(6);
      expect(maxUlpDistance([g[i]], [Math.fround(gRef)])).toBeLessThanOrEqual(4);
    });
  });

  it("tends to x for large x and to 0 for very negative x", () => {
    const x = Float32Array.from([8, 10, 50, 1e6, -8, -10, -30, -1e6]);
    const y = fwd(geluForward, x);
    for (let i = 0; i < 4; i++) expect(y[i]).toBe(x[i]);
    expect(Math.abs(y[4])).toBeLessThan(1e-13);
    expect(Math.abs(y[5])).toBeLessThan(1e-21);
    expect(Math.abs(y[6])).toBe(0);
    expect(Math.abs(y[7])).toBe(0);
    const g = bwd(geluBackward, new Float32Array(8), new Float32Array(8).fill(1), x);
    expect(Array.from(g.subarray(1, 4))).toEqual([1, 1, 1]);
    expect(Array.from(g.subarray(6), Math.abs)).toEqual([0, 0]);
  });
});

describe("GELU backward", () => {
  it("matches float64 central finite differences of the float64 oracle (loss Σ gradY·y)", () => {
    fc.assert(
      fc.property(
        awkwardSize(20).chain((n) => fc.tuple(f32Array(n, 6), f32Array(n))),
        ([x32, gy32]) => {
          const n = x32.length;
          const x = Float64Array.from(x32);
          const gradY = Float64Array.from(gy32);
          const grad = new Float64Array(n);
          geluBackwardRef(grad, gradY, x, n);
          const y = new Float64Array(n);
          const loss = (xs: Float64Array) => {
            geluForwardRef(y, xs, n);
            let s = 0;
            for (let i = 0; i < n; i++) s += gradY[i] * y[i];
            return s;
          };
          const h = 1e-6;
          for (let i = 0; i < n; i++) {
            const xp = x.slice();
            const xm = x.slice();
            xp[i] += h;
            xm[i] -= h;
            const fd = (loss(xp) - loss(xm)) / (2 * h);
            // truncation h²·|f'''| (|gelu'''| < 1) plus cancellation ~ n·2^-52·|loss|/h
            expect(Math.abs(fd - grad[i])).toBeLessThanOrEqual(h * h + (n * 8 * 2 ** -52 * 50) / h);
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  it("accumulates: a second call adds the same gradient again", () => {
    const x = Float32Array.from([-2.5, -0.3, 0, 0.7, 1.9, 4]);
    const gradY = Float32Array.from([1, -2, 0.5, 3, -1, 0.25]);
    const once = bwd(geluBackward, new Float32Array(6), gradY, x);
    const twice = once.slice();
    geluBackward(twice, gradY, x, 6);
    expect(Array.from(twice)).toEqual(Array.from(once, (v) => 2 * v));
    const offset = bwd(geluBackward, new Float32Array(6).fill(10), gradY, x);
    // 10 + (contribution rounded once), versus the float32 contribution added: one float32 ulp apart at most
    offset.forEach((v, i) => expect(Math.abs(v - (10 + once[i]))).toBeLessThanOrEqual(2 ** -23 * Math.abs(10 + once[i])));
  });
});

describe("GELU argument checks", () => {
  it("names the argument and what was expected", () => {
    expect(() => geluForward(new Float32Array(3), new Float32Array(4), 3)).toThrow(/geluForward: x has 4 elements, expected n = 3/);
    expect(() => geluForwardRef(new Float32Array(0), new Float32Array(0), 0)).toThrow(/n must be a positive integer, got 0/);
    expect(() => geluBackward(new Float32Array(3), new Float32Array(2), new Float32Array(3), 3)).toThrow(/gradY has 2 elements/);
  });
});
