// The attention pictures of one image (PNG or JPEG) written as files: per head, the head mean and the threshold
// masks (attentionMaps.ts), as <name>-<picture>.png in a folder. `dino-ref attention` and the
// pictures a training run leaves in its attention/ folder both come from here.

import { basename, extname, join } from "node:path";
import type { Backend } from "../kernels/backend.js";
import type { ParamScope } from "../model/params.js";
import type { VitConfig } from "../model/vitConfig.js";
import { writePng } from "../data/png.js";
import { readImage } from "../data/readImage.js";
import { clsAttention, attentionPictures, resizedSize } from "./attentionMaps.js";
import { resizeBicubic } from "../data/resample.js";
import { checkMemory } from "../tensor/limits.js";

export interface WrittenPictures {
  /** How many PNG files were written. */
  readonly count: number;
  /** Set when the image had to be cropped to the patch grid: a sentence saying so. */
  readonly cropped: string | null;
  /** Set when the image was resized to `maxSide`: a sentence saying so. */
  readonly resized: string | null;
}

/** The longest side the pictures of the default zoom reach at most (small images are enlarged to at least 224 px). */
const AUTO_ZOOM_MAX_SIDE = 4096;

/**
 * Writes the pictures of the image at `path` into `outDir`; `zoom` 0 enlarges small images to at
 * least 224 px; `maxSide` > 0 first shrinks an image whose longer side is larger (bicubic).
 */
export function writeAttentionPictures(be: Backend, backbone: ParamScope, cfg: VitConfig, path: string, outDir: string, threshold: number, zoom: number, maxSide = 0): WrittenPictures {
  let image = readImage(path);
  let resized: string | null = null;
  if (maxSide > 0 && Math.max(image.width, image.height) > maxSide) {
    const [w, h] = resizedSize(image.width, image.height, maxSide);
    resized = `${path}: resized from ${image.width}×${image.height} to ${w}×${h} px (--max-side ${maxSide})`;
    image = resizeBicubic(image, w, h);
  }
  const maps = clsAttention(be, backbone, cfg, image, path);
  const [W, H] = [maps.image.width, maps.image.height];
  // small images (digits) are enlarged so that a person can see them: at least 224 px by default
  const z = zoom > 0 ? zoom : Math.max(1, Math.min(Math.ceil(224 / Math.min(W, H)), Math.floor(AUTO_ZOOM_MAX_SIDE / Math.max(W, H))));
  // every picture (image, per head a map and a mask, the mean) is kept until written: 3 bytes per pixel
  checkMemory((2 * maps.heads + 2) * 3 * W * z * H * z, `the ${2 * maps.heads + 2} pictures of ${path} at zoom ${z} (${W * z}×${H * z} px each)`, "lower --zoom");
  const name = basename(path, extname(path));
  const pictures = attentionPictures(maps, cfg.patchSize, threshold, z);
  for (const [kind, img] of pictures) writePng(join(outDir, `${name}-${kind}.png`), img);
  return { count: pictures.size, cropped: maps.cropped, resized };
}
