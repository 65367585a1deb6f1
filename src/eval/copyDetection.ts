// Copy detection as the official eval_copy_detection.py measures it on Copydays: descriptors (CLS
// ⊕ GeM of the last block's patch tokens, gem.ts) of the queries, the database and a separate
// whitening set; whitening learned on that set and applied to queries and database
// (whitening.ts); L2 normalisation, cosine similarity, the top 20 database images per query; AP
// per query from the positions of its positives among those 20 (score_ap_from_ranks_1, the
// Holidays trapezoid rule, the same as compute_ap: retrievalMap.averagePrecision) with nres = its
// number of positives; mAP = the mean over ALL queries (a query whose positive is not in the top
// 20 scores 0).

import type { Backend } from "../kernels/backend.js";
import type { ParamScope } from "../model/params.js";
import type { VitConfig } from "../model/vitConfig.js";
import type { ImageDataset } from "../data/dataset.js";
import { check } from "../tensor/errors.js";
import { cosineSimilarities, rankBySimilarity } from "./cosineRanking.js";
import { forEachTokenBatch } from "./features.js";
import { gemDescriptors } from "./gem.js";
import { averagePrecision } from "./retrievalMap.js";
import { applyWhitening, learnWhitening } from "./whitening.js";

/** The official number of retrieved database images per query. */
export const COPY_DETECTION_TOPK = 20;

export interface CopyDetectionScores {
  /** Mean AP over the queries. */
  readonly map: number;
  /** AP per query [Q]. */
  readonly aps: Float64Array;
  /** The top-k database indices per query [Q, topk], most similar first. */
  readonly indices: Int32Array;
}

/**
 * Scores queries [Q, E] against database [Ndb, E] with the whitening learned on `whitening`
 * [Nw, E] (null: no whitening, as the official script without a whitening set). `positives[q]`
 * lists the database indices that are copies' sources for query q.
 */
export function copyDetectionScores(
  be: Backend, queries: Float32Array, database: Float32Array, whitening: Float32Array | null, E: number, positives: readonly ArrayLike<number>[], topk = COPY_DETECTION_TOPK,
): CopyDetectionScores {
  const Q = positives.length;
  check(queries.length === Q * E, () => `copy detection: ${queries.length} query values; expected [Q, E] = [${Q}, ${E}]`);
  check(database.length % E === 0 && database.length > 0, () => `copy detection: ${database.length} database values are not rows of width ${E}`);
  const Ndb = database.length / E;
  check(Number.isInteger(topk) && topk >= 1 && topk <= Ndb, () => `copy detection: top ${topk}; expected an integer in [1, ${Ndb}] (the database size)`);
  let [q, db] = [queries, database];
  if (whitening !== null) {
    // μ and P from the whitening set; x ↦ P(x − μ) for queries and database
    const w = learnWhitening(whitening, E);
    [q, db] = [applyWhitening(w, queries), applyWhitening(w, database)];
  }
  const ranking = rankBySimilarity(cosineSimilarities(be, q, db, E), Q, Ndb);
  const indices = new Int32Array(Q * topk);
  const aps = new Float64Array(Q);
  let sum = 0;
  for (let i = 0; i < Q; i++) {
    indices.set(ranking.subarray(i * Ndb, i * Ndb + topk), i * topk);
    const pos = new Set(Array.from(positives[i]));
    check(pos.size > 0, () => `copy detection: query ${i} has no positive`);
    for (const p of pos) check(Number.isInteger(p) && p >= 0 && p < Ndb, () => `copy detection: query ${i} names database image ${p}; expected an index in [0, ${Ndb})`);
    // positions (0-based) of the positives among the top k
    const positions: number[] = [];
    for (let r = 0; r < topk; r++) if (pos.has(indices[i * topk + r])) positions.push(r);
    aps[i] = averagePrecision(positions, pos.size);
    sum += aps[i];
  }
  return { map: sum / Q, aps, indices };
}

/** Copy-detection descriptors [n, 2D] of every image: CLS ⊕ GeM(p = 4) of the last block's patch tokens. */
export function copyDetectionDescriptors(be: Backend, backbone: ParamScope, cfg: VitConfig, images: ImageDataset): Float32Array {
  const D = cfg.embedDim;
  const out = new Float32Array(images.length * 2 * D);
  forEachTokenBatch(be, backbone, cfg, images, (tokens, start, B, N) => out.set(gemDescriptors(tokens, B, N, D), start * 2 * D));
  return out;
}
