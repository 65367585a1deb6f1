import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { layerNormBackward, layerNormBackwardRef, layerNormForward, layerNormForwardRef } from "./layernorm.js";
import { awkwardSize, bitEqual, f32Array } from "../../test/arbitraries.js";
import { U32, U64, sameFloats } from "../../test/compare.js";

type Impl = "wasm" | "ref";
interface Fwd {
  y: Float32Array;
  mean: Float32Array;
  rstd: Float32Array;
}

function forward(impl: Impl, x: Float32Array, w: Float32Array, b: Float32Array, R: number, D: number, eps: number): Fwd {
  const out = { y: new Float32Array(R * D).fill(7), mean: new Float32Array(R), rstd: new Float32Array(R) };
  (impl === "wasm" ? layerNormForward : layerNormForwardRef)(out.y, out.mean, out.rstd, x, w, b, R, D, eps);
  return out;
}

/** The shapes first, then the values: x [R,D], weight, bias [D], gradY [R,D], eps. */
const lnCase = fc
  .tuple(awkwardSize(12), awkwardSize(70))
  .chain(([R, D]) =>
    fc.record({
      R: fc.constant(R),
      D: fc.constant(D),
      x: f32Array(R * D, 8),
      w: f32Array(D, 2),
      b: f32Array(D, 2),
      gy: f32Array(R * D, 2),
      eps: fc.constantFrom(1e-6, 1e-5, 1e-3, 0.25),
    }),
  );

function maxAbsRow(x: ArrayLike<number>, r: number, D: number): number {
  let m = 0;
  for (let d = 0; d < D; d++) m = Math.max(m, Math.abs(x[r * D + d]));
  return m;
}

describe("LayerNorm forward: wasm against the oracle", () => {
  it("agrees within the float64 row-sum reordering plus one float32 rounding", () => {
    fc.assert(
      fc.property(lnCase, ({ R, D, x, w, b, eps }) => {
        const fast = forward("wasm", x, w, b, R, D, eps);
        const ref = forward("ref", x, w, b, R, D, eps);
        // row sums of D float64 terms in another order: |Δ| ≤ D·u64 per sum, 2D+4 roundings in all
        const g = 2 * (2 * D + 4) * U64;
        for (let r = 0; r < R; r++) {
          const s = ref.rstd[r];
          const maxX = maxAbsRow(x, r, D);
          expect(Math.abs(fast.mean[r] - ref.mean[r])).toBeLessThanOrEqual(2 * U32 * Math.abs(ref.mean[r]) + g * maxX);
          expect(Math.abs(fast.rstd[r] - s)).toBeLessThanOrEqual((2 * U32 + g) * s);
          for (let d = 0; d < D; d++) {
            const i = r * D + d;
            const xh = (x[i] - ref.mean[r]) * s;
            const tol = 2 * U32 * Math.abs(ref.y[i]) + 2 ** -149 + g * (Math.abs(w[d]) * (s * maxX + Math.abs(xh)) + Math.abs(b[d]));
            expect(Math.abs(fast.y[i] - ref.y[i])).toBeLessThanOrEqual(tol);
          }
        }
      }),
    );
  });

  it("gives exactly bias, mean = x and rstd = 1/sqrt(eps) on rows of equal values, and on D = 1", () => {
    const D = 37;
    const cs = [0, 3.7, -1e20, 1e-30, 65504.5];
    const x = Float32Array.from({ length: cs.length * D }, (_, i) => cs[Math.floor(i / D)]);
    const w = Float32Array.from({ length: D }, (_, d) => 0.5 + d);
    const b = Float32Array.from({ length: D }, (_, d) => d / 7 - 2);
    for (const impl of ["wasm", "ref"] as const) {
      const { y, mean, rstd } = forward(impl, x, w, b, cs.length, D, 1e-6);
      for (let r = 0; r < cs.length; r++) {
        expect(mean[r]).toBe(Math.fround(cs[r]));
        expect(rstd[r]).toBe(Math.fround(1 / Math.sqrt(1e-6)));
        expect(bitEqual(y.subarray(r * D, (r + 1) * D), b)).toBe(true);
      }
      const one = forward(impl, Float32Array.from([5, -2, 1e30]), Float32Array.from([3]), Float32Array.from([0.25]), 3, 1, 1e-5);
      expect(Array.from(one.y)).toEqual([0.25, 0.25, 0.25]);
    }
  });

  it("propagates NaN and ±Inf to their own row only", () => {
    const D = 6;
    const x = Float32Array.from([1, 2, NaN, 4, 5, 6, 1, Infinity, 3, 4, 5, 6, -Infinity, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 7]);
    const w = new Float32Array(D).fill(1);
    const b = new Float32Array(D);
    const fast = forward("wasm", x, w, b, 4, D, 1e-6);
    const ref = forward("ref", x, w, b, 4, D, 1e-6);
    expect(sameFloats(fast.y, ref.y)).toBe(true);
    for (let i = 0; i < 3 * D; i++) expect(fast.y[i]).toBeNaN();
    const alone = forward("wasm", x.slice(3 * D), w, b, 1, D, 1e-6);
    expect(bitEqual(fast.y.subarray(3 * D), alone.y)).toBe(true);
    expect(fast.y.subarray(3 * D).every(Number.isFinite)).toBe(true);
  });

  it("is scale-invariant for huge magnitudes and linear below sqrt(eps) for tiny ones", () => {
    const D = 45;
    const base = Float32Array.from({ length: D }, (_, d) => Math.sin(d * 1.7) * 3);
    const w = new Float32Array(D).fill(1);
    const b = new Float32Array(D);
    for (const impl of ["wasm", "ref"] as const) {
      const unit = forward(impl, base, w, b, 1, D, 1e-6).y;
      const huge = forward(impl, base.map((v) => v * 1e30), w, b, 1, D, 1e-6).y;
      const big = forward(impl, base.map((v) => v * 1e37), w, b, 1, D, 1e-6).y; // var ~1e74: only float64 moments survive
      for (let d = 0; d < D; d++) {
        expect(Math.abs(huge[d] - unit[d])).toBeLessThanOrEqual(4 * U32 * 3 + 1e-6);
        expect(Math.abs(big[d] - unit[d])).toBeLessThanOrEqual(4 * U32 * 3 + 1e-6);
      }
      // var ~1e-60 ≪ eps: y = (x − mean)/sqrt(eps)
      const tinyX = base.map((v) => v * 1e-30);
      const tiny = forward(impl, tinyX, w, b, 1, D, 1e-6);
      for (let d = 0; d < D; d++) {
        const expected = (tinyX[d] - tiny.mean[0]) * 1e3;
        expect(Math.abs(tiny.y[d] - expected)).toBeLessThanOrEqual(4 * U32 * Math.abs(expected) + 1e-36);
      }
    }
  });

  it("with weight 1, bias 0 makes rows of mean 0 and BIASED variance var/(var + eps)", () => {
    fc.assert(
      fc.property(lnCase, ({ R, D, x }) => {
        if (D < 2) return;
        const eps = 0.5; // large, so that eps 1e-5 or an unbiased variance would show
        const w = new Float32Array(D).fill(1);
        const b = new Float32Array(D);
        for (const impl of ["wasm", "ref"] as const) {
          const { y } = forward(impl, x, w, b, R, D, eps);
          for (let r = 0; r < R; r++) {
            let mx = 0;
            for (let d = 0; d < D; d++) mx += x[r * D + d] / D;
            let vx = 0;
            for (let d = 0; d < D; d++) vx += (x[r * D + d] - mx) ** 2 / D;
            let my = 0;
            for (let d = 0; d < D; d++) my += y[r * D + d] / D;
            let vy = 0;
            for (let d = 0; d < D; d++) vy += (y[r * D + d] - my) ** 2 / D;
            const maxY = maxAbsRow(y, r, D);
            // y rounded to float32: mean off by ≤ u·max|y|, variance by ≤ 3u relative (+ test sums)
            expect(Math.abs(my)).toBeLessThanOrEqual(2 * U32 * maxY + 4 * D * U64);
            expect(Math.abs(vy - vx / (vx + eps))).toBeLessThanOrEqual(4 * U32 * (vy + U32) + 8 * D * U64);
          }
        }
      }),
    );
  });
});

function backward(
  impl: Impl, gx0: Float32Array, gw0: Float32Array, gb0: Float32Array, gy: Float32Array, x: Float32Array, f: Fwd, w: Float32Array, R: number, D: number,
) {
  const gradX = gx0.slice();
  const gradW = gw0.slice();
  const gradB = gb0.slice();
  (impl === "wasm" ? layerNormBackward : layerNormBackwardRef)(gradX, gradW, gradB, gy, x, f.mean, f.rstd, w, R, D);
  return { gradX, gradW, gradB };
}

describe("LayerNorm backward", () => {
  it("wasm matches the oracle: gradWeight, gradBias bit for bit, gradX within the row-sum reordering", () => {
    fc.assert(
      fc.property(lnCase, f32Array(4, 1), ({ R, D, x, w, b, gy, eps }, init) => {
        const f = forward("wasm", x, w, b, R, D, eps);
        // start from non-zero gradients: the kernels accumulate
        const gx0 = new Float32Array(R * D).fill(init[0]);
        const gw0 = new Float32Array(D).fill(init[1]);
        const gb0 = new Float32Array(D).fill(init[2]);
        const fast = backward("wasm", gx0, gw0, gb0, gy, x, f, w, R, D);
        const ref = backward("ref", gx0, gw0, gb0, gy, x, f, w, R, D);
        expect(bitEqual(fast.gradW, ref.gradW)).toBe(true);
        expect(bitEqual(fast.gradB, ref.gradB)).toBe(true);
        for (let r = 0; r < R; r++) {
          const s = f.rstd[r];
          let absG = 0;
          let absGX = 0;
          for (let d = 0; d < D; d++) {
            const g = Math.abs(gy[r * D + d] * w[d]);
            absG += g / D;
            absGX += (g * Math.abs((x[r * D + d] - f.mean[r]) * s)) / D;
          }
          for (let d = 0; d < D; d++) {
            const i = r * D + d;
            const xh = Math.abs((x[i] - f.mean[r]) * s);
            const tol = 2 * U32 * Math.abs(ref.gradX[i]) + 2 ** -149 + 2 * (D + 4) * U64 * s * (absG + xh * absGX) * 2;
            expect(Math.abs(fast.gradX[i] - ref.gradX[i])).toBeLessThanOrEqual(tol);
          }
        }
      }),
    );
  });

  it("matches float64 central finite differences of the float64 oracle (loss Σ gradY·y)", () => {
    const small = fc
      .tuple(awkwardSize(4), awkwardSize(9))
      .chain(([R, D]) =>
        fc.record({
          R: fc.constant(R), D: fc.constant(D), x: f32Array(R * D, 3), w: f32Array(D, 2), b: f32Array(D, 2), gy: f32Array(R * D, 2),
          eps: fc.constantFrom(1e-3, 0.1),
        }),
      );
    fc.assert(
      fc.property(small, ({ R, D, x, w, b, gy, eps }) => checkFiniteDifferences(R, D, x, w, b, gy, eps)),
      { numRuns: 40 },
    );
    // DINO's eps on well-spread rows
    const R = 3;
    const D = 17;
    const x = Float32Array.from({ length: R * D }, (_, i) => Math.cos(i * 0.9) * 2 + (i % 5));
    const w = Float32Array.from({ length: D }, (_, d) => 1 + Math.sin(d));
    const b = Float32Array.from({ length: D }, (_, d) => d / 10);
    const gy = Float32Array.from({ length: R * D }, (_, i) => Math.sin(i * 0.37));
    checkFiniteDifferences(R, D, x, w, b, gy, 1e-6);
  });

  it("accumulates: calling it twice doubles the gradients", () => {
    const R = 3;
    const D = 5;
    const x = Float32Array.from({ length: R * D }, (_, i) => (i * 7) % 11 - 4.5);
    const w = Float32Array.from([1, -2, 0.5, 3, 0.25]);
    const b = new Float32Array(D);
    const gy = Float32Array.from({ length: R * D }, (_, i) => (i % 3) - 0.75);
    const f = forward("wasm", x, w, b, R, D, 1e-6);
    for (const impl of ["wasm", "ref"] as const) {
      const fn = impl === "wasm" ? layerNormBackward : layerNormBackwardRef;
      const gx = new Float32Array(R * D);
      const gw = new Float32Array(D);
      const gb = new Float32Array(D);
      fn(gx, gw, gb, gy, x, f.mean, f.rstd, w, R, D);
      const once = [gx.slice(), gw.slice(), gb.slice()];
      fn(gx, gw, gb, gy, x, f.mean, f.rstd, w, R, D);
      [gx, gw, gb].forEach((g, j) => expect(Array.from(g)).toEqual(Array.from(once[j], (v) => 2 * v)));
      expect(once[0].some((v) => v !== 0)).toBe(true);
    }
  });

  it("gives gradX = 0 for D = 1 and rstd·(g − mean(g)) on rows of equal values (x̂ = 0)", () => {
    const gy = Float32Array.from([1, -3, 2, 0.5, 4, -2]);
    const single = Float32Array.from([2, 2, 2, 5, -1, 9]);
    const w1 = Float32Array.from([1.5]);
    const f1 = forward("wasm", single, w1, new Float32Array(1), 6, 1, 1e-6);
    const g1 = backward("wasm", new Float32Array(6), new Float32Array(1), new Float32Array(1), gy, single, f1, w1, 6, 1);
    expect(Array.from(g1.gradX, Math.abs)).toEqual([0, 0, 0, 0, 0, 0]);
    const flat = Float32Array.from([2, 2, 2, 5, 5, 5]);
    const w = Float32Array.from([1.5, 1.5, 1.5]);
    for (const impl of ["wasm", "ref"] as const) {
      const f = forward(impl, flat, w, new Float32Array(3), 2, 3, 1e-6);
      const g = backward(impl, new Float32Array(6), new Float32Array(3), new Float32Array(3), gy, flat, f, w, 2, 3);
      for (let r = 0; r < 2; r++) {
        const mg = (1.5 * (gy[3 * r] + gy[3 * r + 1] + gy[3 * r + 2])) / 3;
        for (let d = 0; d < 3; d++) expect(g.gradX[3 * r + d]).toBe(Math.fround(f.rstd[r] * (1.5 * gy[3 * r + d] - mg)));
      }
      expect(Array.from(g.gradW, Math.abs)).toEqual([0, 0, 0]);
    }
  });
});

function checkFiniteDifferences(R: number, D: number, x32: Float32Array, w32: Float32Array, b32: Float32Array, gy32: Float32Array, eps: number): void {
  const x = Float64Array.from(x32);
  const w = Float64Array.from(w32);
  const b = Float64Array.from(b32);
  const gy = Float64Array.from(gy32);
  const y = new Float64Array(R * D);
  const mean = new Float64Array(R);
  const rstd = new Float64Array(R);
  const loss = () => {
    layerNormForwardRef(y, mean, rstd, x, w, b, R, D, eps);
    let s = 0;
    for (let i = 0; i < R * D; i++) s += gy[i] * y[i];
    return s;
  };
  loss();
  const gradX = new Float64Array(R * D);
  const gradW = new Float64Array(D);
  const gradB = new Float64Array(D);
  layerNormBackwardRef(gradX, gradW, gradB, gy, x, mean, rstd, w, R, D);
  const h = 1e-6;
  for (const [param, grad] of [[x, gradX], [w, gradW], [b, gradB]] as const) {
    for (let i = 0; i < param.length; i++) {
      const keep = param[i];
      param[i] = keep + h;
      const up = loss();
      param[i] = keep - h;
      const down = loss();
      param[i] = keep;
      const fd = (up - down) / (2 * h);
      // truncation h²·|f'''| (|f'''| ≲ 1e3 for these eps and sizes) plus cancellation R·D·u64·|terms|/h
      expect(Math.abs(fd - grad[i])).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(grad[i])) + (R * D * 40 * U64) / h);
    }
  }
}

describe("LayerNorm argument checks", () => {
  it("names the argument and what was expected", () => {
    const f = (n: number) => new Float32Array(n);
    expect(() => layerNormForward(f(6), f(2), f(2), f(5), f(3), f(3), 2, 3, 1e-6)).toThrow(/layerNormForward: x has 5 elements, expected R·D = 2·3 = 6/);
    expect(() => layerNormForward(f(6), f(2), f(2), f(6), f(3), f(3), 2, 3, 0)).toThrow(/eps must be a finite number > 0, got 0/);
    expect(() => layerNormForwardRef(f(6), f(2), f(2), f(6), f(3), f(3), 2.5, 3, 1e-6)).toThrow(/R \(rows\) must be a positive integer, got 2.5/);
    expect(() => layerNormBackward(f(6), f(2), f(3), f(6), f(6), f(2), f(2), f(3), 2, 3)).toThrow(/gradWeight has 2 elements, expected D = 3/);
  });
});
