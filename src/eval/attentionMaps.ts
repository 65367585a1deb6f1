// The self-attention of the last block's CLS token as pictures (the paper's Fig. 1 and 3, official
// visualize_attention.py): per head, how much the CLS query attends to each patch, upsampled to
// pixels (each patch a p×p block) and coloured; the head mean; and the threshold mask that keeps
// the given share of the attention mass (Fig. 4, 0.6) laid over the image in red.

import type { Backend } from "../kernels/backend.js";
import type { ParamScope } from "../model/params.js";
import type { VitConfig } from "../model/vitConfig.js";
import { vitLastSelfAttention } from "../model/vit.js";
import { makeImage, cropImage, upscaleNearest, type Image } from "../data/image.js";
import { normalizeInto, normalizeTables } from "../data/augment.js";
import { DINO_MULTICROP } from "../data/multiCrop.js";
import { attentionMask } from "./attentionMask.js";
import { DinoRefError } from "../tensor/errors.js";
import { checkMemory, limits } from "../tensor/limits.js";
import { tokensOf, vitActivationBytes } from "../model/memory.js";

export interface AttentionMaps {
  /** The image as the network saw it (cropped to a multiple of the patch size). */
  image: Image;
  /** CLS attention per head [heads, rows·cols] (the CLS column dropped). */
  attn: Float32Array;
  heads: number;
  rows: number;
  cols: number;
  /** Set when the image had to be cropped: a sentence saying so. */
  cropped: string | null;
}

/** Bytes of the backbone's forward with the last block's attention kept, on one W × H image. */
function attentionBytes(cfg: VitConfig, W: number, H: number): number {
  return vitActivationBytes(cfg, 1, tokensOf(cfg, H, W), false);
}

/**
 * The longest side (px) an image of W × H px may be resized to, keeping its aspect ratio, for its
 * attention to fit the --max-memory limit (at least one patch).
 */
export function maxAttentionSide(cfg: VitConfig, W: number, H: number): number {
  const long = Math.max(W, H);
  const fits = (side: number) => {
    const [w, h] = resizedSize(W, H, side);
    return attentionBytes(cfg, w, h) <= limits().maxMemory;
  };
  let [lo, hi] = [cfg.patchSize, long];
  while (lo < hi) {
    const mid = Math.floor((lo + hi + 1) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** W × H scaled so that the longer side is `side` px (the shorter rounded, at least 1). */
export function resizedSize(W: number, H: number, side: number): [number, number] {
  const s = side / Math.max(W, H);
  return [Math.max(1, Math.round(W * s)), Math.max(1, Math.round(H * s))];
}

/** Refuses, before allocating, an image whose attention would not fit the --max-memory limit, saying how far to shrink it. */
function checkAttentionMemory(cfg: VitConfig, W: number, H: number, source: string): void {
  const N = tokensOf(cfg, H, W);
  checkMemory(attentionBytes(cfg, W, H), `${source}: the attention of a ${W}×${H} px image (${N.toLocaleString("en-US")} tokens of ${cfg.patchSize}×${cfg.patchSize} px, ${cfg.numHeads} heads × N² weights)`,
    `resize it so that its longer side is at most ${maxAttentionSide(cfg, W, H)} px (dino-ref attention --max-side does it)`);
}

/** The last block's CLS attention of one image; its size is cropped down to multiples of p (top-left kept, as the official script). */
export function clsAttention(be: Backend, backbone: ParamScope, cfg: VitConfig, img: Image, source: string): AttentionMaps {
  const p = cfg.patchSize;
  const W = img.width - (img.width % p);
  const H = img.height - (img.height % p);
  if (W === 0 || H === 0) throw new DinoRefError(`${source}: ${img.width}×${img.height} px is smaller than one ${p}×${p} patch`);
  const cropped = W !== img.width || H !== img.height ? `${source}: cropped from ${img.width}×${img.height} to ${W}×${H} px (a multiple of the patch size ${p}), top-left kept` : null;
  checkAttentionMemory(cfg, W, H, source);
  const image = cropped ? cropImage(img, 0, 0, W, H) : img;
  const mark = be.mark();
  try {
    const x = be.alloc([1, 3, H, W]);
    x.data.set(normalizeInto(image, normalizeTables(DINO_MULTICROP.mean, DINO_MULTICROP.std)));
    const a = vitLastSelfAttention(be, backbone, cfg, x, 1, H, W); // [1, heads, N, N]
    const heads = cfg.numHeads;
    const N = a.shape[2];
    const n = N - 1;
    const attn = new Float32Array(heads * n);
    const d = a.data;
    // row 0 (the CLS query) of each head, without column 0 (CLS as a key)
    for (let h = 0; h < heads; h++) for (let j = 0; j < n; j++) attn[h * n + j] = d[h * N * N + 1 + j];
    return { image, attn, heads, rows: H / p, cols: W / p, cropped };
  } finally {
    be.release(mark);
  }
}

// viridis, sampled at 0, 0.25, 0.5, 0.75, 1 (matplotlib's colour map), interpolated linearly
const VIRIDIS = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

function viridis(t: number): [number, number, number] {
  const x = Math.min(Math.max(t, 0), 1) * (VIRIDIS.length - 1);
  const i = Math.min(Math.floor(x), VIRIDIS.length - 2);
  const f = x - i;
  return [0, 1, 2].map((c) => Math.round(VIRIDIS[i][c] + f * (VIRIDIS[i + 1][c] - VIRIDIS[i][c]))) as [number, number, number];
}

/** A heat map of one [rows, cols] map, min-max scaled, each patch p×p pixels. */
export function heatMap(values: ArrayLike<number>, rows: number, cols: number, p: number): Image {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < rows * cols; i++) [lo, hi] = [Math.min(lo, values[i]), Math.max(hi, values[i])];
  const small = makeImage(cols, rows);
  for (let i = 0; i < rows * cols; i++) small.data.set(viridis(hi > lo ? (values[i] - lo) / (hi - lo) : 0), 3 * i);
  return upscaleNearest(small, p);
}

/** The image with the kept patches of `mask` [rows·cols] blended half-way towards red. */
export function maskOverlay(image: Image, mask: ArrayLike<number>, cols: number, p: number): Image {
  const out = makeImage(image.width, image.height, image.data.slice());
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      if (mask[Math.floor(y / p) * cols + Math.floor(x / p)] !== 1) continue;
      const o = 3 * (y * image.width + x);
      // out = 0.5·image + 0.5·red
      out.data[o] = Math.round(0.5 * out.data[o] + 127.5);
      out.data[o + 1] = Math.round(0.5 * out.data[o + 1]);
      out.data[o + 2] = Math.round(0.5 * out.data[o + 2]);
    }
  }
  return out;
}

/** Every picture of one image: name → Image (image, per-head and mean heat maps, per-head masks), scaled by `zoom`. */
export function attentionPictures(maps: AttentionMaps, p: number, threshold: number, zoom: number): Map<string, Image> {
  const { heads, rows, cols, attn } = maps;
  const n = rows * cols;
  const out = new Map<string, Image>();
  const z = (img: Image) => (zoom > 1 ? upscaleNearest(img, zoom) : img);
  out.set("img", z(maps.image));
  const mean = new Float32Array(n);
  const mask = attentionMask(attn, heads, n, threshold);
  for (let h = 0; h < heads; h++) {
    const row = attn.subarray(h * n, (h + 1) * n);
    for (let j = 0; j < n; j++) mean[j] += row[j] / heads;
    out.set(`attn-head${h}`, z(heatMap(row, rows, cols, p)));
    out.set(`mask${threshold}-head${h}`, z(maskOverlay(maps.image, mask.subarray(h * n, (h + 1) * n), cols, p)));
  }
  out.set("attn-mean", z(heatMap(mean, rows, cols, p)));
  return out;
}
