import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { geluBackward, geluBackwardRef, geluForward, geluForwardRef } from "./gelu.js";
import { awkwardSize, bitEqual, f32Array } from "../../test/arbitraries.js";
import { sameFloats } from "../../test/compare.js";

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

describe("GELU wasm against the oracle", () => {
  it("forward and backward are bit-identical on random sizes and values", () => {
    fc.assert(
      fc.property(
        awkwardSize().chain((n) => fc.tuple(f32Array(n, 12), f32Array(n), f32Array(n))),
        ([x, gradY, gradX0]) => {
          expect(bitEqual(fwd(geluForward, x), fwd(geluForwardRef, x))).toBe(true);
          expect(bitEqual(bwd(geluBackward, gradX0, gradY, x), bwd(geluBackwardRef, gradX0, gradY, x))).toBe(true);
        },
      ),
    );
  });

  it("is bit-identical on a dense grid through every erf interval, −40 to 40", () => {
    const n = 160_001;
    const x = Float32Array.from({ length: n }, (_, i) => -40 + (80 * i) / (n - 1));
    const gradY = new Float32Array(n).fill(1);
    const zeros = new Float32Array(n);
    expect(bitEqual(fwd(geluForward, x), fwd(geluForwardRef, x))).toBe(true);
    expect(bitEqual(bwd(geluBackward, zeros, gradY, x), bwd(geluBackwardRef, zeros, gradY, x))).toBe(true);
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
      // both correctly rounded to float32 (the float64 evaluation is good to a few 1e-16)
      expect(y[i]).toBe(Math.fround(yRef));
      expect(g[i]).toBe(Math.fround(gRef));
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
