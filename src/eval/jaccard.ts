// The Jaccard index (intersection over union) of two binary masks, the score of the paper's Fig. 4
// (attention masks against ground-truth segmentations), and the best score a mask made of whole
// p×p patches can reach, the ceiling for a ViT's patch-level attention masks.
// A mask is any array of numbers, nonzero = in the set.

import { check } from "../tensor/errors.js";

/**
 * J(A, B) = |A ∩ B| / |A ∪ B|, in [0, 1]; symmetric; 1 for identical masks, 0 for disjoint ones.
 * Convention: two empty masks are identical, J(∅, ∅) = 1.
 */
export function jaccard(a: ArrayLike<number>, b: ArrayLike<number>): number {
  check(a.length === b.length, () => `jaccard: masks of ${a.length} and ${b.length} pixels; expected the same size`);
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.length; i++) {
    const [x, y] = [a[i] !== 0, b[i] !== 0];
    if (x && y) inter++;
    if (x || y) union++;
  }
  return union === 0 ? 1 : inter / union;
}

/**
 * The largest J(A, truth) over masks A that are unions of whole p×p patches (the grid of a
 * width × height image, whose sides are multiples of p). For k patches, J = I/(|truth| + k·p² − I)
 * grows with the intersection I, so the best k-patch mask takes the k patches holding the most
 * truth pixels; the answer is the best k. J = 1 for an empty truth (the empty mask).
 */
export function bestPatchJaccard(truth: ArrayLike<number>, width: number, height: number, p: number): number {
  check(width % p === 0 && height % p === 0 && truth.length === width * height, () => `bestPatchJaccard: a ${width}×${height} mask of ${truth.length} pixels on a ${p}-px grid`);
  const cols = width / p;
  const counts = new Float64Array(cols * (height / p));
  let total = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (truth[y * width + x] === 0) continue;
      counts[Math.floor(y / p) * cols + Math.floor(x / p)]++;
      total++;
    }
  }
  if (total === 0) return 1;
  counts.sort().reverse();
  let best = 0;
  let inter = 0;
  for (let k = 1; k <= counts.length && counts[k - 1] > 0; k++) {
    inter += counts[k - 1];
    // J = I / (|truth| + k·p² − I)
    best = Math.max(best, inter / (total + k * p * p - inter));
  }
  return best;
}

/** A patch mask [rows·cols] as a pixel mask [rows·p, cols·p]: each patch a p×p block (nearest upsampling, as the official script). */
export function patchMaskToPixels(mask: ArrayLike<number>, rows: number, cols: number, p: number): Uint8Array {
  check(mask.length === rows * cols, () => `patchMaskToPixels: ${mask.length} patches; expected rows·cols = ${rows}·${cols}`);
  const W = cols * p;
  const out = new Uint8Array(rows * p * W);
  for (let y = 0; y < rows * p; y++) for (let x = 0; x < W; x++) out[y * W + x] = mask[Math.floor(y / p) * cols + Math.floor(x / p)] !== 0 ? 1 : 0;
  return out;
}
