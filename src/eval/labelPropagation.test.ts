import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { propagateLabels, type PropagationOptions } from "./labelPropagation.js";
import { ts32Backend, wasmBackend } from "../kernels/backend.js";
import { Rng } from "../tensor/rng.js";

const randn = (rng: Rng, n: number) => Float32Array.from({ length: n }, () => rng.normal());

/** One-hot labels [C, N] of a label per patch. */
function oneHot(labels: number[], C: number): Float32Array {
  const N = labels.length;
  const out = new Float32Array(C * N);
  labels.forEach((c, k) => (out[c * N + k] = 1));
  return out;
}

/** The same vote written plainly in float64: every (m, k) affinity, the joint top-k threshold, the weighted mean. */
function bruteForce(target: Float32Array, contexts: Float32Array[], segs: Float32Array[], h: number, w: number, D: number, C: number, o: PropagationOptions): Float64Array {
  const N = h * w;
  const unit = (x: Float32Array, k: number) => {
    const v = Array.from(x.subarray(k * D, (k + 1) * D));
    const n = Math.max(Math.hypot(...v), 1e-12);
    return v.map((a) => a / n);
  };
  const out = new Float64Array(C * N);
  for (let q = 0; q < N; q++) {
    const t = unit(target, q);
    const entries: { a: number; m: number; k: number }[] = [];
    contexts.forEach((ctx, m) => {
      for (let k = 0; k < N; k++) {
        const near = o.neighborhood === 0 || (Math.abs(Math.floor(k / w) - Math.floor(q / w)) <= o.neighborhood && Math.abs((k % w) - (q % w)) <= o.neighborhood);
        const c = unit(ctx, k);
        entries.push({ a: near ? Math.exp(t.reduce((s, x, d) => s + x * c[d], 0) / o.temperature) : 0, m, k });
      }
    });
    const kth = entries.map((e) => e.a).sort((x, y) => y - x)[o.topk - 1] ?? 0;
    const kept = entries.filter((e) => e.a >= kth && e.a > 0);
    const total = kept.reduce((s, e) => s + e.a, 0);
    for (let c = 0; c < C; c++) out[c * N + q] = kept.reduce((s, e) => s + e.a * segs[e.m][c * N + e.k], 0) / total;
  }
  return out;
}

describe.each([{ be: wasmBackend }, { be: ts32Backend }])("propagateLabels (kernels: $be.name)", ({ be }) => {
  it("matches the plain float64 vote on random frames, masks and top-k", () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 3 }), (seed, h, w, M, topk, r) => {
        const [D, C] = [5, 3];
        const rng = new Rng(seed, 77);
        const N = h * w;
        const target = randn(rng, N * D);
        const contexts = Array.from({ length: M }, () => randn(rng, N * D));
        const segs = Array.from({ length: M }, () => Float32Array.from({ length: C * N }, () => rng.uniform()));
        const o = { topk, neighborhood: r, temperature: 0.1 };
        const got = propagateLabels(be, target, contexts, segs, h, w, D, C, o);
        const want = bruteForce(target, contexts, segs, h, w, D, C, o);
        got.forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThan(1e-4));
      }),
      { numRuns: 40 },
    );
  });

  it("keeps a one-hot first frame's labels a distribution: every patch's soft labels sum to 1", () => {
    const rng = new Rng(3, 1);
    const [h, w, D, C] = [4, 5, 6, 3];
    const labels = Array.from({ length: h * w }, () => rng.int(C));
    const seg = propagateLabels(be, randn(rng, h * w * D), [randn(rng, h * w * D)], [oneHot(labels, C)], h, w, D, C, { topk: 5, neighborhood: 2, temperature: 0.1 });
    for (let q = 0; q < h * w; q++) expect(seg[q] + seg[h * w + q] + seg[2 * h * w + q]).toBeCloseTo(1, 5);
  });

  it("copies the labels when the target is the context frame itself with top 1 (each patch is its own nearest neighbour)", () => {
    const rng = new Rng(5, 1);
    const [h, w, D, C] = [3, 4, 16, 4];
    const frame = randn(rng, h * w * D);
    const labels = Array.from({ length: h * w }, () => rng.int(C));
    const seg = propagateLabels(be, frame, [frame], [oneHot(labels, C)], h, w, D, C, { topk: 1, neighborhood: 12, temperature: 0.1 });
    expect(Array.from(seg)).toEqual(Array.from(oneHot(labels, C)));
  });

  it("with radius 0 (no mask) a far patch can vote; with radius 1 it cannot", () => {
    // 1×5 grid: the target's patch 0 looks exactly like the context's patch 4
    const [h, w, D, C] = [1, 5, 2, 2];
    const target = Float32Array.from([1, 0, 0, 1, 0, 1, 0, 1, 0, 1]);
    const context = Float32Array.from([0, 1, 0, 1, 0, 1, 0, 1, 1, 0]);
    const seg = Float32Array.from([1, 1, 1, 1, 0, 0, 0, 0, 0, 1]); // label 1 only at patch 4
    const far = propagateLabels(be, target, [context], [seg], h, w, D, C, { topk: 1, neighborhood: 0, temperature: 0.1 });
    const near = propagateLabels(be, target, [context], [seg], h, w, D, C, { topk: 1, neighborhood: 1, temperature: 0.1 });
    expect(far[w + 0]).toBe(1);
    expect(near[w + 0]).toBe(0);
  });

  it("names bad shapes and options", () => {
    const f = new Float32Array(4 * 2);
    expect(() => propagateLabels(be, f, [f], [new Float32Array(8)], 2, 2, 2, 2, { topk: 0, neighborhood: 1, temperature: 0.1 })).toThrow(/topk 0/);
    expect(() => propagateLabels(be, f, [f], [new Float32Array(7)], 2, 2, 2, 2, { topk: 1, neighborhood: 1, temperature: 0.1 })).toThrow(/context frame 0 has 7 label values/);
    expect(() => propagateLabels(be, f, [f], [], 2, 2, 2, 2, { topk: 1, neighborhood: 1, temperature: 0.1 })).toThrow(/1 context frames and 0 label maps/);
  });
});
