// Mean average precision of a retrieval ranking as the revisited Oxford/Paris protocol computes it
// (official utils.compute_map and utils.compute_ap, called by eval_image_retrieval.py). Each query
// has easy, hard and junk database images; the two protocols are
//   Medium: positives = easy ∪ hard, junk = junk;    Hard: positives = hard, junk = junk ∪ easy.
// Junk images are removed from the ranking (a positive moves up by the junk ranked before it);
// AP is the trapezoid area under the precision-recall steps; a query without positives is left
// out of the mean (its AP is NaN). Also mP@k as compute_map defines it.

import { check } from "../tensor/errors.js";
import { RELEVANCE_CODE as RELEVANCE } from "../data/retrievalSet.js";
import type { Backend } from "../kernels/backend.js";
import { cosineRanking } from "./cosineRanking.js";

/** One query's ground truth: database indices of its positives and of its junk images. */
export interface QueryTruth {
  readonly ok: ArrayLike<number>;
  readonly junk: ArrayLike<number>;
}

export interface MapResult {
  /** Mean AP over the queries that have positives (NaN when none has). */
  readonly map: number;
  /** AP per query [Q] (NaN for a query without positives). */
  readonly aps: Float64Array;
  /** Mean precision at each k of `kappas` over the same queries. */
  readonly mpk: Float64Array;
  /** Precision at each k per query [Q, kappas.length] (NaN for a query without positives). */
  readonly prs: Float64Array;
}

/**
 * AP of one query from the 0-based positions of its positives in the ranking (junk removed),
 * ascending, and the number of positives nres (compute_ap): the j-th positive (0-based) at
 * position r adds a trapezoid of width 1/nres between precisions j/r (1 at r = 0) and (j+1)/(r+1).
 */
export function averagePrecision(positions: ArrayLike<number>, nres: number): number {
  check(nres > 0, () => `averagePrecision: ${nres} positives; expected at least one`);
  let ap = 0;
  for (let j = 0; j < positions.length; j++) {
    const r = positions[j];
    // precision before and after the j-th positive
    const p0 = r === 0 ? 1 : j / r;
    const p1 = (j + 1) / (r + 1);
    // trapezoid of width 1/nres
    ap += ((p0 + p1) / 2) * (1 / nres);
  }
  return ap;
}

/**
 * compute_map: `ranking` [Q, Ndb] holds each query's database indices best first; `truth[q]` its
 * positives and junk. Positions of junk images before a positive are subtracted from its position.
 */
export function computeMap(ranking: Int32Array, Ndb: number, truth: readonly QueryTruth[], kappas: readonly number[] = [1, 5, 10]): MapResult {
  const Q = truth.length;
  check(ranking.length === Q * Ndb, () => `computeMap: a ranking of ${ranking.length} entries; expected [Q, Ndb] = [${Q}, ${Ndb}]`);
  const aps = new Float64Array(Q);
  const prs = new Float64Array(Q * kappas.length);
  const mpk = new Float64Array(kappas.length);
  const isOk = new Uint8Array(Ndb);
  const isJunk = new Uint8Array(Ndb);
  let sum = 0;
  let counted = 0;
  for (let q = 0; q < Q; q++) {
    const { ok, junk } = truth[q];
    if (ok.length === 0) {
      // no positive: left out of the mean
      aps[q] = NaN;
      prs.fill(NaN, q * kappas.length, (q + 1) * kappas.length);
      continue;
    }
    isOk.fill(0);
    isJunk.fill(0);
    for (let i = 0; i < ok.length; i++) isOk[checkedIndex(ok[i], Ndb, q)] = 1;
    for (let i = 0; i < junk.length; i++) isJunk[checkedIndex(junk[i], Ndb, q)] = 1;
    // positions of the positives after removing the junk ranked before them
    const positions: number[] = [];
    let junkBefore = 0;
    for (let r = 0; r < Ndb; r++) {
      const i = ranking[q * Ndb + r];
      if (isOk[i]) positions.push(r - junkBefore);
      else if (isJunk[i]) junkBefore++;
    }
    aps[q] = averagePrecision(positions, ok.length);
    sum += aps[q];
    counted++;
    // mP@k: kq = min(last positive's 1-based position, k); precision = #(positions ≤ kq) / kq
    const last = positions.length > 0 ? positions[positions.length - 1] + 1 : 0;
    kappas.forEach((k, j) => {
      const kq = Math.min(last, k);
      const hits = positions.filter((p) => p + 1 <= kq).length;
      prs[q * kappas.length + j] = hits / kq;
      mpk[j] += prs[q * kappas.length + j];
    });
  }
  for (let j = 0; j < kappas.length; j++) mpk[j] /= counted;
  return { map: sum / counted, aps, mpk, prs };
}

function checkedIndex(i: number, Ndb: number, q: number): number {
  check(Number.isInteger(i) && i >= 0 && i < Ndb, () => `computeMap: query ${q} names database image ${i}; expected an index in [0, ${Ndb})`);
  return i;
}

/** The revisited protocols' ground truth from per-(query, image) relevance codes [Q, Ndb] (RELEVANCE). */
export function revisitedTruth(relevance: ArrayLike<number>, Q: number, Ndb: number): { medium: QueryTruth[]; hard: QueryTruth[] } {
  check(relevance.length === Q * Ndb, () => `revisitedTruth: ${relevance.length} relevance codes; expected [Q, Ndb] = [${Q}, ${Ndb}]`);
  const medium: QueryTruth[] = [];
  const hard: QueryTruth[] = [];
  for (let q = 0; q < Q; q++) {
    const of = (code: number) => {
      const out: number[] = [];
      for (let i = 0; i < Ndb; i++) if (relevance[q * Ndb + i] === code) out.push(i);
      return out;
    };
    for (let i = 0; i < Ndb; i++) {
      const c = relevance[q * Ndb + i];
      check(c === 0 || c === 1 || c === 2 || c === 3, () => `revisitedTruth: relevance of query ${q}, image ${i} is ${c}; expected 0 (negative), 1 (easy), 2 (hard) or 3 (junk)`);
    }
    const [easy, hardOnes, junk] = [of(RELEVANCE.easy), of(RELEVANCE.hard), of(RELEVANCE.junk)];
    // Medium: ok = easy + hard, junk = junk
    medium.push({ ok: [...easy, ...hardOnes], junk });
    // Hard: ok = hard, junk = junk + easy
    hard.push({ ok: hardOnes, junk: [...junk, ...easy] });
  }
  return { medium, hard };
}

export interface RevisitedMaps {
  readonly medium: MapResult;
  readonly hard: MapResult;
}

/** Medium and Hard mAP (and mP@1, 5, 10) of a ranking [Q, Ndb] against relevance codes [Q, Ndb]. */
export function revisitedMaps(ranking: Int32Array, relevance: ArrayLike<number>, Q: number, Ndb: number): RevisitedMaps {
  const { medium, hard } = revisitedTruth(relevance, Q, Ndb);
  return { medium: computeMap(ranking, Ndb, medium), hard: computeMap(ranking, Ndb, hard) };
}

/**
 * The whole measurement of eval_image_retrieval.py on given features: queries [Q, D] and database
 * [Ndb, D] L2-normalised, the database ranked by cosine similarity per query, Medium and Hard mAP.
 */
export function retrievalScores(be: Backend, queries: Float32Array, database: Float32Array, D: number, relevance: ArrayLike<number>): RevisitedMaps {
  const ranking = cosineRanking(be, queries, database, D);
  return revisitedMaps(ranking, relevance, queries.length / D, database.length / D);
}
