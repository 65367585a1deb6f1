// Ranking a database by cosine similarity to each query, as the official image-retrieval and
// copy-detection evaluations do (eval_image_retrieval.py: normalize, sim = db·qᵀ, argsort(−sim);
// eval_copy_detection.py: normalize, sim = q·dbᵀ, topk): features are L2-normalised, the
// similarities come from the backend's matmul, and each query's database images are sorted by
// decreasing similarity (ties: lower database index first; torch leaves their order unspecified).

import type { Backend } from "../kernels/backend.js";
import { check } from "../tensor/errors.js";
import { l2NormalizeRows } from "./knn.js";

/** Cosine similarities sim [Q, Ndb] of queries [Q, D] to database rows [Ndb, D] (both L2-normalised first). */
export function cosineSimilarities(be: Backend, queries: Float32Array, database: Float32Array, D: number): Float32Array {
  check(Number.isInteger(D) && D > 0, () => `cosine ranking: feature width D = ${D}; expected a positive integer`);
  check(queries.length % D === 0 && database.length % D === 0, () => `cosine ranking: ${queries.length} query and ${database.length} database values are not rows of D = ${D}`);
  const Q = queries.length / D;
  const Ndb = database.length / D;
  check(Q > 0 && Ndb > 0, () => `cosine ranking: ${Q} queries and ${Ndb} database images; expected at least one of each`);
  const q = l2NormalizeRows(queries, Q, D);
  const db = l2NormalizeRows(database, Ndb, D);
  const sim = new Float32Array(Q * Ndb);
  // sim = q̂ · d̂ᵀ
  be.matmul(sim, q, db, null, Q, D, Ndb, "NT", false);
  return sim;
}

/** Per query, the database indices by decreasing similarity: ranking [Q, Ndb] from sim [Q, Ndb]. */
export function rankBySimilarity(sim: Float32Array, Q: number, Ndb: number): Int32Array {
  check(sim.length === Q * Ndb, () => `rankBySimilarity: ${sim.length} similarities; expected [Q, Ndb] = [${Q}, ${Ndb}]`);
  const ranking = new Int32Array(Q * Ndb);
  const order = Array.from({ length: Ndb }, (_, i) => i);
  for (let q = 0; q < Q; q++) {
    const row = sim.subarray(q * Ndb, (q + 1) * Ndb);
    // argsort(−sim): most similar first, equal similarities by index
    order.sort((a, b) => row[b] - row[a] || a - b);
    ranking.set(order, q * Ndb);
    // each query sorts from the identity order
    for (let i = 0; i < Ndb; i++) order[i] = i;
  }
  return ranking;
}

/** The ranking [Q, Ndb] of the database for each query by cosine similarity of the features. */
export function cosineRanking(be: Backend, queries: Float32Array, database: Float32Array, D: number): Int32Array {
  const sim = cosineSimilarities(be, queries, database, D);
  return rankBySimilarity(sim, queries.length / D, database.length / D);
}
