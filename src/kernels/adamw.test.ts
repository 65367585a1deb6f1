import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { adamwUpdate, adamwUpdateRef, type AdamWHyper } from "./adamw.js";
import { awkwardSize, f32Array, bitEqual } from "../../test/arbitraries.js";

const hyper = fc.record({
  lr: fc.double({ min: 0, max: 0.01, noNaN: true }),
  weightDecay: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.5, noNaN: true })),
  beta1: fc.constantFrom(0.9, 0.8, 0),
  beta2: fc.constantFrom(0.999, 0.99),
  eps: fc.constantFrom(1e-8, 1e-6),
  step: fc.integer({ min: 1, max: 5000 }),
});

function state(n: number) {
  return fc.tuple(f32Array(n, 2), f32Array(n, 1), f32Array(n, 0.1), f32Array(n, 0.01).map((v) => v.map(Math.abs)));
}

function both(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, h: AdamWHyper) {
  const a = [p.slice(), m.slice(), v.slice()];
  const b = [p.slice(), m.slice(), v.slice()];
  adamwUpdateRef(a[0], g, a[1], a[2], h);
  adamwUpdate(b[0], g, b[1], b[2], h);
  return { ref: a, fast: b };
}

describe("adamwUpdate (wasm) against adamwUpdateRef (oracle)", () => {
  it("is bit-identical on random sizes, states and hyperparameters", () => {
    fc.assert(
      fc.property(awkwardSize().chain((n) => fc.tuple(state(n), hyper)), ([[p, g, m, v], h]) => {
        const { ref, fast } = both(p, g, m, v, h);
        for (let i = 0; i < 3; i++) expect(bitEqual(ref[i], fast[i])).toBe(true);
      }),
    );
  });

  it("is bit-identical on edge values (NaN, ±Inf, zeros, huge and tiny)", () => {
    const p = Float32Array.from([NaN, 1, Infinity, -Infinity, 0, -0, 3e38, 1e-40, 2]);
    const g = Float32Array.from([1, NaN, 1, 1, 0, 0, 3e38, 1e-40, Infinity]);
    const m = new Float32Array(9);
    const v = new Float32Array(9);
    const { ref, fast } = both(p, g, m, v, { lr: 1e-3, weightDecay: 0.04, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 1 });
    for (let i = 0; i < 3; i++) expect(bitEqual(ref[i], fast[i])).toBe(true);
  });
});

describe("adamwUpdateRef equations", () => {
  it("first step from zero moments moves each weight by lr·sign(g) (up to eps) after the decay", () => {
    const p = Float32Array.from([1, -2, 0.5, 3, -1]);
    const g = Float32Array.from([0.3, -0.01, 2, -5, 1e-3]);
    const m = new Float32Array(5);
    const v = new Float32Array(5);
    const lr = 1e-2;
    const wd = 0.1;
    const before = p.slice();
    adamwUpdateRef(p, g, m, v, { lr, weightDecay: wd, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 1 });
    for (let i = 0; i < 5; i++) {
      // m̂ = g, v̂ = g², so p ← p(1 − lr·wd) − lr·g/(|g| + eps)
      const expected = before[i] * (1 - lr * wd) - lr * Math.sign(g[i]) * (Math.abs(g[i]) / (Math.abs(g[i]) + 1e-8));
      expect(p[i]).toBeCloseTo(expected, 6);
    }
  });

  it("applies the decay first, scaled by lr, even when the gradient is zero", () => {
    const p = Float32Array.from([2, -4]);
    const m = new Float32Array(2);
    const v = new Float32Array(2);
    adamwUpdateRef(p, new Float32Array(2), m, v, { lr: 0.5, weightDecay: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 1 });
    // p·(1 − 0.05); the Adam term is 0/(0 + eps) = 0
    expect(Array.from(p)).toEqual([Math.fround(2 * Math.fround(0.95)), Math.fround(-4 * Math.fround(0.95))]);
  });

  it("rejects mismatched lengths and a step below 1 by name", () => {
    const a = new Float32Array(3);
    const h = { lr: 1e-3, weightDecay: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 1 };
    expect(() => adamwUpdate(a, new Float32Array(4), a.slice(), a.slice(), h)).toThrow(/grad 4/);
    expect(() => adamwUpdate(a, a.slice(), a.slice(), a.slice(), { ...h, step: 0 })).toThrow(/step 0/);
  });
});
