// One crop of DINO's multi-crop augmentation (`main_dino.py DataAugmentationDINO`), in this
// order: RandomResizedCrop (bicubic) → horizontal flip → ColorJitter (random order) → grayscale →
// Gaussian blur → solarization → normalisation. Everything up to normalisation is 8-bit, as PIL.
// Each random decision is drawn from the crop's own Rng in a fixed order (see `augmentCrop`).

import { DinoRefError } from "../tensor/errors.js";
import type { Rng } from "../tensor/rng.js";
import { gaussianBlur } from "./blur.js";
import { adjustBrightness, adjustContrast, adjustHue, adjustSaturation, grayscale, solarize } from "./color.js";
import { flipHorizontal, type Image } from "./image.js";
import { type Box, resizeBicubic } from "./resample.js";

/** What one crop pipeline does (global 1, global 2 and the locals differ only in these numbers). */
export interface CropSpec {
  size: number; // output side in pixels (square crops)
  scale: readonly [number, number]; // crop area as a fraction of the image area
  ratio: readonly [number, number]; // aspect ratio w/h range, sampled log-uniformly
  flipP: number;
  jitterP: number;
  jitter: { brightness: number; contrast: number; saturation: number; hue: number };
  grayscaleP: number;
  blurP: number;
  blurSigma: readonly [number, number]; // σ ~ U(lo, hi), in pixels of the resized crop
  solarizeP: number;
}

/** The random decisions a crop took (for tests and for people looking at crops). */
export interface CropTrace {
  box: Box;
  fallback: boolean; // RandomResizedCrop used its centre-crop fallback
  flipped: boolean;
  /** Applied colour jitter: op order (0 brightness, 1 contrast, 2 saturation, 3 hue) and factors. */
  jitter: { order: number[]; brightness: number; contrast: number; saturation: number; hue: number } | null;
  grayscale: boolean;
  blurSigma: number | null;
  solarized: boolean;
}

/** Python's round(): nearest integer, ties to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * torchvision RandomResizedCrop.get_params: up to 10 tries of area a = H·W·U(scale) and aspect
 * r = exp(U(log ratio)), w = round(√(a·r)), h = round(√(a/r)) (ties to even); a try succeeds if
 * 0 < w ≤ W and 0 < h ≤ H, then top = int(H − h + 1), left = int(W − w + 1). Draws per try:
 * uniform (area), uniform (log aspect); on success int (top), int (left). Fallback: centre crop
 * with the aspect clamped to the ratio range (the whole image if its aspect is inside it).
 */
export function randomResizedCropBox(rng: Rng, W: number, H: number, scale: readonly [number, number], ratio: readonly [number, number]): Box & { fallback: boolean } {
  const area = W * H;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.uniformIn(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniformIn(logLo, logHi));
    const w = roundHalfEven(Math.sqrt(target * aspect));
    const h = roundHalfEven(Math.sqrt(target / aspect));
    if (w > 0 && w <= W && h > 0 && h <= H) {
      const y = rng.int(H - h + 1);
      const x = rng.int(W - w + 1);
      return { x, y, w, h, fallback: false };
    }
  }
  const inRatio = W / H;
  let w = W;
  let h = H;
  if (inRatio < ratio[0]) h = roundHalfEven(W / ratio[0]);
  else if (inRatio > ratio[1]) w = roundHalfEven(H * ratio[1]);
  return { x: Math.floor((W - w) / 2), y: Math.floor((H - h) / 2), w, h, fallback: true };
}

/**
 * One augmented 8-bit crop. Draw order from `rng`: crop box (above); flip u < flipP; jitter
 * applied unless jitterP < u, then a permutation of 4 and the factors brightness, contrast,
 * saturation, hue (fixed order, as current torchvision); grayscale u < grayscaleP; blur u ≤ blurP
 * then σ = U(blurSigma); solarize u < solarizeP (drawn only when solarizeP > 0).
 */
export function augmentCrop(img: Image, spec: CropSpec, rng: Rng): { image: Image; trace: CropTrace } {
  // RandomResizedCrop, bicubic
  const { fallback, ...box } = randomResizedCropBox(rng, img.width, img.height, spec.scale, spec.ratio);
  let out = resizeBicubic(img, spec.size, spec.size, box);
  // RandomHorizontalFlip
  const flipped = rng.uniform() < spec.flipP;
  if (flipped) out = flipHorizontal(out);
  // RandomApply(ColorJitter): skipped if p < u
  let jitter: CropTrace["jitter"] = null;
  if (!(spec.jitterP < rng.uniform())) {
    const j = spec.jitter;
    const order = Array.from(rng.permutation(4));
    const brightness = rng.uniformIn(Math.max(0, 1 - j.brightness), 1 + j.brightness);
    const contrast = rng.uniformIn(Math.max(0, 1 - j.contrast), 1 + j.contrast);
    const saturation = rng.uniformIn(Math.max(0, 1 - j.saturation), 1 + j.saturation);
    const hue = rng.uniformIn(-j.hue, j.hue);
    for (const op of order) {
      if (op === 0) out = adjustBrightness(out, brightness);
      else if (op === 1) out = adjustContrast(out, contrast);
      else if (op === 2) out = adjustSaturation(out, saturation);
      else out = adjustHue(out, hue);
    }
    jitter = { order, brightness, contrast, saturation, hue };
  }
  // RandomGrayscale
  const gray = rng.uniform() < spec.grayscaleP;
  if (gray) out = grayscale(out);
  // GaussianBlur: applied if u <= p (so p = 1 always blurs)
  let blurSigma: number | null = null;
  if (rng.uniform() <= spec.blurP) {
    blurSigma = rng.uniformIn(spec.blurSigma[0], spec.blurSigma[1]);
    out = gaussianBlur(out, blurSigma);
  }
  // Solarization: applied if u < p
  const solarized = spec.solarizeP > 0 && rng.uniform() < spec.solarizeP;
  if (solarized) out = solarize(out);
  return { image: out, trace: { box, fallback, flipped, jitter, grayscale: gray, blurSigma, solarized } };
}

/**
 * Per-channel lookup tables of ToTensor + Normalize: x = (v/255 − mean_c)/std_c with every
 * operation in float32, as torch does on a float32 tensor.
 */
export function normalizeTables(mean: readonly number[], std: readonly number[]): Float32Array[] {
  if (mean.length !== 3 || std.length !== 3 || std.some((s) => !(s > 0))) {
    throw new DinoRefError(`normalisation mean ${JSON.stringify(mean)} std ${JSON.stringify(std)}; expected 3 means and 3 positive stds`);
  }
  const f = Math.fround;
  return [0, 1, 2].map((c) => Float32Array.from({ length: 256 }, (_, v) => f(f(f(v / 255) - f(mean[c])) / f(std[c]))));
}

/** Writes `img` normalised as [3, H, W] into `out` at `offset` (a new array by default). */
export function normalizeInto(img: Image, tables: Float32Array[], out = new Float32Array(3 * img.width * img.height), offset = 0): Float32Array {
  const n = img.width * img.height;
  const d = img.data;
  for (let c = 0; c < 3; c++) {
    const t = tables[c];
    const base = offset + c * n;
    for (let p = 0; p < n; p++) out[base + p] = t[d[3 * p + c]];
  }
  return out;
}
