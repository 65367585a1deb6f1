import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { bestPatchJaccard, jaccard, patchMaskToPixels } from "./jaccard.js";

const masks = (n: number) => fc.array(fc.integer({ min: 0, max: 1 }), { minLength: n, maxLength: n });
const maskPair = fc.integer({ min: 0, max: 60 }).chain((n) => fc.tuple(masks(n), masks(n)));

/** |A ∩ B| / |A ∪ B| through sets of indices: the definition, written another way. */
function setJaccard(a: number[], b: number[]): number {
  const A = new Set(a.flatMap((v, i) => (v ? [i] : [])));
  const B = new Set(b.flatMap((v, i) => (v ? [i] : [])));
  const union = new Set([...A, ...B]);
  return union.size === 0 ? 1 : [...A].filter((i) => B.has(i)).length / union.size;
}

describe("jaccard", () => {
  it("is |A ∩ B| / |A ∪ B|, symmetric, in [0, 1]", () => {
    fc.assert(
      fc.property(maskPair, ([a, b]) => {
        const j = jaccard(a, b);
        expect(j).toBe(setJaccard(a, b));
        expect(jaccard(b, a)).toBe(j);
        expect(j).toBeGreaterThanOrEqual(0);
        expect(j).toBeLessThanOrEqual(1);
      }),
    );
  });

  it("is 1 exactly for identical masks and 0 for disjoint non-empty ones", () => {
    fc.assert(
      fc.property(maskPair, ([a, b]) => {
        expect(jaccard(a, a)).toBe(1);
        const same = a.every((v, i) => v === b[i]);
        expect(jaccard(a, b) === 1).toBe(same);
        // b without a's pixels is disjoint from a
        const rest = b.map((v, i) => (a[i] ? 0 : v));
        if (a.some((v) => v) || rest.some((v) => v)) expect(jaccard(a, rest)).toBe(0);
      }),
    );
  });

  it("treats any nonzero value as in the mask; two empty masks score 1 (stated convention)", () => {
    expect(jaccard([0, 255, 3, 0], [0, 1, 1, 0])).toBe(1);
    expect(jaccard([0, 0, 0], [0, 0, 0])).toBe(1);
    expect(jaccard([], [])).toBe(1);
    expect(jaccard([1, 0, 0], [0, 0, 0])).toBe(0);
    expect(() => jaccard([1, 0], [1])).toThrow(/masks of 2 and 1 pixels/);
  });
});

describe("patchMaskToPixels", () => {
  it("makes each patch a p×p block", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 }), fc.infiniteStream(fc.boolean()), (rows, cols, p, bits) => {
        const mask = Array.from({ length: rows * cols }, () => (bits.next().value ? 1 : 0));
        const px = patchMaskToPixels(mask, rows, cols, p);
        expect(px.length).toBe(rows * cols * p * p);
        for (let y = 0; y < rows * p; y++) for (let x = 0; x < cols * p; x++) expect(px[y * cols * p + x]).toBe(mask[Math.floor(y / p) * cols + Math.floor(x / p)]);
      }),
    );
  });
});

describe("bestPatchJaccard", () => {
  it("equals the best of every union of patches (exhaustive on small grids)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 3 }), fc.infiniteStream(fc.boolean()), (rows, cols, p, bits) => {
        const [W, H] = [cols * p, rows * p];
        const truth = Array.from({ length: W * H }, () => (bits.next().value ? 1 : 0));
        let brute = truth.some((v) => v) ? 0 : 1;
        for (let subset = 1; subset < 1 << (rows * cols); subset++) {
          const patches = Array.from({ length: rows * cols }, (_, k) => (subset >> k) & 1);
          brute = Math.max(brute, jaccard(patchMaskToPixels(patches, rows, cols, p), truth));
        }
        expect(bestPatchJaccard(truth, W, H, p)).toBeCloseTo(brute, 12);
      }),
    );
  });

  it("is 1 when the truth is a union of patches, and below 1 for a single pixel of a 2×2 patch", () => {
    expect(bestPatchJaccard(patchMaskToPixels([1, 0, 0, 1, 1, 0], 2, 3, 4), 12, 8, 4)).toBe(1);
    expect(bestPatchJaccard([1, 0, 0, 0], 2, 2, 2)).toBe(0.25);
    expect(() => bestPatchJaccard([1, 0, 0], 3, 1, 2)).toThrow(/3×1 mask/);
  });
});
