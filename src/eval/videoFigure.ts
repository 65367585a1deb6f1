// The picture of a propagated video segmentation, for the README and for a person checking a
// model: one column per frame, one row per label source (the ground truth, then each compared
// model), each tile the frame with its label map laid over it in the DAVIS palette (the PASCAL VOC
// colour map: 1 red, 2 green, 3 yellow, …) at half opacity.

import { type Image, makeImage, tileGrid, upscaleNearest } from "../data/image.js";
import { check } from "../tensor/errors.js";

/** Colour of label k in the PASCAL VOC / DAVIS palette: bit j of k sets bit 7 − ⌊j/3⌋ of channel j mod 3. */
export function paletteColour(k: number): [number, number, number] {
  const rgb: [number, number, number] = [0, 0, 0];
  for (let j = 0; j < 24; j++) if ((k >> j) & 1) rgb[j % 3] |= 1 << (7 - Math.floor(j / 3));
  return rgb;
}

/** The frame with every labelled pixel blended half-way towards its label's colour. */
export function overlayLabels(frame: Image, labels: Uint8Array): Image {
  check(labels.length === frame.width * frame.height, () => `overlayLabels: ${labels.length} labels for a ${frame.width}×${frame.height} frame`);
  const out = makeImage(frame.width, frame.height, new Uint8Array(frame.data));
  for (let p = 0; p < labels.length; p++) {
    if (labels[p] === 0) continue;
    const c = paletteColour(labels[p]);
    // 0.5·frame + 0.5·colour
    for (let ch = 0; ch < 3; ch++) out.data[3 * p + ch] = Math.round(0.5 * frame.data[3 * p + ch] + 0.5 * c[ch]);
  }
  return out;
}

/** Rows [the frames, then one row per label sequence overlaid], every `step`-th frame, zoomed. */
export function videoStrip(frames: readonly Image[], rows: readonly (readonly Uint8Array[])[], zoom: number, step = 1): Image {
  const ts = Array.from({ length: Math.ceil(frames.length / step) }, (_, i) => i * step);
  const tiles = [ts.map((t) => frames[t]), ...rows.map((labels) => ts.map((t) => overlayLabels(frames[t], labels[t])))];
  return tileGrid(tiles.map((r) => r.map((tile) => upscaleNearest(tile, zoom))));
}
