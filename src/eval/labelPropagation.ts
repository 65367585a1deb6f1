// Label propagation between video frames by patch-feature affinity (official
// eval_video_segmentation.py label_propagation, after Jabri et al. 2020): the soft labels of a
// target frame's patches are a weighted vote of the labelled patches of its context frames (the
// first frame with its given mask and the previous n_last_frames with their propagated labels).
// Per target patch q and context patch k of frame m:
//   a(m, k, q) = exp(⟨t̂_q, ĉ_{m,k}⟩ / T)          cosine affinity of L2-normalised features, T = 0.1
//   a = 0 unless |i_q − i_k| ≤ r and |j_q − j_k| ≤ r   the spatial neighbourhood (r = size_mask_neighborhood; r = 0: no mask)
//   keep a ≥ the topk-th largest over all (m, k)      jointly over every context frame (ties kept)
//   seg(c, q) = Σ_{m,k} a(m, k, q)·seg_m(c, k) / Σ_{m,k} a(m, k, q)
// Shapes: h×w patch grid, N = h·w patches, D feature width, M context frames, C labels.

import type { Backend } from "../kernels/backend.js";
import { check } from "../tensor/errors.js";
import { l2NormalizeRows } from "./knn.js";

export interface PropagationOptions {
  /** Context patches that vote per target patch (official --topk, 5). */
  readonly topk: number;
  /** Neighbourhood radius r in patches (official --size_mask_neighborhood, 12); 0 disables the mask. */
  readonly neighborhood: number;
  /** Temperature T of the affinities (official 0.1, fixed in the code). */
  readonly temperature: number;
}

/** The official defaults (eval_video_segmentation.py): top 5, radius 12, T 0.1; and 7 previous frames. */
export const DAVIS_PROPAGATION: PropagationOptions & { readonly nLastFrames: number } = Object.freeze({ topk: 5, neighborhood: 12, temperature: 0.1, nLastFrames: 7 });

/** Throws unless the options are usable. */
export function checkPropagationOptions(o: PropagationOptions): void {
  check(Number.isInteger(o.topk) && o.topk >= 1, () => `label propagation: topk ${o.topk}; expected an integer ≥ 1`);
  check(Number.isInteger(o.neighborhood) && o.neighborhood >= 0, () => `label propagation: neighbourhood radius ${o.neighborhood}; expected an integer ≥ 0`);
  check(o.temperature > 0 && Number.isFinite(o.temperature), () => `label propagation: temperature ${o.temperature}; expected a number > 0`);
}

/**
 * The soft labels seg [C, N] of a target frame from its patch features target [N, D] and the
 * context frames' features contexts[m] [N, D] and soft labels segs[m] [C, N] (one-hot for the
 * first frame). Affinities are computed with `be`'s matmul; the vote in float64.
 */
export function propagateLabels(
  be: Backend, target: Float32Array, contexts: readonly Float32Array[], segs: readonly Float32Array[], h: number, w: number, D: number, C: number, opts: PropagationOptions,
): Float32Array {
  checkPropagationOptions(opts);
  const N = h * w;
  const M = contexts.length;
  check(M >= 1 && segs.length === M, () => `label propagation: ${M} context frames and ${segs.length} label maps; expected the same number, at least one`);
  check(target.length === N * D, () => `label propagation: target features have ${target.length} values; expected [N, D] = [${N}, ${D}]`);
  contexts.forEach((c, m) => check(c.length === N * D, () => `label propagation: context frame ${m} has ${c.length} feature values; expected [N, D] = [${N}, ${D}]`));
  segs.forEach((s, m) => check(s.length === C * N, () => `label propagation: context frame ${m} has ${s.length} label values; expected [C, N] = [${C}, ${N}]`));
  const { topk, neighborhood: r, temperature: T } = opts;

  // aff [M, N (target q), N (context k)] = exp(t̂_q · ĉ_kᵀ / T), 0 outside the neighbourhood
  const t = l2NormalizeRows(target, N, D);
  const aff = new Float64Array(M * N * N);
  const sim = new Float32Array(N * N);
  for (let m = 0; m < M; m++) {
    be.matmul(sim, t, l2NormalizeRows(contexts[m], N, D), null, N, D, N, "NT", false);
    for (let q = 0; q < N; q++) {
      const [iq, jq] = [Math.floor(q / w), q % w];
      for (let k = 0; k < N; k++) {
        const near = r === 0 || (Math.abs(Math.floor(k / w) - iq) <= r && Math.abs((k % w) - jq) <= r);
        // a = exp(sim / T) inside the neighbourhood
        aff[(m * N + q) * N + k] = near ? Math.exp(sim[q * N + k] / T) : 0;
      }
    }
  }

  const seg = new Float32Array(C * N);
  const column = new Float64Array(M * N);
  const votes = new Float64Array(C);
  for (let q = 0; q < N; q++) {
    for (let m = 0; m < M; m++) column.set(aff.subarray((m * N + q) * N, (m * N + q + 1) * N), m * N);
    const threshold = kthLargest(column, topk);
    votes.fill(0);
    let total = 0;
    for (let m = 0; m < M; m++) {
      for (let k = 0; k < N; k++) {
        const a = column[m * N + k];
        // keep a ≥ the topk-th largest (the official aff[aff < min(topk)] = 0)
        if (a < threshold || a === 0) continue;
        total += a;
        for (let c = 0; c < C; c++) votes[c] += a * segs[m][c * N + k];
      }
    }
    // seg(c, q) = Σ a·seg / Σ a
    for (let c = 0; c < C; c++) seg[c * N + q] = total > 0 ? votes[c] / total : 0;
  }
  return seg;
}

/** The k-th largest value of `values` (k ≥ 1; 0 when there are fewer than k values, as masked zeros fill the official column). */
function kthLargest(values: Float64Array, k: number): number {
  if (values.length < k) return 0;
  const sorted = Float64Array.from(values).sort();
  return sorted[sorted.length - k];
}
