// The multi-crop loader of a training config (its crop sizes, count and scales, its named
// augmentation from data/multiCrop.ts AUGMENTATIONS, its seed and batch size), and a batch's crops
// as the tensors the training step takes: crop c of every image, [B, 3, s_c, s_c].

import type { Tensor } from "../kernels/backend.js";
import type { ImageDataset } from "../data/dataset.js";
import { MultiCropLoader, type Batch } from "../data/loader.js";
import { AUGMENTATIONS } from "../data/multiCrop.js";
import type { TrainConfig } from "./config.js";

/** The loader a run of `c` draws its batches from, over the training images `train`. */
export function trainLoader(c: TrainConfig, train: ImageDataset): MultiCropLoader {
  const crops = { globalSize: c.globalSize, localSize: c.localSize, localCount: c.localCrops, globalScale: c.globalScale, localScale: c.localScale };
  return new MultiCropLoader(train, { ...AUGMENTATIONS[c.augmentation], ...crops }, c.seed, c.batchSize);
}

/** The crops of a batch as tensors [B, 3, s, s], crop-major as the training step takes them. */
export function cropTensors(batch: Batch): Tensor[] {
  const B = batch.indices.length;
  return batch.crops.map((data, i) => ({ shape: [B, 3, batch.sizes[i], batch.sizes[i]], data }));
}
