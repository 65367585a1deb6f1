// Video object segmentation by label propagation, frame by frame as the official
// eval_video_segmentation.py runs a DAVIS clip (eval_video_tracking_davis):
//   first frame: its label map sampled at the patch grid (PIL NEAREST resize to w×h: the pixel
//                p·j + ⌊p/2⌋ of each patch), one-hot over C = objects + 1 labels
//   frame t ≥ 1: seg_t = propagate(features_t; the first frame's features and one-hot labels, and
//                those of the previous n_last_frames frames with their propagated soft labels)
//                (labelPropagation.ts), then a FIFO of the last n_last_frames (features, seg)
//   output:      seg_t upsampled ×p (bilinear, align_corners false), each channel with max > 0
//                min-max normalised, argmax over the labels (the first on ties)
// Features are the last block's patch tokens after the final norm (CLS dropped) of frames
// normalised with the video script's std (0.228, 0.224, 0.225). Frames must be multiples of the
// patch size (the official script resizes them so; the generated clips are).
// Difference from the official script: a channel that is constant and positive (max = min > 0)
// would be divided 0/0 there (NaN, which torch.max then picks); here it becomes 1 everywhere.

import type { Backend } from "../kernels/backend.js";
import type { ParamScope } from "../model/params.js";
import type { VitConfig } from "../model/vitConfig.js";
import type { Image } from "../data/image.js";
import { normalizeInto, normalizeTables } from "../data/augment.js";
import { check } from "../tensor/errors.js";
import { forEachTokenBatch, VIDEO_NORMALIZATION } from "./features.js";
import { propagateLabels, type PropagationOptions } from "./labelPropagation.js";

export interface VideoSegmentationOptions extends PropagationOptions {
  /** Previous frames kept as context besides the first (official --n_last_frames, 7). */
  readonly nLastFrames: number;
}

/** The one-hot labels [C, h·w] of a label map [H, W] sampled at each p×p patch's pixel (p·i + ⌊p/2⌋, p·j + ⌊p/2⌋). */
export function patchLabels(labels: Uint8Array, width: number, height: number, p: number, C: number): Float32Array {
  check(width % p === 0 && height % p === 0, () => `patchLabels: a ${width}×${height} label map is not a multiple of the patch size ${p}`);
  const [h, w] = [height / p, width / p];
  const out = new Float32Array(C * h * w);
  for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
    // PIL NEAREST from H×W to h×w: source pixel ⌊(i + 0.5)·p⌋
    const y = Math.floor((i + 0.5) * p);
    const x = Math.floor((j + 0.5) * p);
    const c = labels[y * width + x];
    check(c < C, () => `patchLabels: label ${c} at pixel (${x}, ${y}); expected labels below ${C}`);
    out[c * h * w + i * w + j] = 1;
  }
  return out;
}

/** Bilinear upsampling ×s of one channel [h, w] (F.interpolate, align_corners false, the scale used as given). */
function upsampleBilinear(x: Float32Array, h: number, w: number, s: number): Float64Array {
  const [H, W] = [h * s, w * s];
  const out = new Float64Array(H * W);
  const coords = (o: number, n: number): [number, number, number] => {
    // source = (o + 0.5)/s − 0.5, clamped at 0; the neighbour clamped at n − 1
    const src = Math.max(0, (o + 0.5) / s - 0.5);
    const i0 = Math.floor(src);
    return [i0, i0 < n - 1 ? i0 + 1 : i0, src - i0];
  };
  for (let oy = 0; oy < H; oy++) {
    const [y0, y1, ly] = coords(oy, h);
    for (let ox = 0; ox < W; ox++) {
      const [x0, x1, lx] = coords(ox, w);
      const top = (1 - lx) * x[y0 * w + x0] + lx * x[y0 * w + x1];
      const bottom = (1 - lx) * x[y1 * w + x0] + lx * x[y1 * w + x1];
      out[oy * W + ox] = (1 - ly) * top + ly * bottom;
    }
  }
  return out;
}

/** The label map [h·p, w·p] of soft labels seg [C, h·w]: bilinear ×p, per-channel min-max (channels with max > 0), argmax. */
export function labelsFromSeg(seg: Float32Array, C: number, h: number, w: number, p: number): Uint8Array {
  check(seg.length === C * h * w, () => `labelsFromSeg: ${seg.length} values; expected [C, h, w] = [${C}, ${h}, ${w}]`);
  const n = h * p * w * p;
  const channels = Array.from({ length: C }, (_, c) => {
    const up = upsampleBilinear(seg.subarray(c * h * w, (c + 1) * h * w), h, w, p);
    let [lo, hi] = [Infinity, -Infinity];
    for (const v of up) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    // norm_mask: (x − min) / max(x − min) when max > 0
    if (hi > 0) for (let i = 0; i < n; i++) up[i] = hi > lo ? (up[i] - lo) / (hi - lo) : 1;
    return up;
  });
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < C; c++) if (channels[c][i] > channels[best][i]) best = c;
    out[i] = best;
  }
  return out;
}

/** Patch features [n, D] of each frame: the last block's patch tokens after the final norm (CLS dropped). */
export function framePatchFeatures(be: Backend, backbone: ParamScope, cfg: VitConfig, frames: readonly Image[]): Float32Array[] {
  const D = cfg.embedDim;
  const out: Float32Array[] = [];
  const ds = { length: frames.length, classes: ["frame"], image: (i: number) => frames[i], label: () => 0, describe: (i: number) => `frame ${i}` };
  forEachTokenBatch(be, backbone, cfg, ds, (tokens, _start, B, N) => {
    for (let b = 0; b < B; b++) out.push(tokens.slice((b * N + 1) * D, (b + 1) * N * D));
  }, { normalization: VIDEO_NORMALIZATION });
  return out;
}

/** Raw-pixel patch features [n, 3p²] of each frame: each patch's normalised pixels (the baseline that needs no network). */
export function framePixelFeatures(frames: readonly Image[], p: number): Float32Array[] {
  const tables = normalizeTables(VIDEO_NORMALIZATION.mean, VIDEO_NORMALIZATION.std);
  return frames.map((img) => {
    const { width: W, height: H } = img;
    const [h, w] = [Math.floor(H / p), Math.floor(W / p)];
    const px = normalizeInto(img, tables);
    const D = 3 * p * p;
    const out = new Float32Array(h * w * D);
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
      for (let c = 0; c < 3; c++) for (let y = 0; y < p; y++) for (let x = 0; x < p; x++) {
        out[(i * w + j) * D + (c * p + y) * p + x] = px[c * H * W + (i * p + y) * W + j * p + x];
      }
    }
    return out;
  });
}

/**
 * Propagates the first frame's label map through a clip whose frames have patch features
 * `features[t]` [h·w, D]: the predicted label maps [H, W] of every frame (frame 0: the given one)
 * and the soft labels seg_t [C, h·w] (frame 0: its one-hot labels).
 */
export function propagateClip(
  be: Backend, features: readonly Float32Array[], firstLabels: Uint8Array, width: number, height: number, p: number, C: number, opts: VideoSegmentationOptions,
): { labels: Uint8Array[]; segs: Float32Array[] } {
  check(Number.isInteger(opts.nLastFrames) && opts.nLastFrames >= 0, () => `video segmentation: n_last_frames ${opts.nLastFrames}; expected an integer ≥ 0`);
  const [h, w] = [height / p, width / p];
  const D = features[0].length / (h * w);
  const first = patchLabels(firstLabels, width, height, p, C);
  const queue: { feat: Float32Array; seg: Float32Array }[] = [];
  const labels = [firstLabels];
  const segs = [first];
  for (let t = 1; t < features.length; t++) {
    // context: the first frame and the previous n_last_frames
    const contexts = [features[0], ...queue.map((e) => e.feat)];
    const ctxSegs = [first, ...queue.map((e) => e.seg)];
    const seg = propagateLabels(be, features[t], contexts, ctxSegs, h, w, D, C, opts);
    if (queue.length === opts.nLastFrames) queue.shift();
    if (opts.nLastFrames > 0) queue.push({ feat: features[t], seg });
    labels.push(labelsFromSeg(seg, C, h, w, p));
    segs.push(seg);
  }
  return { labels, segs };
}
