// Segmentation from self-attention (the paper's Fig. 4 and Table 4 comparison): for each image, the
// last block's CLS attention per head, the mask that keeps `threshold` of its mass (official
// visualize_attention.py), upsampled to pixels (each patch a p×p block), and its Jaccard against
// the ground-truth mask. Scores: the mean over images per head, the best head (the head with the
// best mean, chosen on the same images, as the paper reports it), and the mask of the head-mean
// attention. A chance level for the same masks: each image's best-head mask scored against the
// next image's truth (objects sit at independent random places), so a model that only makes
// smaller or larger masks does not look better than one that finds the object. References that need no model: the best mask made of whole patches (the ceiling for
// patch-level masks) and the whole image as the mask.

import type { Backend } from "../kernels/backend.js";
import type { ParamScope } from "../model/params.js";
import type { VitConfig } from "../model/vitConfig.js";
import type { MaskedImageDataset } from "../data/dataset.js";
import type { GreyImage } from "../data/image.js";
import { check } from "../tensor/errors.js";
import { clsAttention, type AttentionMaps } from "./attentionMaps.js";
import { attentionMask } from "./attentionMask.js";
import { bestPatchJaccard, jaccard, patchMaskToPixels } from "./jaccard.js";

export interface SegmentationScores {
  images: number;
  heads: number;
  /** Mean Jaccard of each head's mask [H]. */
  perHead: Float64Array;
  /** The head with the highest mean Jaccard, and that mean. */
  bestHead: number;
  best: number;
  /** Mean Jaccard of the mask of the head-mean attention map. */
  meanAttention: number;
  /** Chance level: mean Jaccard of image k's best-head mask against image k+1's truth (cyclic; pairs of equal size). */
  chance: number;
  /** Per image: the H heads' Jaccards, then the head-mean map's [images, H + 1]. */
  perImage: Float64Array;
  /** One sentence per image that had to be cropped to the patch grid. */
  cropped: string[];
}

/** The top-left w × h of a mask (the crop the official script applies to the image). */
export function cropMask(m: GreyImage, w: number, h: number): GreyImage {
  check(w <= m.width && h <= m.height, () => `cropMask: ${w}×${h} is larger than the ${m.width}×${m.height} mask`);
  if (w === m.width && h === m.height) return m;
  const data = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) data.set(m.data.subarray(y * m.width, y * m.width + w), y * w);
  return { width: w, height: h, channels: 1, data };
}

/** Patch masks of one image's attention: the H heads' [H, n], then the head-mean map's [n]. */
export function attentionMasks(maps: AttentionMaps, threshold: number): { heads: Uint8Array; mean: Uint8Array } {
  const { heads: H, rows, cols, attn } = maps;
  const n = rows * cols;
  const mean = new Float32Array(n);
  // mean over heads of the CLS attention
  for (let h = 0; h < H; h++) for (let j = 0; j < n; j++) mean[j] += attn[h * n + j] / H;
  return { heads: attentionMask(attn, H, n, threshold), mean: attentionMask(mean, 1, n, threshold) };
}

/** The Jaccard scores of the backbone's attention masks on images `indices` of `ds`. */
export function segmentationScores(be: Backend, backbone: ParamScope, cfg: VitConfig, ds: MaskedImageDataset, indices: ArrayLike<number>, threshold: number): SegmentationScores {
  const H = cfg.numHeads;
  const p = cfg.patchSize;
  const N = indices.length;
  check(N > 0, "segmentationScores: no images");
  const perImage = new Float64Array(N * (H + 1));
  const cropped: string[] = [];
  // per image: the heads' pixel masks [H, h·w] and the cropped truth, for the chance level
  const kept: { heads: Uint8Array[]; truth: Uint8Array }[] = [];
  for (let k = 0; k < N; k++) {
    const i = indices[k];
    const image = ds.image(i);
    const truthFull = ds.mask(i);
    check(truthFull.width === image.width && truthFull.height === image.height, () => `${ds.describe(i)}: mask ${truthFull.width}×${truthFull.height} px, image ${image.width}×${image.height} px; expected the same size`);
    const maps = clsAttention(be, backbone, cfg, image, ds.describe(i));
    if (maps.cropped) cropped.push(`${maps.cropped} (its mask likewise)`);
    const truth = cropMask(truthFull, maps.image.width, maps.image.height).data;
    const n = maps.rows * maps.cols;
    const masks = attentionMasks(maps, threshold);
    const heads = Array.from({ length: H }, (_, h) => patchMaskToPixels(masks.heads.subarray(h * n, (h + 1) * n), maps.rows, maps.cols, p));
    heads.forEach((m, h) => (perImage[k * (H + 1) + h] = jaccard(m, truth)));
    perImage[k * (H + 1) + H] = jaccard(patchMaskToPixels(masks.mean, maps.rows, maps.cols, p), truth);
    kept.push({ heads, truth });
  }
  const meanOf = (col: number) => {
    let s = 0;
    for (let k = 0; k < N; k++) s += perImage[k * (H + 1) + col];
    return s / N;
  };
  const perHead = Float64Array.from({ length: H }, (_, h) => meanOf(h));
  let bestHead = 0;
  for (let h = 1; h < H; h++) if (perHead[h] > perHead[bestHead]) bestHead = h;
  let chance = 0;
  let pairs = 0;
  for (let k = 0; k < N && N > 1; k++) {
    const [mask, other] = [kept[k].heads[bestHead], kept[(k + 1) % N].truth];
    if (mask.length !== other.length) continue;
    chance += jaccard(mask, other);
    pairs++;
  }
  return { images: N, heads: H, perHead, bestHead, best: perHead[bestHead], meanAttention: meanOf(H), chance: pairs > 0 ? chance / pairs : NaN, perImage, cropped };
}

/** Scores that need no model, mean over images: the best union of whole p×p patches, and the whole (cropped) image as the mask. */
export function referenceScores(ds: MaskedImageDataset, indices: ArrayLike<number>, p: number): { bestPatches: number; wholeImage: number } {
  let bestPatches = 0;
  let wholeImage = 0;
  for (const i of Array.from(indices)) {
    const m = ds.mask(i);
    const t = cropMask(m, m.width - (m.width % p), m.height - (m.height % p));
    bestPatches += bestPatchJaccard(t.data, t.width, t.height, p);
    wholeImage += jaccard(new Uint8Array(t.data.length).fill(1), t.data);
  }
  return { bestPatches: bestPatches / indices.length, wholeImage: wholeImage / indices.length };
}
