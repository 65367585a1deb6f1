// The attention pictures of one image (PNG or JPEG) written as files: per head, the head mean and the threshold
// masks (attentionMaps.ts), as <name>-<picture>.png in a folder. `dino-ref attention` and the
// pictures a training run leaves in its attention/ folder both come from here.

import { basename, extname, join } from "node:path";
import type { Backend } from "../kernels/backend.js";
import type { ParamScope } from "../model/params.js";
import type { VitConfig } from "../model/vitConfig.js";
import { writePng } from "../data/png.js";
import { readImage } from "../data/readImage.js";
import { clsAttention, attentionPictures } from "./attentionMaps.js";

export interface WrittenPictures {
  /** How many PNG files were written. */
  readonly count: number;
  /** Set when the image had to be cropped to the patch grid: a sentence saying so. */
  readonly cropped: string | null;
}

/** Writes the pictures of the image at `path` into `outDir`; `zoom` 0 enlarges small images to at least 224 px. */
export function writeAttentionPictures(be: Backend, backbone: ParamScope, cfg: VitConfig, path: string, outDir: string, threshold: number, zoom: number): WrittenPictures {
  const maps = clsAttention(be, backbone, cfg, readImage(path), path);
  // small images (digits) are enlarged so that a person can see them: at least 224 px by default
  const z = zoom > 0 ? zoom : Math.max(1, Math.ceil(224 / Math.min(maps.image.width, maps.image.height)));
  const name = basename(path, extname(path));
  const pictures = attentionPictures(maps, cfg.patchSize, threshold, z);
  for (const [kind, img] of pictures) writePng(join(outDir, `${name}-${kind}.png`), img);
  return { count: pictures.size, cropped: maps.cropped };
}
