// JPEG-like quantisation (the lossy core of baseline JPEG, ITU-T T.81): RGB → YCbCr (JFIF), each
// 8×8 block of each channel through the 2-D DCT-II, coefficients divided by the quality-scaled
// quantisation table of T.81 Annex K (luma table for Y, chroma table for Cb and Cr), rounded,
// multiplied back, inverse DCT, YCbCr → RGB, rounded and clamped. No chroma subsampling and no
// entropy coding (lossless, so it does not change the pixels). Quality q in [1, 100] scales the
// tables as libjpeg does: s = 5000/q below 50, else 200 − 2q; entry = clamp(⌊(T·s + 50)/100⌋, 1, 255).
// Image sides need not be multiples of 8: edge blocks repeat the last row and column.

import { DinoRefError } from "../tensor/errors.js";
import { type Image, makeImage } from "./image.js";

// T.81 Annex K, Table K.1 (luminance) and K.2 (chrominance), row-major
const LUMA_TABLE = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
  18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
const CHROMA_TABLE = [
  17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
  99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
];

/** The table of T.81 scaled to quality q (libjpeg's jpeg_quality_scaling and jpeg_add_quant_table). */
export function scaledTable(table: readonly number[], quality: number): Float64Array {
  const s = quality < 50 ? 5000 / quality : 200 - 2 * quality;
  return Float64Array.from(table, (t) => Math.min(255, Math.max(1, Math.floor((t * s + 50) / 100))));
}

// DCT-II basis: C[u][x] = α(u) cos((2x + 1)uπ / 16), α(0) = √(1/8), α(u > 0) = √(2/8)
const BASIS = Float64Array.from({ length: 64 }, (_, i) => {
  const [u, x] = [Math.floor(i / 8), i % 8];
  return (u === 0 ? Math.sqrt(1 / 8) : Math.sqrt(2 / 8)) * Math.cos(((2 * x + 1) * u * Math.PI) / 16);
});

/** One 8×8 block in place: F = C B Cᵀ, F ← round(F / Q)·Q, B = Cᵀ F C. */
function quantizeBlock(block: Float64Array, q: Float64Array, tmp: Float64Array): void {
  // F = C · B · Cᵀ
  for (let u = 0; u < 8; u++) for (let x = 0; x < 8; x++) {
    let s = 0;
    for (let y = 0; y < 8; y++) s += BASIS[u * 8 + y] * block[y * 8 + x];
    tmp[u * 8 + x] = s;
  }
  for (let u = 0; u < 8; u++) for (let v = 0; v < 8; v++) {
    let s = 0;
    for (let x = 0; x < 8; x++) s += tmp[u * 8 + x] * BASIS[v * 8 + x];
    // quantise: round(F / Q) · Q
    block[u * 8 + v] = Math.round(s / q[u * 8 + v]) * q[u * 8 + v];
  }
  // B = Cᵀ · F · C
  for (let y = 0; y < 8; y++) for (let v = 0; v < 8; v++) {
    let s = 0;
    for (let u = 0; u < 8; u++) s += BASIS[u * 8 + y] * block[u * 8 + v];
    tmp[y * 8 + v] = s;
  }
  for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) {
    let s = 0;
    for (let v = 0; v < 8; v++) s += tmp[y * 8 + v] * BASIS[v * 8 + x];
    block[y * 8 + x] = s;
  }
}

/** The image after JPEG-like quantisation at quality `quality` (1 worst … 100 best). */
export function jpegQuantize(img: Image, quality: number): Image {
  if (!(Number.isInteger(quality) && quality >= 1 && quality <= 100)) throw new DinoRefError(`JPEG quality ${quality}; expected an integer in [1, 100]`);
  const { width: W, height: H, data } = img;
  const n = W * H;
  // JFIF: Y = 0.299R + 0.587G + 0.114B; Cb = −0.168736R − 0.331264G + 0.5B + 128; Cr = 0.5R − 0.418688G − 0.081312B + 128
  const planes = [new Float64Array(n), new Float64Array(n), new Float64Array(n)];
  for (let p = 0; p < n; p++) {
    const [r, g, b] = [data[3 * p], data[3 * p + 1], data[3 * p + 2]];
    planes[0][p] = 0.299 * r + 0.587 * g + 0.114 * b;
    planes[1][p] = -0.168736 * r - 0.331264 * g + 0.5 * b + 128;
    planes[2][p] = 0.5 * r - 0.418688 * g - 0.081312 * b + 128;
  }
  const tables = [scaledTable(LUMA_TABLE, quality), scaledTable(CHROMA_TABLE, quality), scaledTable(CHROMA_TABLE, quality)];
  const block = new Float64Array(64);
  const tmp = new Float64Array(64);
  for (let c = 0; c < 3; c++) {
    const plane = planes[c];
    for (let by = 0; by < H; by += 8) {
      for (let bx = 0; bx < W; bx += 8) {
        // level shift by −128; pixels beyond the image repeat the last row / column
        for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) block[y * 8 + x] = plane[Math.min(by + y, H - 1) * W + Math.min(bx + x, W - 1)] - 128;
        quantizeBlock(block, tables[c], tmp);
        for (let y = 0; y < 8 && by + y < H; y++) for (let x = 0; x < 8 && bx + x < W; x++) plane[(by + y) * W + bx + x] = block[y * 8 + x] + 128;
      }
    }
  }
  const out = makeImage(W, H);
  const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));
  for (let p = 0; p < n; p++) {
    const [y, cb, cr] = [planes[0][p], planes[1][p] - 128, planes[2][p] - 128];
    // R = Y + 1.402Cr; G = Y − 0.344136Cb − 0.714136Cr; B = Y + 1.772Cb
    out.data[3 * p] = clamp(y + 1.402 * cr);
    out.data[3 * p + 1] = clamp(y - 0.344136 * cb - 0.714136 * cr);
    out.data[3 * p + 2] = clamp(y + 1.772 * cb);
  }
  return out;
}
