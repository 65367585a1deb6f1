// Training batches: for epoch e a seeded shuffle of the train set (Rng(seed, STREAM.shuffle, e)),
// drop_last, and each batch's multi-crops assembled crop-major, as the training step (and the
// official default collate) consumes them: crops[c] = Float32Array [B, 3, s_c, s_c], crops 0 and 1
// global, then the locals. Any batch can be built on its own (resume, parallel workers).

import { DinoRefError } from "../tensor/errors.js";
import { Rng, STREAM } from "../tensor/rng.js";
import { augmentCrop, type CropSpec, normalizeInto, normalizeTables } from "./augment.js";
import type { ImageDataset } from "./dataset.js";
import { cropRng, cropSpecs, imageKey, type MultiCropConfig, multiCropConfig } from "./multiCrop.js";

export interface Batch {
  epoch: number;
  /** Batch number within the epoch, 0..batchesPerEpoch−1. */
  batch: number;
  /** Dataset indices of the B images, in batch order. */
  indices: Int32Array; // [B]
  labels: Int32Array; // [B]
  /** crops[c]: crop c of every image, [B, 3, sizes[c], sizes[c]]. */
  crops: Float32Array[];
  sizes: number[];
}

/** Consecutive crops of equal size, as MultiCropWrapper groups them (one backbone call per group). */
export function resolutionGroups(sizes: readonly number[]): { size: number; start: number; count: number }[] {
  const groups: { size: number; start: number; count: number }[] = [];
  sizes.forEach((size, c) => {
    const last = groups[groups.length - 1];
    if (last && last.size === size) last.count++;
    else groups.push({ size, start: c, count: 1 });
  });
  return groups;
}

export class MultiCropLoader {
  readonly cfg: MultiCropConfig;
  readonly batchesPerEpoch: number;
  readonly sizes: number[];
  private readonly specs: CropSpec[];
  private readonly tables: Float32Array[];

  constructor(
    readonly dataset: ImageDataset,
    cfg: Partial<MultiCropConfig>,
    readonly seed: number,
    readonly batchSize: number,
  ) {
    this.cfg = multiCropConfig(cfg);
    if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new DinoRefError(`batch size ${batchSize}; expected a positive integer`);
    if (batchSize > dataset.length) {
      throw new DinoRefError(`batch size ${batchSize} is larger than the ${dataset.length} training images; with drop_last there would be no batch`);
    }
    if (!(Number.isSafeInteger(seed) && seed >= 0)) throw new DinoRefError(`seed ${seed}; expected a non-negative integer`);
    // drop_last: the last N mod B images of each shuffled epoch are not used
    this.batchesPerEpoch = Math.floor(dataset.length / batchSize);
    this.specs = cropSpecs(this.cfg);
    this.sizes = this.specs.map((s) => s.size);
    this.tables = normalizeTables(this.cfg.mean, this.cfg.std);
  }

  /** The shuffled order of epoch e: Rng(seed, STREAM.shuffle, e).permutation(N). */
  order(epoch: number): Int32Array {
    if (!(Number.isInteger(epoch) && epoch >= 0)) throw new DinoRefError(`epoch ${epoch}; expected a non-negative integer`);
    return new Rng(this.seed, STREAM.shuffle, epoch).permutation(this.dataset.length);
  }

  /** Batch b of epoch e: images order(e)[b·B .. (b+1)·B − 1]. */
  batch(epoch: number, b: number, order = this.order(epoch)): Batch {
    if (!(Number.isInteger(b) && b >= 0 && b < this.batchesPerEpoch)) {
      throw new DinoRefError(`batch ${b}; expected an integer in [0, ${this.batchesPerEpoch}) (${this.dataset.length} images, batch size ${this.batchSize}, drop_last)`);
    }
    const B = this.batchSize;
    const N = this.dataset.length;
    const indices = order.slice(b * B, (b + 1) * B);
    const labels = Int32Array.from(indices, (i) => this.dataset.label(i));
    const crops = this.sizes.map((s) => new Float32Array(B * 3 * s * s));
    for (let k = 0; k < B; k++) {
      const img = this.dataset.image(indices[k]);
      const key = imageKey(epoch, N, indices[k]);
      this.specs.forEach((spec, c) => {
        const { image } = augmentCrop(img, spec, cropRng(this.seed, key, c));
        normalizeInto(image, this.tables, crops[c], k * 3 * spec.size * spec.size);
      });
    }
    return { epoch, batch: b, indices, labels, crops, sizes: this.sizes };
  }

  /** All batches of epoch e, in order. */
  *epoch(epoch: number): Generator<Batch> {
    const order = this.order(epoch);
    for (let b = 0; b < this.batchesPerEpoch; b++) yield this.batch(epoch, b, order);
  }
}
