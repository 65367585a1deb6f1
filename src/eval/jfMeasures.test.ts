import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { boundaryF, boundaryMap, boundaryTolerance, clipJf, dilateDisk, jfMean, regionJ } from "./jfMeasures.js";

/** A w×h mask with the axis-aligned rectangle [x0, x1) × [y0, y1) set. */
function rect(w: number, h: number, x0: number, y0: number, x1: number, y1: number): Uint8Array {
  const m = new Uint8Array(w * h);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * w + x] = 1;
  return m;
}

const mask = (w: number, h: number) => fc.uint8Array({ minLength: w * h, maxLength: w * h, max: 1 });

describe("DAVIS J and F", () => {
  it("J and F are 1 for identical masks and symmetric in their arguments", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 12 }), fc.integer({ min: 2, max: 12 }), fc.nat(), (w, h, s) => {
        const [a, b] = fc.sample(mask(w, h), { numRuns: 2, seed: s });
        expect(regionJ(a, a)).toBe(1);
        expect(boundaryF(a, a, w, h)).toBe(1);
        expect(regionJ(a, b)).toBe(regionJ(b, a));
        expect(boundaryF(a, b, w, h)).toBeCloseTo(boundaryF(b, a, w, h), 12);
      }),
    );
  });

  it("draws _seg2bmap's boundary: a pixel that differs from its east, south or south-east neighbour", () => {
    // a 2×2 square at (1, 1) in a 4×4 mask
    const b = boundaryMap(rect(4, 4, 1, 1, 3, 3), 4, 4);
    expect(Array.from(b)).toEqual([
      1, 1, 1, 0,
      1, 0, 1, 0,
      1, 1, 1, 0,
      0, 0, 0, 0,
    ]);
  });

  it("dilates by the disk of skimage.morphology.disk (radius 1: a plus sign)", () => {
    const one = new Uint8Array(25);
    one[12] = 1;
    expect(Array.from(dilateDisk(one, 5, 5, 1))).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
  });

  it("uses d = ⌈0.008·diagonal⌉: 1 px up to ~88 px frames, 4 px at 480p", () => {
    expect(boundaryTolerance(48, 48)).toBe(1);
    expect(boundaryTolerance(854, 480)).toBe(8);
  });

  it("F forgives a 1-px shift (within d) that J does not", () => {
    const a = rect(40, 40, 10, 10, 20, 30);
    const b = rect(40, 40, 11, 10, 21, 30);
    expect(boundaryF(a, b, 40, 40)).toBe(1);
    expect(regionJ(a, b)).toBeCloseTo(180 / 220, 12);
  });

  it("follows the reference conventions for empty masks", () => {
    const empty = new Uint8Array(16);
    const some = rect(4, 4, 1, 1, 2, 2);
    expect(boundaryF(empty, empty, 4, 4)).toBe(1);
    expect(boundaryF(empty, some, 4, 4)).toBe(0);
    expect(boundaryF(some, empty, 4, 4)).toBe(0);
    expect(regionJ(empty, empty)).toBe(1);
  });

  it("scores each object over the given frames and averages J and F over objects", () => {
    const truth = [rect(6, 6, 0, 0, 3, 3), rect(6, 6, 0, 0, 3, 3)].map((m, t) => Uint8Array.from(m, (v, i) => (v ? 1 : i === 35 && t === 1 ? 2 : 0)));
    const s = clipJf(truth, truth, 2, 6, 6, [0, 1]);
    // object 2 exists only in frame 1: in frame 0 both masks are empty (J = F = 1)
    expect(Array.from(s.jPerObject)).toEqual([1, 1]);
    expect(jfMean([s])).toEqual({ jf: 1, j: 1, f: 1 });
  });
});
