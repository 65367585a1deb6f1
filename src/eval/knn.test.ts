import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { knnClassify } from "./knn.js";
import { ts32Backend, wasmBackend } from "../kernels/backend.js";
import { Rng } from "../tensor/rng.js";

/** Random features [n, D] and labels in [0, C). */
function data(seed: number, n: number, D: number, C: number) {
  const r = new Rng(seed, 99);
  const x = Float32Array.from({ length: n * D }, () => r.normal());
  const y = Int32Array.from({ length: n }, () => r.int(C));
  return { x, y };
}

describe.each([{ be: wasmBackend }, { be: ts32Backend }])("knnClassify (kernels: $be.name)", ({ be }) => {
  it("with k = 1 predicts the label of the most similar training image (cosine, brute force in float64)", () => {
    fc.assert(
      fc.property(fc.nat(1000), fc.integer({ min: 1, max: 9 }), (seed, D) => {
        const train = data(seed, 30, D, 4);
        const test = data(seed + 1, 7, D, 4);
        const { predictions } = knnClassify(be, train.x, train.y, test.x, test.y, D, { k: 1, numClasses: 4 });
        const norm = (x: Float32Array, i: number) => Math.hypot(...x.subarray(i * D, (i + 1) * D));
        for (let t = 0; t < 7; t++) {
          let best = -Infinity;
          let label = -1;
          for (let n = 0; n < 30; n++) {
            let dot = 0;
            for (let d = 0; d < D; d++) dot += test.x[t * D + d] * train.x[n * D + d];
            const cos = dot / (norm(test.x, t) * norm(train.x, n));
            if (cos > best) [best, label] = [cos, train.y[n]];
          }
          expect(predictions[t]).toBe(label);
        }
      }),
      { numRuns: 30 },
    );
  });

  it("with a temperature so small that exp(sim / T) overflows or underflows float32, votes as k = 1 (the limit T → 0)", () => {
    fc.assert(
      fc.property(fc.nat(1000), fc.constantFrom(1e-320, 1e-30, 1e-5), fc.boolean(), (seed, T, negate) => {
        const D = 4;
        const train = data(seed, 40, D, 5);
        const test = data(seed + 1, 9, D, 5);
        // negated test features: every top similarity may be negative (exp underflows to 0 without the shift)
        if (negate) test.x.forEach((v, i) => (test.x[i] = -Math.abs(v)));
        const tiny = knnClassify(be, train.x, train.y, test.x, test.y, D, { k: 10, temperature: T, numClasses: 5 });
        const nearest = knnClassify(be, train.x, train.y, test.x, test.y, D, { k: 1, numClasses: 5 });
        expect(Array.from(tiny.predictions)).toEqual(Array.from(nearest.predictions));
        expect(Number.isFinite(tiny.top1) && Number.isFinite(tiny.top5)).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it("ranks classes without sorting all of them: a million classes, most without votes", () => {
    const D = 3;
    const train = data(5, 20, D, 3);
    const test = data(6, 4, D, 3);
    const few = knnClassify(be, train.x, train.y, test.x, test.y, D, { k: 7, numClasses: 3 });
    const many = knnClassify(be, train.x, train.y, test.x, test.y, D, { k: 7, numClasses: 1_000_000 });
    expect(Array.from(many.predictions)).toEqual(Array.from(few.predictions));
    expect([many.top1, many.top5]).toEqual([few.top1, few.top5]);
  });

  it("does not change when features are scaled or the training set is permuted", () => {
    const D = 5;
    const train = data(3, 60, D, 3);
    const test = data(4, 11, D, 3);
    const base = knnClassify(be, train.x, train.y, test.x, test.y, D, { k: 7, numClasses: 3 });
    const scaled = knnClassify(be, train.x.map((v, i) => v * (1 + (Math.floor(i / D) % 3))), train.y, test.x.map((v) => v * 0.01), test.y, D, { k: 7, numClasses: 3 });
    expect(scaled.predictions).toEqual(base.predictions);
    const perm = new Rng(5, 1).permutation(60);
    const px = new Float32Array(60 * D);
    const py = new Int32Array(60);
    perm.forEach((src, dst) => {
      px.set(train.x.subarray(src * D, (src + 1) * D), dst * D);
      py[dst] = train.y[src];
    });
    expect(knnClassify(be, px, py, test.x, test.y, D, { k: 7, numClasses: 3 }).predictions).toEqual(base.predictions);
  });

  it("gets every training image right with k = 1 and reports top-5 = 100 when there are at most 5 classes", () => {
    const D = 6;
    const train = data(8, 40, D, 5);
    const r = knnClassify(be, train.x, train.y, train.x, train.y, D, { k: 1, numClasses: 5 });
    expect(r.top1).toBe(100);
    const r5 = knnClassify(be, train.x, train.y, data(9, 13, D, 5).x, data(9, 13, D, 5).y, D, { k: 20, numClasses: 5 });
    expect(r5.top5).toBe(100);
    expect(r5.top5).toBeGreaterThanOrEqual(r5.top1);
  });

  it("works for a single test image (the official code needs 100)", () => {
    const D = 3;
    const train = data(10, 25, D, 2);
    const r = knnClassify(be, train.x, train.y, train.x.slice(0, D), train.y.slice(0, 1), D, { k: 1, numClasses: 2 });
    expect(r.predictions).toEqual(Int32Array.of(train.y[0]));
    expect(r.top1).toBe(100);
  });

  it("rejects bad arguments by name", () => {
    const { x, y } = data(1, 4, 2, 2);
    expect(() => knnClassify(be, x, y, x, y, 2, { k: 5, numClasses: 2 })).toThrow(/k = 5; expected an integer in \[1, 4\]/);
    expect(() => knnClassify(be, x, y, x.slice(1), y, 2, { k: 1, numClasses: 2 })).toThrow(/test features have 7 values; expected \[Nte, D\] = \[4, 2\]/);
    expect(() => knnClassify(be, x, Int32Array.of(0, 1, 2, 0), x, y, 2, { k: 1, numClasses: 2 })).toThrow(/train label 2 is 2; expected an integer in \[0, 2\)/);
  });
});
