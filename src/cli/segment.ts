// `dino-ref segment --weights FILE [--data DIR]`: how well the thresholded CLS attention of the
// last block segments the object, as the Jaccard against ground-truth masks, for the model and for
// the same architecture at random initialisation (seeded as the training run), side by side.

import { DinoRefError } from "../tensor/errors.js";
import { selectedBackend } from "../kernels/backend.js";
import { classInterleaved, type MaskedImageDataset } from "../data/dataset.js";
import { openMaskFolder } from "../data/maskFolder.js";
import { writePng } from "../data/png.js";
import { clsAttention } from "../eval/attentionMaps.js";
import { segmentationScores, referenceScores, cropMask, type SegmentationScores } from "../eval/segmentation.js";
import { segmentationFigure } from "../eval/segmentationFigure.js";
import { thresholdArg } from "./attention.js";
import { maskedDataset } from "../data/maskedDatasets.js";
import { integerArg, oneLine } from "./args.js";
import { weightsPath, type WeightsArgs } from "./evalInput.js";
import { trainedAndInit } from "./weights.js";
import { prepareOutputFile } from "../io/outputPath.js";
import type { Io } from "./io.js";

export interface SegmentArgs extends WeightsArgs {
  data?: string;
  dataset?: string;
  count?: string;
  threshold?: string;
  figure?: string;
  "figure-count"?: string;
}

export function segmentCommand(a: SegmentArgs, io: Io): number {
  weightsPath("segment", a); // --weights is checked before the other arguments
  const threshold = thresholdArg(a.threshold);
  if (a.data !== undefined && a.dataset !== undefined) throw new DinoRefError("segment: give --data DIR or --dataset NAME, not both");
  const figureCount = integerArg("figure-count", a["figure-count"], 1, 1000) ?? 6;
  const count = integerArg("count", a.count, 1);
  if (a.figure !== undefined) prepareOutputFile(a.figure, "--figure");
  const be = selectedBackend();
  // the weights, and the same net at init with the training seed of a dino-ref checkpoint (0 for other weights files)
  const { path, side, trained: backbone, init, cfg, seed } = trainedAndInit(be, "segment", a, io);

  // the data: a folder of images and masks, or a generated data set's held-out split (rendered with the run's seed)
  const name = a.dataset ?? "mnist-clutter";
  const ds: MaskedImageDataset = a.data !== undefined ? openMaskFolder(a.data) : maskedDataset(name, seed).test;
  const indices = classInterleaved(ds, count ?? ds.length);
  const what = a.data !== undefined ? `${indices.length} images of ${a.data}` : `${indices.length} held-out images of ${name} (seed ${seed})`;

  const trained = segmentationScores(be, backbone, cfg, ds, indices, threshold);
  const atInit = segmentationScores(be, init, cfg, ds, indices, threshold);
  const refs = referenceScores(ds, indices, cfg.patchSize);

  if (trained.cropped.length > 0) {
    for (const line of trained.cropped.slice(0, 3)) io.err(oneLine(`note: ${line}`));
    if (trained.cropped.length > 3) io.err(`note: ... and ${trained.cropped.length - 3} more images cropped to a multiple of the patch size ${cfg.patchSize}`);
  }
  io.out(`segmentation from attention: ${what}; masks keep ${threshold} of the last block's CLS attention (${side} of ${path}), Jaccard against the ground truth:`);
  io.out(formatTable([[`trained ${side}`, trained], [`same net at init (seed ${seed})`, atInit]]));
  io.out(`(chance: each image's best-head mask against the next image's ground truth, the level of masks of the same sizes in the wrong place)`);
  io.out(`references: best mask of whole ${cfg.patchSize}×${cfg.patchSize} patches ${refs.bestPatches.toFixed(3)}; the whole image ${refs.wholeImage.toFixed(3)}`);

  if (a.figure !== undefined) {
    const rows = Array.from(indices.slice(0, figureCount), (i) => {
      const image = ds.image(i);
      const [t, r] = [clsAttention(be, backbone, cfg, image, ds.describe(i)), clsAttention(be, init, cfg, image, ds.describe(i))];
      return { image: t.image, truth: cropMask(ds.mask(i), t.image.width, t.image.height), models: [{ maps: t, head: trained.bestHead }, { maps: r, head: atInit.bestHead }] };
    });
    const zoom = Math.max(1, Math.ceil(96 / Math.min(rows[0].image.width, rows[0].image.height)));
    writePng(a.figure, segmentationFigure(rows, cfg.patchSize, threshold, zoom));
    io.out(`figure: ${a.figure} (per row: image, ground truth, then for the trained net and the net at init: the best head's attention and its mask: kept patches grey, digit pixels white where kept, red where missed)`);
  }
  return 0;
}

/** One row per model: the mean Jaccard of each head, the best head, the mean over heads, and the head-mean map's mask. */
function formatTable(rows: [string, SegmentationScores][]): string {
  const H = rows[0][1].heads;
  const label = Math.max(...rows.map(([l]) => l.length));
  const head = ["", ...Array.from({ length: H }, (_, h) => `head ${h}`), "best head", "mean of heads", "head-mean map", "best head, chance"];
  const lines = rows.map(([l, s]) => [l, ...Array.from(s.perHead, (v) => v.toFixed(3)), `${s.best.toFixed(3)} (${s.bestHead})`, (s.perHead.reduce((x, y) => x + y, 0) / H).toFixed(3), s.meanAttention.toFixed(3), s.chance.toFixed(3)]);
  const widths = head.map((h, c) => Math.max(h.length, ...lines.map((r) => r[c].length), c === 0 ? label : 0));
  return [head, ...lines].map((r) => "  " + r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join("  ")).join("\n");
}
