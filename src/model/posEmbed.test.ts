// interpolate_pos_encoding: the identity shortcut, the +0.1 sampling rule, output sizes, partition
// of unity, and the backward as the exact adjoint of the forward (float64).
import { describe, expect, it } from "vitest";
import { bicubicAxisTaps, interpolatePosEncoding, interpolatePosEncodingBackward, posPlan } from "./posEmbed.js";
import { Rng } from "../tensor/rng.js";
import type { Tensor } from "../kernels/backend.js";

const t64 = (shape: number[], data?: Float64Array): Tensor => ({ shape, data: data ?? new Float64Array(shape.reduce((a, b) => a * b, 1)) });

function randn(n: number, seed: number): Float64Array {
  const r = new Rng(seed, 99);
  return Float64Array.from({ length: n }, () => r.normal());
}

describe("posPlan", () => {
  it("is the identity only when npatch == N0 AND height == width in pixels", () => {
    // 224 px, p 16: 14×14 = 196 = N0
    expect(posPlan(196, 224, 224, 16).identity).toBe(true);
    // same grid from pixel sizes that differ: 224 × 232 (232 // 16 = 14) is resampled
    const p = posPlan(196, 224, 232, 16);
    expect(p.identity).toBe(false);
    expect([p.rows, p.cols]).toEqual([14, 14]);
    // square pixels, other grid
    expect(posPlan(196, 96, 96, 16).identity).toBe(false);
  });

  it("resamples the non-square native grid to something that is not the identity", () => {
    const D = 3;
    const pos = t64([1, 197, D], randn(197 * D, 1));
    const plan = posPlan(196, 224, 232, 16);
    const out = t64([1, 197, D]);
    interpolatePosEncoding(out, pos, plan, D);
    let maxDiff = 0;
    for (let i = 0; i < out.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(out.data[i] - pos.data[i]));
    // `vision_transformer.py VisionTransformer.interpolate_pos_encoding`: max change ≈ 0.36 on N(0, 1) data; CLS passes through
    expect(maxDiff).toBeGreaterThan(0.05);
    expect(Array.from(out.data.subarray(0, D))).toEqual(Array.from(pos.data.subarray(0, D)));
  });

  it("gives exactly rows × cols for every size from 1 to 399 px-grids (g = 14 and 28)", () => {
    for (const [g, p] of [[14, 16], [28, 8]]) {
      for (let rows = 1; rows < 400; rows += 1) {
        const cols = 1 + ((rows * 7) % 45);
        const plan = posPlan(g * g, rows * p + (rows % p), cols * p, p);
        expect([plan.rows, plan.cols]).toEqual([rows, cols]);
        if (!plan.identity) expect([plan.y!.size, plan.x!.size]).toEqual([rows, cols]);
      }
    }
  });

  it("samples with scale f32(g / (n + 0.1)) (the official +0.1 of interpolate_pos_encoding: 14 → 6)", () => {
    const taps = bicubicAxisTaps(14, 6, 6.1 / 14);
    expect(Math.fround(14 / 6.1)).toBeCloseTo(2.2950819, 6);
    // src = scale·(d + 0.5) − 0.5 = 0.6475, 2.9426, 5.2377, ...: tap 1 is floor(src), weight 1 is c1(frac)
    const srcs = [0.6475, 2.9426, 5.2377, 7.5328, 9.8279, 12.123];
    srcs.forEach((s, d) => expect(taps.index[d * 4 + 1]).toBe(Math.floor(s)));
  });

  it("keeps a constant pos_embed constant (bicubic weights sum to 1), for many sizes", () => {
    const D = 2;
    const g = 5;
    const pos = t64([1, 1 + g * g, D]);
    pos.data.fill(0.75);
    for (const [H, W] of [[8, 8], [12, 28], [40, 4], [44, 44], [4, 100]]) {
      const plan = posPlan(g * g, H, W, 4);
      const out = t64([1, 1 + plan.rows * plan.cols, D]);
      interpolatePosEncoding(out, pos, plan, D);
      for (const v of out.data) expect(Math.abs(v - 0.75)).toBeLessThan(1e-6);
    }
  });

  it("backward is the adjoint of the forward: <R·a, b> = <a, Rᵀ·b> (float64), identity included", () => {
    const D = 3;
    const g = 4;
    for (const [H, W] of [[16, 16], [8, 12], [20, 6], [16, 20], [4, 4]]) {
      const plan = posPlan(g * g, H, W, 4);
      const n = plan.rows * plan.cols;
      const a = t64([1, 1 + g * g, D], randn((1 + g * g) * D, 2));
      const b = t64([1, 1 + n, D], randn((1 + n) * D, 3));
      const ra = t64([1, 1 + n, D]);
      interpolatePosEncoding(ra, a, plan, D);
      const rtb = t64([1, 1 + g * g, D]);
      rtb.data.fill(0.5); // accumulates: subtract the initial value below
      interpolatePosEncodingBackward(rtb, b, plan, D);
      let lhs = 0;
      let rhs = 0;
      for (let i = 0; i < ra.data.length; i++) lhs += ra.data[i] * b.data[i];
      for (let i = 0; i < a.data.length; i++) rhs += a.data[i] * (rtb.data[i] - 0.5);
      expect(Math.abs(lhs - rhs)).toBeLessThan(1e-12 * (1 + Math.abs(lhs)));
    }
  });

  it("backward matches central finite differences of Σ gradOut·out (float64, 5×5 → 3×4)", () => {
    const [D, g] = [2, 5];
    const plan = posPlan(g * g, 12, 16, 4);
    const n = plan.rows * plan.cols;
    const pos = t64([1, 1 + g * g, D], randn((1 + g * g) * D, 4));
    const gOut = t64([1, 1 + n, D], randn((1 + n) * D, 5));
    const grad = t64([1, 1 + g * g, D]);
    interpolatePosEncodingBackward(grad, gOut, plan, D);
    const loss = () => {
      const out = t64([1, 1 + n, D]);
      interpolatePosEncoding(out, pos, plan, D);
      let s = 0;
      for (let i = 0; i < out.data.length; i++) s += out.data[i] * gOut.data[i];
      return s;
    };
    for (let i = 0; i < pos.data.length; i++) {
      const v = pos.data[i];
      pos.data[i] = v + 1e-4;
      const lp = loss();
      pos.data[i] = v - 1e-4;
      const lm = loss();
      pos.data[i] = v;
      expect(Math.abs((lp - lm) / 2e-4 - grad.data[i])).toBeLessThan(1e-9);
    }
  });

  it("refuses a pos_embed that is not a square grid and an image smaller than a patch", () => {
    expect(() => posPlan(12, 16, 16, 4)).toThrow(/not a square grid/);
    expect(() => posPlan(16, 3, 16, 4)).toThrow(/smaller than one 4×4 patch/);
  });
});
