// Features for the evaluations: the backbone's CLS output (after the final norm) for every image
// of a dataset, as the official eval_knn.py extracts them (model(x) = CLS token), in batches that
// fit the --max-memory limit; and the last block's tokens after the final norm
// (get_intermediate_layers(x, n=1)[0]), which the copy-detection and video-segmentation
// evaluations read.

import type { Backend, Tensor } from "../kernels/backend.js";
import type { ParamScope } from "../model/params.js";
import type { VitConfig } from "../model/vitConfig.js";
import { vitForward, vitIntermediateLayers } from "../model/vit.js";
import { inferenceBatch } from "../model/memory.js";
import type { ImageDataset } from "../data/dataset.js";
import { normalizeInto, normalizeTables } from "../data/augment.js";
import { DINO_MULTICROP } from "../data/multiCrop.js";
import { check, DinoRefError } from "../tensor/errors.js";

/**
 * Images [start, start + B) of `ds` (or ds at `order[start..]`) normalised into a new batch tensor
 * [B, 3, H, W] of `be` (ToTensor + Normalize with `tables`); every image must have the first one's size.
 */
export function normalizedBatch(be: Backend, ds: ImageDataset, start: number, B: number, tables: Float32Array[], order?: ArrayLike<number>): Tensor {
  const at = (b: number) => (order === undefined ? start + b : order[start + b]);
  const { width: W, height: H } = ds.image(at(0));
  const batch = be.alloc([B, 3, H, W]);
  const pixels = new Float32Array(B * 3 * H * W);
  for (let b = 0; b < B; b++) {
    const img = ds.image(at(b));
    check(img.width === W && img.height === H, () => `${ds.describe(at(b))} is ${img.width}×${img.height}; expected ${W}×${H} like the first image`);
    normalizeInto(img, tables, pixels, b * 3 * H * W);
  }
  batch.data.set(pixels);
  return batch;
}

/** The ImageNet statistics of every evaluation, and the std eval_video_segmentation.py uses (0.228 for red). */
export const IMAGENET_NORMALIZATION = { mean: DINO_MULTICROP.mean, std: DINO_MULTICROP.std } as const;
export const VIDEO_NORMALIZATION = { mean: DINO_MULTICROP.mean, std: [0.228, 0.224, 0.225] as const } as const;

/**
 * Runs `fn` on the images of `ds` in batches: `images` [B, 3, H, W] normalised with `normalization`
 * (default the ImageNet statistics; every image must have the first one's size), in `be`'s memory,
 * released after `fn`.
 */
export function forEachBatch(
  be: Backend, ds: ImageDataset, batchSize: number, fn: (images: Tensor, start: number, B: number, H: number, W: number) => void,
  normalization: { mean: readonly number[]; std: readonly number[] } = IMAGENET_NORMALIZATION,
): void {
  check(ds.length > 0, "features: empty dataset");
  const { width: W, height: H } = ds.image(0);
  const tables = normalizeTables(normalization.mean, normalization.std);
  for (let start = 0; start < ds.length; start += batchSize) {
    const B = Math.min(batchSize, ds.length - start);
    const mark = be.mark();
    const images = normalizedBatch(be, ds, start, B, tables);
    fn(images, start, B, H, W);
    be.release(mark);
  }
}

/** CLS features [N, D] of every image (images of one size, normalised with the ImageNet statistics). */
export function extractFeatures(be: Backend, backbone: ParamScope, cfg: VitConfig, ds: ImageDataset, batchSize = 256): Float32Array {
  const D = cfg.embedDim;
  const features = new Float32Array(ds.length * D);
  const { width: W0, height: H0 } = ds.image(0);
  // fewer images per batch when a batch would not fit --max-memory (the same features)
  batchSize = inferenceBatch(cfg, H0, W0, batchSize, "features");
  forEachBatch(be, ds, batchSize, (images, start, B, H, W) => {
    const { cls } = vitForward(be, backbone, cfg, images, B, H, W, { cache: false });
    features.set(cls.data, start * D);
  });
  return features;
}

/** Raw-pixel features [N, 3·H·W] (the normalised pixels), the baseline a learned feature must beat. */
export function pixelFeatures(ds: ImageDataset): { features: Float32Array; dim: number } {
  const { width: W, height: H } = ds.image(0);
  const dim = 3 * H * W;
  const tables = normalizeTables(DINO_MULTICROP.mean, DINO_MULTICROP.std);
  const features = new Float32Array(ds.length * dim);
  for (let i = 0; i < ds.length; i++) normalizeInto(ds.image(i), tables, features, i * dim);
  return { features, dim };
}

/**
 * CLS tokens [N, D] and patch tokens [N, n, D] of every image, both after the final norm (the
 * official get_intermediate_layers(x, 1)); n = the patches of one image (images of one size).
 */
export function extractTokens(be: Backend, backbone: ParamScope, cfg: VitConfig, ds: ImageDataset, batchSize = 64): { cls: Float32Array; patches: Float32Array; n: number } {
  const D = cfg.embedDim;
  const { width, height } = ds.image(0);
  const n = Math.floor(height / cfg.patchSize) * Math.floor(width / cfg.patchSize);
  const cls = new Float32Array(ds.length * D);
  const patches = new Float32Array(ds.length * n * D);
  batchSize = inferenceBatch(cfg, height, width, batchSize, "tokens");
  forEachBatch(be, ds, batchSize, (images, start, B, H, W) => {
    // tokens [B, 1 + n, D]: row 0 the CLS token, rows 1..n the patches
    const [tokens] = vitIntermediateLayers(be, backbone, cfg, images, B, H, W, 1);
    for (let b = 0; b < B; b++) {
      const row = b * (1 + n) * D;
      cls.set(tokens.data.subarray(row, row + D), (start + b) * D);
      patches.set(tokens.data.subarray(row + D, row + (1 + n) * D), (start + b) * n * D);
    }
  });
  return { cls, patches, n };
}

/**
 * Calls `use(tokens, start, B, N)` for consecutive batches of images [start, start + B) of `images`
 * (all of one size), with tokens [B, N, D] = the last block's output after the final norm (CLS
 * first, then the patches row by row). `tokens` is valid only during the call.
 */
export function forEachTokenBatch(
  be: Backend, backbone: ParamScope, cfg: VitConfig, images: ImageDataset, use: (tokens: Float32Array, start: number, B: number, N: number) => void,
  opts: { batchSize?: number; normalization?: { mean: readonly number[]; std: readonly number[] } } = {},
): void {
  const { normalization = IMAGENET_NORMALIZATION } = opts;
  check(images.length > 0, "forEachTokenBatch: no images");
  const { width: W, height: H } = images.image(0);
  // fewer images per batch when a batch would not fit --max-memory (the same tokens)
  const batchSize = inferenceBatch(cfg, H, W, opts.batchSize ?? 128, "tokens");
  forEachBatch(be, images, batchSize, (batch, start, B) => {
    const [tokens] = vitIntermediateLayers(be, backbone, cfg, batch, B, H, W, 1);
    const values = Float32Array.from(tokens.data);
    checkFinite(values, () => `the network's tokens for ${images.describe(start)}…`);
    use(values, start, B, tokens.shape[1]);
  }, normalization);
}

/** Throws a one-line error unless every value is finite (a NaN weight would otherwise rank silently at random). */
export function checkFinite(values: ArrayLike<number>, what: () => string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new DinoRefError(`${what()} hold ${values[i]} at index ${i}: the weights give non-finite features`);
  }
}
