// The generated data sets of the application commands: retrieval, copy detection, video clips,
// few-label subsets and JPEG-like quantisation.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { makeRetrievalSet } from "./retrievalSet.js";
import { makeCopyDetectionSet } from "./copyDetectionSet.js";
import { movingDigitsClip, MOVING_DIGITS_DEFAULTS } from "./movingDigits.js";
import { classBalancedSubset, labelCount } from "./labelSubset.js";
import { jpegQuantize, scaledTable } from "./jpegQuantize.js";
import { makeImage } from "./image.js";
import { Rng } from "../tensor/rng.js";

describe("makeRetrievalSet", () => {
  const set = makeRetrievalSet({ queries: 4, easy: 2, hard: 1, junk: 1, distractors: 6 });
  it("has each query's renderings graded easy / hard / junk, and the same digit behind them", () => {
    const Ndb = set.database.length;
    expect([set.queries.length, Ndb]).toEqual([4, 4 * 4 + 6]);
    for (let q = 0; q < 4; q++) {
      const codes = Array.from(set.relevance.subarray(q * Ndb, (q + 1) * Ndb));
      expect([1, 2, 3].map((c) => codes.filter((x) => x === c).length)).toEqual([2, 1, 1]);
      codes.forEach((c, i) => c > 0 && expect(set.database.label(i)).toBe(set.queries.label(q)));
    }
  });

  it("renders deterministically, different images for different renderings", () => {
    const again = makeRetrievalSet({ queries: 4, easy: 2, hard: 1, junk: 1, distractors: 6 });
    expect(Buffer.from(again.database.image(3).data).equals(Buffer.from(set.database.image(3).data))).toBe(true);
    expect(Buffer.from(set.database.image(0).data).equals(Buffer.from(set.database.image(1).data))).toBe(false);
  });

  it("says what is wrong with its options", () => {
    expect(() => makeRetrievalSet({ queries: 0 })).toThrow(/at least one query/);
    expect(() => makeRetrievalSet({ queries: 1500, distractors: 600 })).toThrow(/held-out digits/);
  });
});

describe("makeCopyDetectionSet", () => {
  it("makes `copies` strong copies of each original, whitening images from the training digits", () => {
    const s = makeCopyDetectionSet({ originals: 3, copies: 2, distractors: 5, whitening: 4 });
    expect([s.queries.length, s.database.length, s.whitening.length]).toEqual([6, 8, 4]);
    expect(Array.from(s.original)).toEqual([0, 0, 1, 1, 2, 2]);
    expect(s.edits(0)[0]).toBe("crop");
    expect(s.edits(0)).toHaveLength(3);
    expect(s.queries.image(0).width).toBe(s.database.image(0).width);
    expect(Buffer.from(s.queries.image(0).data).equals(Buffer.from(s.database.image(0).data))).toBe(false);
  });
});

describe("movingDigitsClip", () => {
  it("labels every object pixel, keeps objects in the frame, and is deterministic", () => {
    const clip = movingDigitsClip(2, 5);
    const again = movingDigitsClip(2, 5);
    expect(clip.frames).toHaveLength(MOVING_DIGITS_DEFAULTS.frames);
    clip.labels.forEach((l, t) => {
      expect(Math.max(...l)).toBeLessThanOrEqual(2);
      expect(l.some((v) => v === 2)).toBe(true); // the front digit is always visible
      expect(Buffer.from(l).equals(Buffer.from(again.labels[t]))).toBe(true);
    });
    // the digits move
    expect(Buffer.from(clip.labels[0]).equals(Buffer.from(clip.labels[11]))).toBe(false);
  });

  it("says what is wrong with its config", () => {
    expect(() => movingDigitsClip(0, 0, { ...MOVING_DIGITS_DEFAULTS, frames: 2 })).toThrow(/at least|≥ 3/);
    expect(() => movingDigitsClip(5000, 0)).toThrow(/clip 5000/);
  });
});

describe("few labels: labelCount and classBalancedSubset", () => {
  it("reads 1%, 10% and counts, at least one image per class", () => {
    expect(labelCount("1%", 8000, 10)).toBe(80);
    expect(labelCount("10%", 8000, 10)).toBe(800);
    expect(labelCount("25", 8000, 10)).toBe(25);
    expect(labelCount("0.01%", 8000, 10)).toBe(10);
    for (const bad of ["0%", "abc", "5", "9000", "101%", "-3"]) expect(() => labelCount(bad, 8000, 10)).toThrow(/--labels/);
  });

  it("is class-balanced, deterministic, and nested: a larger subset of the same seed contains a smaller one", () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 40 }), fc.integer({ min: 3, max: 40 }), fc.nat(100), (n1, n2, seed) => {
        const rng = new Rng(seed, 5);
        const labels = Int32Array.from({ length: 300 }, () => rng.int(3));
        const [small, large] = [Math.min(n1, n2), Math.max(n1, n2)];
        const a = classBalancedSubset(labels, 3, small, seed);
        const b = classBalancedSubset(labels, 3, large, seed);
        const counts = [0, 1, 2].map((c) => Array.from(a).filter((i) => labels[i] === c).length);
        expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
        expect(a.length).toBe(small);
        expect(Array.from(a).every((i) => b.includes(i))).toBe(true);
        expect(Array.from(classBalancedSubset(labels, 3, small, seed))).toEqual(Array.from(a));
      }),
    );
  });
});

describe("jpegQuantize", () => {
  it("scales the tables like libjpeg (quality 50 = the T.81 tables) and keeps a flat image flat", () => {
    expect(scaledTable([16, 11], 50)[0]).toBe(16);
    expect(Array.from(scaledTable([16, 11], 100))).toEqual([1, 1]);
    // a flat block keeps only its DC coefficient, quantised: every pixel the same value, near the original
    const flat = makeImage(9, 7, new Uint8Array(9 * 7 * 3).fill(120));
    const out = jpegQuantize(flat, 10).data;
    expect(new Set(out).size).toBe(1);
    expect(Math.abs(out[0] - 120)).toBeLessThan(16);
    expect(Array.from(jpegQuantize(flat, 100).data).every((v) => v === 120)).toBe(true);
  });

  it("loses more detail at lower quality", () => {
    const rng = new Rng(2, 2);
    const img = makeImage(16, 16, Uint8Array.from({ length: 16 * 16 * 3 }, () => rng.int(256)));
    const err = (q: number) => jpegQuantize(img, q).data.reduce((s, v, i) => s + Math.abs(v - img.data[i]), 0);
    expect(err(10)).toBeGreaterThan(err(90));
    expect(() => jpegQuantize(img, 0)).toThrow(/quality 0/);
  });
});
