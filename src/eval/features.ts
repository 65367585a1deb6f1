// Features for the evaluations: the backbone's CLS output (after the final norm) for every image
// of a dataset, as the official eval_knn.py extracts them (model(x) = CLS token), in batches that
// fit the --max-memory limit.

import type { Backend } from "../kernels/backend.js";
import type { ParamScope } from "../model/params.js";
import type { VitConfig } from "../model/vitConfig.js";
import { vitForward } from "../model/vit.js";
import { inferenceBatch } from "../model/memory.js";
import type { ImageDataset } from "../data/dataset.js";
import { normalizeInto, normalizeTables } from "../data/augment.js";
import { DINO_MULTICROP } from "../data/multiCrop.js";
import { check } from "../tensor/errors.js";

/** CLS features [N, D] of every image (images of one size, normalised with the ImageNet statistics). */
export function extractFeatures(be: Backend, backbone: ParamScope, cfg: VitConfig, ds: ImageDataset, batchSize = 256): Float32Array {
  const N = ds.length;
  const D = cfg.embedDim;
  check(N > 0, "extractFeatures: empty dataset");
  const { width: W, height: H } = ds.image(0);
  const tables = normalizeTables(DINO_MULTICROP.mean, DINO_MULTICROP.std);
  const features = new Float32Array(N * D);
  // fewer images per batch when a batch would not fit --max-memory (the same features)
  batchSize = inferenceBatch(cfg, H, W, batchSize, "features");
  for (let start = 0; start < N; start += batchSize) {
    const B = Math.min(batchSize, N - start);
    const mark = be.mark();
    const images = be.alloc([B, 3, H, W]);
    const pixels = new Float32Array(B * 3 * H * W);
    for (let b = 0; b < B; b++) {
      const img = ds.image(start + b);
      check(img.width === W && img.height === H, () => `${ds.describe(start + b)} is ${img.width}×${img.height}; expected ${W}×${H} like the first image`);
      normalizeInto(img, tables, pixels, b * 3 * H * W);
    }
    images.data.set(pixels);
    const { cls } = vitForward(be, backbone, cfg, images, B, H, W, { cache: false });
    features.set(cls.data, start * D);
    be.release(mark);
  }
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
