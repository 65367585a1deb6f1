import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { attentionMask } from "./attentionMask.js";

const positiveRow = (n: number) =>
  fc.array(fc.double({ min: 1e-4, max: 1, noNaN: true }), { minLength: n, maxLength: n }).map((xs) => Float32Array.from(xs));

describe("attentionMask", () => {
  it("keeps the smallest set of largest entries holding more than the threshold share of the mass", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }).chain((n) => fc.tuple(fc.constant(n), positiveRow(n), fc.double({ min: 0.05, max: 0.95, noNaN: true }))),
        ([n, row, t]) => {
          const mask = attentionMask(row, 1, n, t);
          const total = row.reduce((a, b) => a + b, 0);
          const kept = row.filter((_, i) => mask[i] === 1);
          const keptMass = kept.reduce((a, b) => a + b, 0) / total;
          // kept entries are the largest ones
          const smallestKept = Math.min(...kept);
          row.forEach((v, i) => {
            if (mask[i] === 0) expect(v).toBeLessThanOrEqual(smallestKept);
          });
          // enough mass (float32 slack), and dropping the smallest kept entry would not be enough
          expect(keptMass).toBeGreaterThanOrEqual(t - 1e-5);
          if (kept.length > 0) expect(keptMass - smallestKept / total).toBeLessThanOrEqual(t + 1e-5);
        },
      ),
    );
  });

  it("treats heads independently and is equivariant to permuting patches", () => {
    const a = Float32Array.of(0.5, 0.1, 0.3, 0.05, 0.05);
    const b = Float32Array.of(0.01, 0.02, 0.9, 0.03, 0.04);
    const both = attentionMask(Float32Array.of(...a, ...b), 2, 5, 0.6);
    expect(both.subarray(0, 5)).toEqual(attentionMask(a, 1, 5, 0.6));
    expect(both.subarray(5)).toEqual(attentionMask(b, 1, 5, 0.6));
    const perm = [3, 0, 4, 1, 2];
    const permuted = attentionMask(Float32Array.from(perm, (i) => a[i]), 1, 5, 0.6);
    expect(Array.from(permuted)).toEqual(perm.map((i) => attentionMask(a, 1, 5, 0.6)[i]));
  });

  it("rejects a threshold outside [0, 1] and a wrong size", () => {
    expect(() => attentionMask(new Float32Array(4), 2, 2, 1.5)).toThrow(/threshold 1.5/);
    expect(() => attentionMask(new Float32Array(3), 2, 2, 0.6)).toThrow(/expected \[H, N\] = \[2, 2\]/);
  });
});
