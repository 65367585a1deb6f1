// An 8-bit RGB image in memory (HWC, like a PIL "RGB" image) and the few helpers every data file
// needs. Augmentation stays in 8 bits until normalisation, as PIL does, so PIL's rounding applies.

import { DinoRefError } from "../tensor/errors.js";

/** An RGB image: `data[(y·width + x)·3 + c]`, c = 0 red, 1 green, 2 blue; 3·W·H bytes. */
export interface Image {
  readonly width: number;
  readonly height: number;
  readonly channels: 3;
  readonly data: Uint8Array; // [H, W, 3]
}

/** A single-channel 8-bit image (attention maps, masks): `data[y·width + x]`. */
export interface GreyImage {
  readonly width: number;
  readonly height: number;
  readonly channels: 1;
  readonly data: Uint8Array; // [H, W]
}

/** A new RGB image of the given size: black, or wrapping `data` (which must hold 3·W·H bytes). */
export function makeImage(width: number, height: number, data?: Uint8Array): Image {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new DinoRefError(`image size ${width}x${height}; expected positive integers`);
  }
  const n = width * height * 3;
  if (data !== undefined && data.length !== n) {
    throw new DinoRefError(`image data has ${data.length} bytes; expected ${n} for ${width}x${height} RGB`);
  }
  return { width, height, channels: 3, data: data ?? new Uint8Array(n) };
}

/** RGB image whose three channels all equal the grey image `grey` ([H, W]). */
export function greyToRgb(width: number, height: number, grey: Uint8Array): Image {
  const out = makeImage(width, height);
  for (let p = 0; p < width * height; p++) {
    const v = grey[p];
    out.data[3 * p] = v;
    out.data[3 * p + 1] = v;
    out.data[3 * p + 2] = v;
  }
  return out;
}

// L = R·299/1000 + G·587/1000 + B·114/1000 (ITU-R 601), in PIL's 16-bit fixed point, rounded
/** PIL's `convert('L')` of one pixel: (10, 200, 77) → 129. */
export function luma(r: number, g: number, b: number): number {
  return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >>> 16;
}

/** The luma of every pixel ([H, W]). */
export function toLuma(img: Image): Uint8Array {
  const n = img.width * img.height;
  const out = new Uint8Array(n);
  const d = img.data;
  for (let p = 0; p < n; p++) out[p] = luma(d[3 * p], d[3 * p + 1], d[3 * p + 2]);
  return out;
}

/** A copy of the box (x, y, w, h) of `img`; the box must lie inside the image. */
export function cropImage(img: Image, x: number, y: number, w: number, h: number): Image {
  if (x < 0 || y < 0 || w <= 0 || h <= 0 || x + w > img.width || y + h > img.height) {
    throw new DinoRefError(`crop box (${x}, ${y}, ${w}, ${h}) is not inside the ${img.width}x${img.height} image`);
  }
  const out = makeImage(w, h);
  for (let r = 0; r < h; r++) {
    const src = ((y + r) * img.width + x) * 3;
    out.data.set(img.data.subarray(src, src + w * 3), r * w * 3);
  }
  return out;
}

/** The mirror image left ↔ right (PIL's FLIP_LEFT_RIGHT). */
export function flipHorizontal(img: Image): Image {
  const { width: w, height: h, data } = img;
  const out = makeImage(w, h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (y * w + x) * 3;
      const d = (y * w + (w - 1 - x)) * 3;
      out.data[d] = data[s];
      out.data[d + 1] = data[s + 1];
      out.data[d + 2] = data[s + 2];
    }
  }
  return out;
}

/** Nearest-neighbour enlargement by an integer factor (for looking at tiny crops). */
export function upscaleNearest(img: Image, factor: number): Image {
  if (!Number.isInteger(factor) || factor < 1) throw new DinoRefError(`upscale factor ${factor}; expected a positive integer`);
  const out = makeImage(img.width * factor, img.height * factor);
  for (let y = 0; y < out.height; y++) {
    for (let x = 0; x < out.width; x++) {
      const s = (Math.floor(y / factor) * img.width + Math.floor(x / factor)) * 3;
      const d = (y * out.width + x) * 3;
      out.data[d] = img.data[s];
      out.data[d + 1] = img.data[s + 1];
      out.data[d + 2] = img.data[s + 2];
    }
  }
  return out;
}

/** Tiles laid out in rows on white, `gap` pixels apart; every tile must have the size of the first. */
export function tileGrid(tiles: readonly (readonly Image[])[], gap = 4): Image {
  if (tiles.length === 0 || tiles[0].length === 0) throw new DinoRefError("tileGrid: no tiles");
  const { width: tw, height: th } = tiles[0][0];
  const cols = Math.max(...tiles.map((r) => r.length));
  const fig = makeImage(cols * tw + (cols - 1) * gap, tiles.length * th + (tiles.length - 1) * gap);
  fig.data.fill(255);
  tiles.forEach((row, r) =>
    row.forEach((tile, c) => {
      if (tile.width !== tw || tile.height !== th) throw new DinoRefError(`tileGrid: a ${tile.width}x${tile.height} tile among ${tw}x${th} ones`);
      for (let y = 0; y < th; y++) fig.data.set(tile.data.subarray(y * tw * 3, (y + 1) * tw * 3), ((r * (th + gap) + y) * fig.width + c * (tw + gap)) * 3);
    }),
  );
  return fig;
}
