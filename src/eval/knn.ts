// Weighted k-NN classification of features (official eval_knn.py, after Wu et al. 2018): each
// test image votes with its k most similar training images (cosine similarity of L2-normalised
// features), each neighbour weighted by exp(similarity / T); the class with the largest summed
// weight wins. The paper reports k = 20, T = 0.07. This version works for any number of test
// images (the official one needs at least 100).

import { check } from "../tensor/errors.js";
import type { Backend } from "../kernels/backend.js";
import { NO_BUGS, type Bugs } from "../tensor/portingBugs.js";

export interface KnnOptions {
  /** Neighbours that vote, default 20. */
  k?: number;
  /** Temperature T of the vote weights exp(sim / T), default 0.07. */
  temperature?: number;
  /** Number of classes C (labels are 0..C−1). */
  numClasses: number;
  /** knn.unweighted_votes (diagnosis only): every neighbour's vote counts 1. */
  bugs?: Bugs;
}

export interface KnnResult {
  /** Top-1 class per test image [Nte]. */
  predictions: Int32Array;
  /** Percent of test images whose top-1 class is right. */
  top1: number;
  /** Percent whose label is among the top min(5, k) classes. */
  top5: number;
}

/** Rows of x [R, D] divided by max(‖row‖₂, 1e−12) (F.normalize), as a new array. */
export function l2NormalizeRows(x: Float32Array, R: number, D: number): Float32Array {
  const out = new Float32Array(R * D);
  for (let r = 0; r < R; r++) {
    let s = 0;
    for (let d = 0; d < D; d++) s += x[r * D + d] * x[r * D + d];
    // x / max(‖x‖, 1e-12)
    const norm = Math.fround(Math.max(Math.sqrt(s), 1e-12));
    for (let d = 0; d < D; d++) out[r * D + d] = x[r * D + d] / norm;
  }
  return out;
}

/**
 * Classifies test features [Nte, D] by a weighted vote of their k nearest training features
 * [Ntr, D] (cosine similarity), the similarities computed with the matmul of `be`. Labels are
 * integers in [0, numClasses).
 */
export function knnClassify(
  be: Backend,
  trainFeatures: Float32Array,
  trainLabels: ArrayLike<number>,
  testFeatures: Float32Array,
  testLabels: ArrayLike<number>,
  D: number,
  opts: KnnOptions,
): KnnResult {
  const { k = 20, temperature = 0.07, numClasses, bugs = NO_BUGS } = opts;
  const unweighted = bugs.has("knn.unweighted_votes");
  const Ntr = trainLabels.length;
  const Nte = testLabels.length;
  check(Number.isInteger(D) && D > 0, () => `knn: feature width D = ${D}; expected a positive integer`);
  check(trainFeatures.length === Ntr * D, () => `knn: train features have ${trainFeatures.length} values; expected [Ntr, D] = [${Ntr}, ${D}]`);
  check(testFeatures.length === Nte * D, () => `knn: test features have ${testFeatures.length} values; expected [Nte, D] = [${Nte}, ${D}]`);
  check(Number.isInteger(k) && k >= 1 && k <= Ntr, () => `knn: k = ${k}; expected an integer in [1, ${Ntr}] (the number of training images)`);
  check(temperature > 0, () => `knn: temperature ${temperature}; expected > 0`);
  check(Number.isInteger(numClasses) && numClasses >= 1, () => `knn: numClasses ${numClasses}; expected a positive integer`);
  for (const [name, labels] of [["train", trainLabels], ["test", testLabels]] as const) {
    for (let i = 0; i < labels.length; i++) {
      const y = labels[i];
      check(Number.isInteger(y) && y >= 0 && y < numClasses, () => `knn: ${name} label ${i} is ${y}; expected an integer in [0, ${numClasses})`);
    }
  }

  const train = l2NormalizeRows(trainFeatures, Ntr, D);
  const test = l2NormalizeRows(testFeatures, Nte, D);
  const predictions = new Int32Array(Nte);
  let correct1 = 0;
  let correct5 = 0;
  const chunk = Math.max(1, Math.min(Nte, Math.floor(4_000_000 / Ntr)));
  const neighbours = new Int32Array(k);
  const votes = new Float64Array(numClasses);
  for (let start = 0; start < Nte; start += chunk) {
    const rows = Math.min(chunk, Nte - start);
    // sim [rows, Ntr] = test_chunk · trainᵀ (cosine similarities)
    const sim = new Float32Array(rows * Ntr);
    be.matmul(sim, test.subarray(start * D, (start + rows) * D), train, null, rows, D, Ntr, "NT", false);
    for (let r = 0; r < rows; r++) {
      const simRow = sim.subarray(r * Ntr, (r + 1) * Ntr);
      topK(simRow, k, neighbours);
      votes.fill(0);
      // when exp(max sim / T) overflows or underflows float32 (a tiny T), every weight is divided
      // by it: w_j = exp((sim_j − max sim) / T), the same vote up to one factor per image
      const top = simRow[neighbours[0]];
      const wTop = Math.fround(Math.exp(Math.fround(top / temperature)));
      const shift = wTop === Infinity || wTop === 0 ? top : 0;
      for (let j = 0; j < k; j++) {
        const n = neighbours[j];
        // w_j = exp(sim_j / T), summed per class
        votes[trainLabels[n]] += unweighted ? 1 : Math.fround(Math.exp(Math.fround((simRow[n] - shift) / temperature))); // x − 0 is x, bit for bit
      }
      const ranked = topClasses(votes, Math.min(5, k));
      const y = testLabels[start + r];
      predictions[start + r] = ranked[0];
      if (ranked[0] === y) correct1++;
      if (ranked.includes(y)) correct5++;
    }
  }
  return { predictions, top1: (100 * correct1) / Nte, top5: (100 * correct5) / Nte };
}

/** Indices of the k largest values of `values`, largest first (ties: lower index first). */
function topK(values: Float32Array, k: number, out: Int32Array): void {
  let filled = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (filled === k && !(v > values[out[k - 1]])) continue;
    // insertion into the sorted list out[0..filled)
    let j = filled < k ? filled++ : k - 1;
    while (j > 0 && v > values[out[j - 1]]) {
      out[j] = out[j - 1];
      j--;
    }
    out[j] = i;
  }
}

/** The m classes with the largest votes, largest first (ties: lower class first), without sorting every class. */
function topClasses(votes: Float64Array, m: number): number[] {
  const best: number[] = [];
  for (let c = 0; c < votes.length; c++) {
    const v = votes[c];
    if (best.length === m && !(v > votes[best[m - 1]])) continue;
    // insert after every class with a vote ≥ v (earlier classes win ties)
    let at = best.length;
    while (at > 0 && v > votes[best[at - 1]]) at--;
    best.splice(at, 0, c);
    if (best.length > m) best.pop();
  }
  return best;
}
