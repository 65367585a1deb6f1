// One picture of segmentation from attention, for the README and for a person checking a model: a
// row per image with the image, its ground-truth mask, and for each compared model (e.g. trained
// and at initialisation) the attention heat map of its best head and that head's threshold mask
// scored against the truth: kept patches grey, object pixels inside them white (hits), object
// pixels outside them red (misses).

import { type GreyImage, type Image, greyToRgb, makeImage, tileGrid, upscaleNearest } from "../data/image.js";
import { check } from "../tensor/errors.js";
import { heatMap, type AttentionMaps } from "./attentionMaps.js";
import { attentionMask } from "./attentionMask.js";

export interface FigureRow {
  /** The image as the models saw it (cropped to the patch grid) and its mask, cropped alike. */
  image: Image;
  truth: GreyImage;
  /** One entry per compared model: its attention maps of this image and the head to show. */
  models: { maps: AttentionMaps; head: number }[];
}

const GAP = 4;

/** The patch mask against the truth: kept patches grey (96), truth pixels white inside kept patches, red outside. */
export function scoredMask(truth: GreyImage, mask: ArrayLike<number>, cols: number, p: number): Image {
  const out = makeImage(truth.width, truth.height);
  for (let y = 0; y < truth.height; y++) {
    for (let x = 0; x < truth.width; x++) {
      const kept = mask[Math.floor(y / p) * cols + Math.floor(x / p)] !== 0;
      const object = truth.data[y * truth.width + x] !== 0;
      out.data.set(object ? (kept ? [255, 255, 255] : [230, 40, 40]) : kept ? [96, 96, 96] : [0, 0, 0], 3 * (y * truth.width + x));
    }
  }
  return out;
}

/** Tiles [image, truth, (heat map, mask) per model] per row, each zoomed `zoom`×, on white with 4-px gaps. */
export function segmentationFigure(rows: readonly FigureRow[], p: number, threshold: number, zoom: number): Image {
  check(rows.length > 0, "segmentationFigure: no rows");
  const { width: w, height: h } = rows[0].image;
  const tiles = rows.map((r) => {
    check(r.image.width === w && r.image.height === h, "segmentationFigure: images of different sizes");
    const out: Image[] = [r.image, greyToRgb(r.truth.width, r.truth.height, r.truth.data)];
    for (const { maps, head } of r.models) {
      const n = maps.rows * maps.cols;
      const row = maps.attn.subarray(head * n, (head + 1) * n);
      out.push(heatMap(row, maps.rows, maps.cols, p), scoredMask(r.truth, attentionMask(row, 1, n, threshold), maps.cols, p));
    }
    return out.map((t) => upscaleNearest(t, zoom));
  });
  return tileGrid(tiles, GAP);
}
