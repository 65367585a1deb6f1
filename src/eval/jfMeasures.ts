// The DAVIS measures of a video object segmentation (davis2017-evaluation, davis2017/metrics.py,
// used by the official eval_video_segmentation.py's README): per object and frame,
//   J = |A ∩ B| / |A ∪ B|                                  region similarity (1 when both are empty)
//   F = 2·P·R / (P + R)                                     boundary F-measure
// where P (R) is the share of the predicted (true) boundary pixels that lie within d pixels of the
// other boundary, d = ⌈0.008 · ‖(height, width)‖⌉, boundaries as db_eval_boundary's _seg2bmap draws
// them (a pixel differs from its east, south or south-east neighbour) and "within d" a dilation by
// a disk of radius d (skimage.morphology.disk, cv2.dilate). Conventions of the reference code: no
// predicted boundary → P = 1, R = 0 (both empty → F = 1); no true boundary → P = 0, R = 1.
// Masks are arrays of numbers [height, width], nonzero = object.

import { check } from "../tensor/errors.js";
import { jaccard } from "./jaccard.js";

/** J of one object in one frame: the Jaccard index, 1 for two empty masks (db_eval_iou). */
export function regionJ(predicted: ArrayLike<number>, truth: ArrayLike<number>): number {
  return jaccard(predicted, truth);
}

/**
 * _seg2bmap: 1 where a pixel differs from its east, south or south-east neighbour; in the last row
 * only from its east neighbour, in the last column only from its south one, never at the corner.
 */
export function boundaryMap(mask: ArrayLike<number>, width: number, height: number): Uint8Array {
  check(mask.length === width * height, () => `boundaryMap: a mask of ${mask.length} pixels; expected ${width}×${height}`);
  const at = (x: number, y: number) => (x < width && y < height && mask[y * width + x] !== 0 ? 1 : 0);
  const b = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = at(x, y);
      const lastRow = y === height - 1;
      const lastCol = x === width - 1;
      if (lastRow && lastCol) continue;
      // b = s ⊕ e | s ⊕ s_south | s ⊕ se; the last row only s ⊕ e, the last column only s ⊕ s_south
      if (lastRow) b[y * width + x] = s ^ at(x + 1, y);
      else if (lastCol) b[y * width + x] = s ^ at(x, y + 1);
      else b[y * width + x] = (s ^ at(x + 1, y)) | (s ^ at(x, y + 1)) | (s ^ at(x + 1, y + 1));
    }
  }
  return b;
}

/** Binary dilation by a disk of radius r: 1 where some pixel of `map` lies at (dx, dy) with dx² + dy² ≤ r². */
export function dilateDisk(map: Uint8Array, width: number, height: number, r: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (map[y * width + x] === 0) continue;
      for (let dy = -r; dy <= r; dy++) {
        for (let dx = -r; dx <= r; dx++) {
          const [u, v] = [x + dx, y + dy];
          // disk(r): dx² + dy² ≤ r²
          if (dx * dx + dy * dy <= r * r && u >= 0 && v >= 0 && u < width && v < height) out[v * width + u] = 1;
        }
      }
    }
  }
  return out;
}

/** The boundary tolerance d in pixels: ⌈0.008 · √(height² + width²)⌉ (db_eval_boundary, bound_th 0.008). */
export function boundaryTolerance(width: number, height: number, boundTh = 0.008): number {
  return boundTh >= 1 ? boundTh : Math.ceil(boundTh * Math.hypot(height, width));
}

/** F of one object in one frame (f_measure without void pixels). */
export function boundaryF(predicted: ArrayLike<number>, truth: ArrayLike<number>, width: number, height: number, boundTh = 0.008): number {
  check(predicted.length === truth.length, () => `boundaryF: masks of ${predicted.length} and ${truth.length} pixels; expected the same size`);
  const d = boundaryTolerance(width, height, boundTh);
  const fg = boundaryMap(predicted, width, height);
  const gt = boundaryMap(truth, width, height);
  const [fgNear, gtNear] = [dilateDisk(fg, width, height, d), dilateDisk(gt, width, height, d)];
  let [nFg, nGt, fgMatch, gtMatch] = [0, 0, 0, 0];
  for (let i = 0; i < fg.length; i++) {
    nFg += fg[i];
    nGt += gt[i];
    fgMatch += fg[i] & gtNear[i];
    gtMatch += gt[i] & fgNear[i];
  }
  let precision: number;
  let recall: number;
  if (nFg === 0 && nGt > 0) [precision, recall] = [1, 0];
  else if (nFg > 0 && nGt === 0) [precision, recall] = [0, 1];
  else if (nFg === 0 && nGt === 0) [precision, recall] = [1, 1];
  else [precision, recall] = [fgMatch / nFg, gtMatch / nGt];
  // F = 2PR / (P + R)
  return precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
}

export interface JfScores {
  /** J and F per object, each the mean over the scored frames. */
  readonly jPerObject: Float64Array;
  readonly fPerObject: Float64Array;
}

/**
 * J and F of every object k = 1..K of a clip, each the mean over the frames `frames` (DAVIS's
 * semi-supervised task scores every frame but the first and the last). `predicted[t]` and
 * `truth[t]` are label maps [height, width] (0 background, k object k).
 */
export function clipJf(predicted: readonly ArrayLike<number>[], truth: readonly ArrayLike<number>[], objects: number, width: number, height: number, frames: readonly number[]): JfScores {
  check(frames.length > 0, "clipJf: no frame to score");
  const jPerObject = new Float64Array(objects);
  const fPerObject = new Float64Array(objects);
  for (let k = 1; k <= objects; k++) {
    let [j, f] = [0, 0];
    for (const t of frames) {
      const p = Uint8Array.from(predicted[t] as ArrayLike<number>, (v) => (v === k ? 1 : 0));
      const g = Uint8Array.from(truth[t] as ArrayLike<number>, (v) => (v === k ? 1 : 0));
      j += regionJ(p, g);
      f += boundaryF(p, g, width, height);
    }
    jPerObject[k - 1] = j / frames.length;
    fPerObject[k - 1] = f / frames.length;
  }
  return { jPerObject, fPerObject };
}

/** (J&F)m = (mean over objects of J + mean over objects of F) / 2, with the two means (evaluation_method.py). */
export function jfMean(clips: readonly JfScores[]): { jf: number; j: number; f: number } {
  const js = clips.flatMap((c) => Array.from(c.jPerObject));
  const fs = clips.flatMap((c) => Array.from(c.fPerObject));
  check(js.length > 0, "jfMean: no object scored");
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  const [j, f] = [mean(js), mean(fs)];
  return { jf: (j + f) / 2, j, f };
}
