// A picture of what the augmentation does, for a person to look at: one row per image, its global
// crops then its local crops, de-normalised back to 8-bit RGB and enlarged (nearest neighbour).

import { DinoRefError } from "../tensor/errors.js";
import { type Image, makeImage, upscaleNearest } from "./image.js";
import { DINO_MULTICROP } from "./multiCrop.js";
import type { MultiCrops } from "./multiCrop.js";
import { writePng } from "./png.js";

export interface CropGridOptions {
  mean?: readonly number[];
  std?: readonly number[];
  /** Integer enlargement; default: enough for global crops to be at least 112 px. */
  zoom?: number;
  /** Gap between crops in pixels (after zoom). */
  gap?: number;
}

/** Inverse of normalisation: [3, s, s] floats → an s × s RGB image, v = round(255·(x·std + mean)). */
export function denormalize(crop: Float32Array, mean: readonly number[], std: readonly number[]): Image {
  const s = Math.round(Math.sqrt(crop.length / 3));
  if (3 * s * s !== crop.length) throw new DinoRefError(`crop of ${crop.length} floats; expected [3, s, s]`);
  const img = makeImage(s, s);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < s * s; p++) {
      const v = Math.round(255 * (crop[c * s * s + p] * std[c] + mean[c]));
      img.data[3 * p + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return img;
}

/** The grid as an image (rows = images; each row: global crops, then local crops; grey gaps). */
export function cropGridImage(rows: MultiCrops | MultiCrops[], options: CropGridOptions = {}): Image {
  const list = Array.isArray(rows) ? rows : [rows];
  if (list.length === 0) throw new DinoRefError("cropGrid: no crops to draw");
  const { mean = DINO_MULTICROP.mean, std = DINO_MULTICROP.std, gap = 4 } = options;
  const images = list.map((r) => [...r.global, ...r.local].map((c) => denormalize(c, mean, std)));
  const maxSide = Math.max(...images.flat().map((i) => i.width));
  const zoom = options.zoom ?? Math.max(1, Math.ceil(112 / maxSide));
  const big = images.map((row) => row.map((i) => upscaleNearest(i, zoom)));
  const width = gap + Math.max(...big.map((row) => row.reduce((w, i) => w + i.width + gap, 0)));
  const rowHeights = big.map((row) => Math.max(...row.map((i) => i.height)));
  const height = gap + rowHeights.reduce((h, r) => h + r + gap, 0);
  const out = makeImage(width, height);
  out.data.fill(96);
  let y0 = gap;
  big.forEach((row, r) => {
    let x0 = gap;
    for (const img of row) {
      for (let y = 0; y < img.height; y++) out.data.set(img.data.subarray(y * img.width * 3, (y + 1) * img.width * 3), ((y0 + y) * width + x0) * 3);
      x0 += img.width + gap;
    }
    y0 += rowHeights[r] + gap;
  });
  return out;
}

/** Writes the crop grid of one image's crops (or of several images, one row each) as a PNG. */
export function saveCropGrid(path: string, crops: MultiCrops | MultiCrops[], options: CropGridOptions = {}): void {
  writePng(path, cropGridImage(crops, options));
}
