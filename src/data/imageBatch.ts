// PNG files as one batch of network inputs [B, 3, H, W], preprocessed as the official evaluation
// does (ToTensor, then Normalize with the ImageNet mean and std, float32), for `dino-ref trace`.

import { DinoRefError } from "../tensor/errors.js";
import { readPng } from "./png.js";
import { normalizeInto, normalizeTables } from "./augment.js";
import { DINO_MULTICROP } from "./multiCrop.js";

/** The images at `paths` (all of one size) as x [B, 3, H, W]. */
export function normalizedImageBatch(paths: readonly string[]): { shape: number[]; data: Float32Array } {
  if (paths.length === 0) throw new DinoRefError("no images given");
  const images = paths.map((p) => readPng(p));
  const { width, height } = images[0];
  images.forEach((img, i) => {
    if (img.width !== width || img.height !== height) {
      throw new DinoRefError(`${paths[i]}: ${img.width}×${img.height} px, but ${paths[0]} is ${width}×${height} px (the images of one batch must have one size)`);
    }
  });
  const tables = normalizeTables(DINO_MULTICROP.mean, DINO_MULTICROP.std);
  const per = 3 * width * height;
  const data = new Float32Array(images.length * per);
  images.forEach((img, b) => normalizeInto(img, tables, data, b * per));
  return { shape: [images.length, 3, height, width], data };
}
