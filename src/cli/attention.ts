// `dino-ref attention IMAGE... --weights FILE --out DIR`: the last block's CLS attention per head
// of any backbone (evalInput.ts) as PNG heat maps, their mean, and the threshold masks over the
// image (PNG or JPEG).

import { DinoRefError } from "../tensor/errors.js";
import { selectedBackend } from "../kernels/backend.js";
import { writeAttentionPictures } from "../eval/attentionPictures.js";
import { integerArg, numberArg, oneLine } from "./args.js";
import { loadWeights, weightsPath, type WeightsArgs } from "./evalInput.js";
import { prepareOutputFolder } from "../io/outputPath.js";
import type { Io } from "./io.js";

export interface AttentionArgs extends WeightsArgs {
  out?: string;
  threshold?: string;
  zoom?: string;
  "max-side"?: string;
}

/** --threshold: the share of the attention mass a mask keeps (0.6 in the paper). */
export function thresholdArg(value: string | undefined): number {
  return numberArg("threshold", value, (t) => t > 0 && t <= 1, "the share of attention mass to keep, in (0, 1]") ?? 0.6;
}

export function attentionCommand(images: readonly string[], a: AttentionArgs, io: Io): number {
  if (images.length === 0) throw new DinoRefError("attention: expected at least one IMAGE (PNG or JPEG)");
  weightsPath("attention", a);
  if (a.out === undefined) throw new DinoRefError("attention: --out DIR is required");
  const threshold = thresholdArg(a.threshold);
  const zoom = integerArg("zoom", a.zoom, 0, 64) ?? 0;
  const maxSide = integerArg("max-side", a["max-side"], 1, 1 << 20) ?? 0;
  prepareOutputFolder(a.out, "--out");
  const be = selectedBackend();
  const { backbone, cfg } = loadWeights("attention", be, a, io).loaded;
  for (const path of images) {
    const written = writeAttentionPictures(be, backbone, cfg, path, a.out, threshold, zoom, maxSide);
    for (const note of [written.resized, written.cropped]) if (note) io.err(oneLine(note));
    io.out(oneLine(`${path}: ${written.count} pictures in ${a.out}`));
  }
  return 0;
}
