// DINO's multi-crop: 2 global crops and L local crops of one image, each an augmented,
// normalised Float32Array [3, size, size]. Reproducible: crop c of image `index` in `epoch` is a
// pure function of (seed, epoch·N + index, c) and the config, never of the batch, order or thread.
//
// Exact keying: image key k = epoch·N + index (N = dataset length); crop c draws every decision
// from new Rng(seed, STREAM.crops, k·CROP_KEY_STRIDE + c). One stream per crop means that changing
// the number of local crops leaves the other crops unchanged.

import { DinoRefError } from "../tensor/errors.js";
import { Rng, STREAM } from "../tensor/rng.js";
import { augmentCrop, type CropSpec, type CropTrace, normalizeInto, normalizeTables } from "./augment.js";
import type { Image } from "./image.js";

/** At most this many crops per image (2 global + up to 62 local). */
export const CROP_KEY_STRIDE = 64;

export interface MultiCropConfig {
  globalSize: number;
  localSize: number;
  localCount: number;
  globalScale: readonly [number, number];
  localScale: readonly [number, number];
  ratio: readonly [number, number];
  flipP: number;
  jitterP: number;
  jitter: { brightness: number; contrast: number; saturation: number; hue: number };
  grayscaleP: number;
  /** Blur probabilities: global crop 1, global crop 2, each local crop. */
  blurP: { global1: number; global2: number; local: number };
  blurSigma: readonly [number, number];
  /** Solarization probability of global crop 2 (the only crop ever solarised). */
  solarizeP: number;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

/** The official DataAugmentationDINO defaults (main_dino.py: 224 / 96 px, 8 local crops). */
export const DINO_MULTICROP: MultiCropConfig = Object.freeze({
  globalSize: 224,
  localSize: 96,
  localCount: 8,
  globalScale: [0.4, 1],
  localScale: [0.05, 0.4],
  ratio: [3 / 4, 4 / 3],
  flipP: 0.5,
  jitterP: 0.8,
  jitter: { brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1 },
  grayscaleP: 0.2,
  blurP: { global1: 1.0, global2: 0.1, local: 0.5 },
  blurSigma: [0.1, 2.0],
  solarizeP: 0.2,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
} as const);

/** The official pipeline at MNIST scale (28 px globals, 12 px locals, 4 locals): a tiny-ViT preset. */
export const TINY_MULTICROP: MultiCropConfig = Object.freeze({ ...DINO_MULTICROP, globalSize: 28, localSize: 12, localCount: 4 });

/** The named augmentation recipes a training config can choose (`augmentation`). */
export const AUGMENTATION_NAMES = ["official", "digits", "digits-noblur"] as const;
export type AugmentationName = (typeof AUGMENTATION_NAMES)[number];

/**
 * What each recipe changes in DataAugmentationDINO. "official": nothing. "digits": no horizontal
 * flip (a mirrored 2, 3 or 7 is no digit of its class), no solarisation (it turns the bright
 * strokes dark on a dark ground), and a Gaussian blur of σ 0.1–1 px instead of 0.1–2 px (σ 2 px
 * on a 28-px digit erases strokes 2–3 px wide). Colour jitter, grayscale and the crops are kept.
 */
export const AUGMENTATIONS: Readonly<Record<AugmentationName, Partial<MultiCropConfig>>> = Object.freeze({
  official: {},
  digits: { flipP: 0, solarizeP: 0, blurSigma: [0.1, 1] },
  "digits-noblur": { flipP: 0, solarizeP: 0, blurP: { global1: 0, global2: 0, local: 0 } },
});

function checkRange(name: string, r: readonly [number, number], lo: number, hi: number): void {
  if (!(Array.isArray(r) && r.length === 2 && r[0] >= lo && r[0] <= r[1] && r[1] <= hi)) {
    throw new DinoRefError(`multi-crop ${name} ${JSON.stringify(r)}; expected [lo, hi] with ${lo} <= lo <= hi <= ${hi}`);
  }
}

/** DINO_MULTICROP with `overrides` applied, checked. */
export function multiCropConfig(overrides: Partial<MultiCropConfig> = {}): MultiCropConfig {
  const cfg: MultiCropConfig = { ...DINO_MULTICROP, ...overrides };
  for (const key of ["globalSize", "localSize"] as const) {
    if (!(Number.isInteger(cfg[key]) && cfg[key] > 0)) throw new DinoRefError(`multi-crop ${key} ${cfg[key]}; expected a positive integer`);
  }
  if (!(Number.isInteger(cfg.localCount) && cfg.localCount >= 0 && cfg.localCount + 2 <= CROP_KEY_STRIDE)) {
    throw new DinoRefError(`multi-crop localCount ${cfg.localCount}; expected an integer in [0, ${CROP_KEY_STRIDE - 2}]`);
  }
  checkRange("globalScale", cfg.globalScale, Number.MIN_VALUE, 1);
  checkRange("localScale", cfg.localScale, Number.MIN_VALUE, 1);
  checkRange("ratio", cfg.ratio, Number.MIN_VALUE, Infinity);
  checkRange("blurSigma", cfg.blurSigma, 0, Infinity);
  const probs: [string, number][] = [["flipP", cfg.flipP], ["jitterP", cfg.jitterP], ["grayscaleP", cfg.grayscaleP], ["solarizeP", cfg.solarizeP], ["blurP.global1", cfg.blurP.global1], ["blurP.global2", cfg.blurP.global2], ["blurP.local", cfg.blurP.local]];
  for (const [name, p] of probs) if (!(p >= 0 && p <= 1)) throw new DinoRefError(`multi-crop ${name} ${p}; expected a probability in [0, 1]`);
  const j = cfg.jitter;
  if (!(j.brightness >= 0 && j.contrast >= 0 && j.saturation >= 0 && j.hue >= 0 && j.hue <= 0.5)) {
    throw new DinoRefError(`multi-crop jitter ${JSON.stringify(j)}; expected brightness, contrast, saturation >= 0 and hue in [0, 0.5]`);
  }
  normalizeTables(cfg.mean, cfg.std); // checks mean and std
  return cfg;
}

/** The crop pipelines in output order: [global 1, global 2, local 1 .. local L]. */
export function cropSpecs(cfg: MultiCropConfig): CropSpec[] {
  const common = { ratio: cfg.ratio, flipP: cfg.flipP, jitterP: cfg.jitterP, jitter: cfg.jitter, grayscaleP: cfg.grayscaleP, blurSigma: cfg.blurSigma };
  const global = { ...common, size: cfg.globalSize, scale: cfg.globalScale };
  const local: CropSpec = { ...common, size: cfg.localSize, scale: cfg.localScale, blurP: cfg.blurP.local, solarizeP: 0 };
  return [
    { ...global, blurP: cfg.blurP.global1, solarizeP: 0 },
    { ...global, blurP: cfg.blurP.global2, solarizeP: cfg.solarizeP },
    ...Array.from({ length: cfg.localCount }, () => local),
  ];
}

/** Side length of each crop, in output order. */
export function cropSizes(cfg: MultiCropConfig): number[] {
  return cropSpecs(cfg).map((s) => s.size);
}

/** The image key epoch·N + index of image `index` of a dataset of N images in `epoch`. */
export function imageKey(epoch: number, datasetSize: number, index: number): number {
  if (!(Number.isInteger(epoch) && epoch >= 0 && Number.isInteger(datasetSize) && datasetSize > 0 && Number.isInteger(index) && index >= 0 && index < datasetSize)) {
    throw new DinoRefError(`imageKey: epoch ${epoch}, dataset size ${datasetSize}, index ${index}; expected integers with epoch >= 0 and 0 <= index < size`);
  }
  return epoch * datasetSize + index;
}

/** The random source of crop c of the image with key `key`. */
export function cropRng(seed: number, key: number, crop: number): Rng {
  if (!(Number.isInteger(crop) && crop >= 0 && crop < CROP_KEY_STRIDE)) throw new DinoRefError(`crop index ${crop}; expected an integer in [0, ${CROP_KEY_STRIDE})`);
  const k = key * CROP_KEY_STRIDE + crop;
  if (!Number.isSafeInteger(k)) throw new DinoRefError(`crop key ${key}·${CROP_KEY_STRIDE} + ${crop} is beyond 2^53; expected epoch·N + index < 2^47`);
  return new Rng(seed, STREAM.crops, k);
}

export interface MultiCrops {
  global: Float32Array[]; // 2 × [3, globalSize, globalSize]
  local: Float32Array[]; // L × [3, localSize, localSize]
}

/** The 8-bit crops (before normalisation) and their random decisions, in output order. */
export function multiCropImages(img: Image, cfg: MultiCropConfig, seed: number, key: number): { images: Image[]; traces: CropTrace[] } {
  const images: Image[] = [];
  const traces: CropTrace[] = [];
  cropSpecs(cfg).forEach((spec, c) => {
    const { image, trace } = augmentCrop(img, spec, cropRng(seed, key, c));
    images.push(image);
    traces.push(trace);
  });
  return { images, traces };
}

/** DataAugmentationDINO: {global: [crop 1, crop 2], local: [...]}, each normalised [3, size, size]. */
export function multiCrop(img: Image, cfg: MultiCropConfig, seed: number, key: number): MultiCrops {
  const tables = normalizeTables(cfg.mean, cfg.std);
  const crops = multiCropImages(img, cfg, seed, key).images.map((c) => normalizeInto(c, tables));
  return { global: crops.slice(0, 2), local: crops.slice(2) };
}
