// DINO's GaussianBlur(radius σ) as PIL computes `ImageFilter.GaussianBlur(σ)`: not a true Gaussian
// but 3 passes of an "extended box blur" along x, then 3 along y, rounding to 8 bits after every
// pass, edge pixels repeated. σ is in pixels of the image it is applied to (the resized crop).
// Written from PIL's ImageFilter.GaussianBlur (three extended box-blur passes per axis), as `utils.py GaussianBlur` calls it, with 24-bit fixed-point weights; it reproduces
// PIL's impulse response (σ = 2, centre row 0,0,0,1,2,4,6,8,9,8,6,4,2,1,0,0,0).

import { type Image, makeImage } from "./image.js";

export const BOX_BLUR_PASSES = 3;

/**
 * Box radius R = l + a whose `passes`-fold box blur has variance σ²:
 * σ₂ = σ²/passes, L = √(12σ₂ + 1), l = ⌊(L − 1)/2⌋, a = (2l+1)(l(l+1) − 3σ₂) / (6(σ₂ − (l+1)²)).
 */
export function boxBlurRadius(sigma: number, passes = BOX_BLUR_PASSES): number {
  const sigma2 = (sigma * sigma) / passes;
  const L = Math.sqrt(12 * sigma2 + 1);
  const l = Math.floor((L - 1) / 2);
  const a = ((2 * l + 1) * (l * (l + 1) - 3 * sigma2)) / (6 * (sigma2 - (l + 1) * (l + 1)));
  return l + a;
}

/**
 * One extended-box pass over `n` samples at src[off + k·stride] into dst (same layout):
 * out[k] = (Σ_{|d|≤l} in[k+d]·ww + (in[k−l−1] + in[k+l+1])·fw + 2²³) >> 24, indices clamped to the
 * line, with 24-bit fixed-point weights ww = ⌊2²⁴/(2R+1)⌋ for the full box and
 * fw = ⌊(2²⁴ − (2l+1)·ww)/2⌋ (≈ a/(2R+1)) for the two partial edge pixels, so that the result is
 * round((box sum + a·edges)/(2R+1)) computed the way PIL rounds it.
 */
function boxLine(src: Uint8Array, dst: Uint8Array, off: number, stride: number, n: number, l: number, ww: number, fw: number, pad: Int32Array): void {
  // the line with l + 1 repeated edge pixels on each side: pad[k + l + 1] = in[clamp(k)]
  const m = l + 1;
  for (let k = -m; k < n + m; k++) pad[k + m] = src[off + (k < 0 ? 0 : k >= n ? n - 1 : k) * stride];
  let acc = 0;
  for (let d = -l; d <= l; d++) acc += pad[d + m];
  for (let k = 0; k < n; k++) {
    // < 2^8 · 2^24 · (2l+3): exact in float64
    dst[off + k * stride] = Math.floor((acc * ww + (pad[k - l - 1 + m] + pad[k + l + 1 + m]) * fw + 8388608) / 16777216);
    // slide the full box one step: add in[k+l+1], drop in[k−l]
    acc += pad[k + l + 1 + m] - pad[k - l + m];
  }
}

/** PIL-style Gaussian blur of standard deviation `sigma` pixels. */
export function gaussianBlur(img: Image, sigma: number): Image {
  const R = boxBlurRadius(sigma);
  const l = Math.floor(R);
  const ww = Math.floor(16777216 / (2 * R + 1));
  const fw = Math.floor((16777216 - (2 * l + 1) * ww) / 2);
  const { width: w, height: h } = img;
  let cur = new Uint8Array(img.data);
  let next = new Uint8Array(cur.length);
  const swap = () => ([cur, next] = [next, cur]);
  const pad = new Int32Array(Math.max(w, h) + 2 * (l + 1));
  for (let pass = 0; pass < BOX_BLUR_PASSES; pass++) {
    for (let y = 0; y < h; y++) for (let c = 0; c < 3; c++) boxLine(cur, next, y * w * 3 + c, 3, w, l, ww, fw, pad);
    swap();
  }
  for (let pass = 0; pass < BOX_BLUR_PASSES; pass++) {
    for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) boxLine(cur, next, x * 3 + c, w * 3, h, l, ww, fw, pad);
    swap();
  }
  return makeImage(w, h, cur);
}
