import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { averagePrecision, computeMap, revisitedMaps, retrievalScores } from "./retrievalMap.js";
import { rankBySimilarity } from "./cosineRanking.js";
import { ts32Backend } from "../kernels/backend.js";

/** AP by its textbook definition for a ranking without junk: mean over positives of precision@rank, with the trapezoid between the steps. */
function trapezoidAp(isPositive: boolean[], nres: number): number {
  let ap = 0;
  let hits = 0;
  isPositive.forEach((pos, r) => {
    if (!pos) return;
    const before = r === 0 ? 1 : hits / r;
    hits++;
    ap += (before + hits / (r + 1)) / 2 / nres;
  });
  return ap;
}

describe("averagePrecision (compute_ap)", () => {
  it("is 1 when the positives come first and decreases as a positive moves down", () => {
    expect(averagePrecision([0, 1, 2], 3)).toBeCloseTo(1, 15);
    expect(averagePrecision([0, 1, 3], 3)).toBeLessThan(1);
    expect(averagePrecision([0, 1, 4], 3)).toBeLessThan(averagePrecision([0, 1, 3], 3));
  });

  it("counts positives that were never ranked as zero precision (nres larger than the list)", () => {
    expect(averagePrecision([0], 2)).toBeCloseTo(0.5, 15);
  });

  it("equals the trapezoid rule over a random ranking, and lies in [0, 1]", () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }).filter((a) => a.some((x) => x)), (flags) => {
        const positions = flags.flatMap((f, r) => (f ? [r] : []));
        const ap = averagePrecision(positions, positions.length);
        expect(ap).toBeCloseTo(trapezoidAp(flags, positions.length), 12);
        expect(ap).toBeGreaterThan(0);
        expect(ap).toBeLessThanOrEqual(1 + 1e-12);
      }),
    );
  });
});

describe("computeMap and the revisited protocol", () => {
  it("removes junk from the ranking: junk anywhere does not change the AP", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(0, 1, 3), { minLength: 2, maxLength: 30 }).filter((c) => c.includes(1)), (codes) => {
        const Ndb = codes.length;
        const ranking = Int32Array.from({ length: Ndb }, (_, i) => i);
        const withJunk = computeMap(ranking, Ndb, [{ ok: codes.flatMap((c, i) => (c === 1 ? [i] : [])), junk: codes.flatMap((c, i) => (c === 3 ? [i] : [])) }]);
        const kept = codes.filter((c) => c !== 3);
        const withoutJunk = trapezoidAp(kept.map((c) => c === 1), kept.filter((c) => c === 1).length);
        expect(withJunk.map).toBeCloseTo(withoutJunk, 12);
      }),
    );
  });

  it("leaves queries without positives out of the mean (AP NaN), as compute_map does", () => {
    const ranking = Int32Array.from([0, 1, 2, 0, 1, 2]);
    const r = computeMap(ranking, 3, [{ ok: [0], junk: [] }, { ok: [], junk: [1] }]);
    expect(r.aps[0]).toBe(1);
    expect(r.aps[1]).toBeNaN();
    expect(r.map).toBe(1);
  });

  it("Medium takes easy and hard as positives; Hard takes hard only and treats easy as junk", () => {
    // database: [easy, negative, hard] ranked in that order for the one query
    const ranking = Int32Array.from([0, 1, 2]);
    const { medium, hard } = revisitedMaps(ranking, Uint8Array.from([1, 0, 2]), 1, 3);
    expect(medium.map).toBeCloseTo(trapezoidAp([true, false, true], 2), 15);
    // Hard: easy removed, so the ranking is [negative, hard]
    expect(hard.map).toBeCloseTo(trapezoidAp([false, true], 1), 15);
  });

  it("mP@k follows compute_map: kq = min(last positive's position, k)", () => {
    // positives at positions 1 and 2 (1-based 2 and 3): mP@1 uses kq = 1 → 0; mP@5 and mP@10 use kq = 3 → 2/3
    const r = computeMap(Int32Array.from([5, 0, 1, 2, 3, 4]), 6, [{ ok: [0, 1], junk: [] }]);
    expect(Array.from(r.mpk)).toEqual([0, 2 / 3, 2 / 3]);
  });

  it("rejects relevance codes outside 0..3 and database indices out of range", () => {
    expect(() => revisitedMaps(Int32Array.from([0, 1]), Uint8Array.from([1, 4]), 1, 2)).toThrow(/relevance of query 0, image 1 is 4/);
    expect(() => computeMap(Int32Array.from([0, 1]), 2, [{ ok: [2], junk: [] }])).toThrow(/database image 2/);
  });
});

describe("retrievalScores (features → cosine ranking → mAP)", () => {
  it("gives mAP 1 when each query's positives are its nearest neighbours, whatever the scale of the features", () => {
    const D = 3;
    const queries = Float32Array.from([1, 0, 0, 0, 1, 0]);
    // database: near query 0 (easy), near query 1 (hard), far from both, scaled by various factors
    const database = Float32Array.from([5, 0.1, 0, 0.1, 0.2, 0, 0, 0, 3]);
    const relevance = Uint8Array.from([1, 0, 0, 0, 2, 0]);
    const r = retrievalScores(ts32Backend, queries, database, D, relevance);
    expect(r.medium.map).toBe(1);
    expect(Array.from(r.hard.aps).map((x) => (Number.isNaN(x) ? "NaN" : x))).toEqual(["NaN", 1]);
  });

  it("ranks by decreasing similarity with ties by index", () => {
    expect(Array.from(rankBySimilarity(Float32Array.from([0.5, 0.9, 0.5, -1]), 1, 4))).toEqual([1, 0, 2, 3]);
  });
});
