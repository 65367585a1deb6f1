// Separable bicubic resampling with antialiasing, following the semantics of PIL's
// `Image.resize(size, BICUBIC)`: cubic kernel with a = −0.5, support 2 output pixels scaled by the
// downscale factor, taps clipped to the source and weights renormalised. Close to PIL, not
// bit-identical: we accumulate in float64 and keep the intermediate (after the horizontal pass) in
// float64, where PIL uses fixed-point weights and rounds the intermediate to 8 bits.

import { DinoRefError } from "../tensor/errors.js";
import { type Image, makeImage } from "./image.js";

const A = -0.5;
const SUPPORT = 2;

// k(x) = (a+2)|x|³ − (a+3)|x|² + 1 for |x| < 1;  a|x|³ − 5a|x|² + 8a|x| − 4a for 1 ≤ |x| < 2;  0 beyond
export function bicubicKernel(x: number): number {
  const t = Math.abs(x);
  if (t < 1) return ((A + 2) * t - (A + 3)) * t * t + 1;
  if (t < 2) return (((t - 5) * t + 8) * t - 4) * A;
  return 0;
}

/** Taps of each output pixel along one axis: source indices start[o]..start[o]+count[o]−1 with weights. */
interface Taps {
  start: Int32Array;
  count: Int32Array;
  weights: Float64Array; // [out, width]: weights of output o at o·width + k
  width: number;
}

/** Taps for resampling [offset, offset+inSize) of an axis to outSize pixels. */
function taps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1); // antialias: widen the kernel when shrinking
  const support = SUPPORT * filterScale;
  const width = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * width);
  for (let o = 0; o < outSize; o++) {
    // centre of output pixel o in source coordinates (pixel i covers [i, i+1))
    const centre = (o + 0.5) * scale;
    const lo = Math.max(Math.trunc(centre - support + 0.5), 0);
    const hi = Math.min(Math.trunc(centre + support + 0.5), inSize);
    let sum = 0;
    for (let i = lo; i < hi; i++) {
      // distance from source pixel centre i + 0.5, in kernel units
      const w = bicubicKernel((i + 0.5 - centre) / filterScale);
      weights[o * width + (i - lo)] = w;
      sum += w;
    }
    for (let i = lo; i < hi; i++) weights[o * width + (i - lo)] /= sum === 0 ? 1 : sum;
    start[o] = lo;
    count[o] = hi - lo;
  }
  return { start, count, weights, width };
}

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * Resizes the box (x, y, w, h) of `img` (the whole image by default) to outW × outH with
 * antialiased bicubic; as torchvision's `resized_crop` on PIL images, the crop is taken first, so
 * taps never reach outside the box. Equal sizes give the box unchanged.
 */
export function resizeBicubic(img: Image, outW: number, outH: number, box: Box = { x: 0, y: 0, w: img.width, h: img.height }): Image {
  const { x, y, w, h } = box;
  if (!(Number.isInteger(outW) && Number.isInteger(outH) && outW > 0 && outH > 0)) {
    throw new DinoRefError(`resizeBicubic: output size ${outW}x${outH}; expected positive integers`);
  }
  if (!(Number.isInteger(x) && Number.isInteger(y) && Number.isInteger(w) && Number.isInteger(h)) || x < 0 || y < 0 || w <= 0 || h <= 0 || x + w > img.width || y + h > img.height) {
    throw new DinoRefError(`resizeBicubic: box (${x}, ${y}, ${w}, ${h}) is not inside the ${img.width}x${img.height} image`);
  }
  const src = img.data;
  const tx = taps(w, outW);
  const ty = taps(h, outH);
  // horizontal pass over the rows of the box: tmp [h, outW, 3]
  const tmp = new Float64Array(h * outW * 3);
  for (let r = 0; r < h; r++) {
    const row = ((y + r) * img.width + x) * 3;
    for (let o = 0; o < outW; o++) {
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      const base = o * tx.width;
      for (let k = 0, p = row + tx.start[o] * 3; k < tx.count[o]; k++, p += 3) {
        const wk = tx.weights[base + k];
        s0 += wk * src[p];
        s1 += wk * src[p + 1];
        s2 += wk * src[p + 2];
      }
      const t = (r * outW + o) * 3;
      tmp[t] = s0;
      tmp[t + 1] = s1;
      tmp[t + 2] = s2;
    }
  }
  // vertical pass, then round half up and clamp to 8 bits
  const out = makeImage(outW, outH);
  const dst = out.data;
  const rowLen = outW * 3;
  for (let o = 0; o < outH; o++) {
    const base = o * ty.width;
    const first = ty.start[o];
    for (let c = 0; c < rowLen; c++) {
      let s = 0;
      for (let k = 0; k < ty.count[o]; k++) s += ty.weights[base + k] * tmp[(first + k) * rowLen + c];
      const v = Math.floor(s + 0.5);
      dst[o * rowLen + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return out;
}
