// Features for the evaluations: the backbone's CLS output (after the final norm) for every image
// of a dataset, as the official eval_knn.py extracts them (model(x) = CLS token), in batches.

import type { Backend, Tensor } from "../kernels/backend.js";
import type { ParamScope } from "../model/params.js";
import type { VitConfig } from "../model/vitConfig.js";
import { vitForward, vitIntermediateLayers } from "../model/vit.js";
import type { ImageDataset } from "../data/dataset.js";
import { normalizeInto, normalizeTables } from "../data/augment.js";
import { DINO_MULTICROP } from "../data/multiCrop.js";
import { check } from "../tensor/errors.js";

/**
 * Runs `fn` on the images of `ds` in batches: `images` [B, 3, H, W] normalised with the ImageNet
 * statistics (every image must have the first one's size), in `be`'s memory, released after `fn`.
 */
export function forEachBatch(be: Backend, ds: ImageDataset, batchSize: number, fn: (images: Tensor, start: number, B: number, H: number, W: number) => void): void {
  check(ds.length > 0, "features: empty dataset");
  const { width: W, height: H } = ds.image(0);
  const tables = normalizeTables(DINO_MULTICROP.mean, DINO_MULTICROP.std);
  for (let start = 0; start < ds.length; start += batchSize) {
    const B = Math.min(batchSize, ds.length - start);
    const mark = be.mark();
    const images = be.alloc([B, 3, H, W]);
    const pixels = new Float32Array(B * 3 * H * W);
    for (let b = 0; b < B; b++) {
      const img = ds.image(start + b);
      check(img.width === W && img.height === H, () => `${ds.describe(start + b)} is ${img.width}×${img.height}; expected ${W}×${H} like the first image`);
      normalizeInto(img, tables, pixels, b * 3 * H * W);
    }
    images.data.set(pixels);
    fn(images, start, B, H, W);
    be.release(mark);
  }
}

/** CLS features [N, D] of every image (images of one size, normalised with the ImageNet statistics). */
export function extractFeatures(be: Backend, backbone: ParamScope, cfg: VitConfig, ds: ImageDataset, batchSize = 256): Float32Array {
  const D = cfg.embedDim;
  const features = new Float32Array(ds.length * D);
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
