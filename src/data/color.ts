// Colour operations of DINO's augmentation with PIL's 8-bit semantics (as torchvision applies them
// to PIL images): ColorJitter's four ops as ImageEnhance blends and an HSV hue rotation,
// RandomGrayscale's convert('L'), and ImageOps.solarize. Every function returns a new image.
// The 8-bit HSV rounding (truncate H, S on the way in, round p, q, t on the way out) is our reading
// of PIL, not checked against Pillow; the blends, luma and solarize follow torchvision's ColorJitter and RandomGrayscale and `utils.py Solarization` as
// `main_dino.py DataAugmentationDINO` uses them.

import { type Image, luma, makeImage, toLuma } from "./image.js";

// PIL Image.blend per byte: v = a + α(b − a) in double; α in [0, 1]: truncate; otherwise clamp to
// [0, 255] then truncate; α = 1 returns a copy of b
function blendByte(a: number, b: number, alpha: number, clampNeeded: boolean): number {
  const v = a + alpha * (b - a);
  if (!clampNeeded) return Math.trunc(v);
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v);
}

/** blend(degenerate, img, α) where the degenerate image is given per pixel as one grey level. */
function blendWithGrey(img: Image, grey: (pixel: number) => number, alpha: number): Image {
  const out = makeImage(img.width, img.height);
  if (alpha === 1) {
    out.data.set(img.data);
    return out;
  }
  const clampNeeded = alpha < 0 || alpha > 1;
  const d = img.data;
  for (let p = 0, n = img.width * img.height; p < n; p++) {
    const g = grey(p);
    for (let c = 0; c < 3; c++) out.data[3 * p + c] = blendByte(g, d[3 * p + c], alpha, clampNeeded);
  }
  return out;
}

/** ImageEnhance.Brightness: blend with black, factor f (1 = unchanged). */
export function adjustBrightness(img: Image, f: number): Image {
  return blendWithGrey(img, () => 0, f);
}

/** ImageEnhance.Contrast: blend with the uniform grey int(mean(L(img)) + 0.5), factor f. */
export function adjustContrast(img: Image, f: number): Image {
  const l = toLuma(img);
  let sum = 0;
  for (let p = 0; p < l.length; p++) sum += l[p];
  const mean = Math.trunc(sum / l.length + 0.5);
  return blendWithGrey(img, () => mean, f);
}

/** ImageEnhance.Color: blend with the image's own luma L(img) replicated to RGB, factor f. */
export function adjustSaturation(img: Image, f: number): Image {
  const l = toLuma(img);
  return blendWithGrey(img, (p) => l[p], f);
}

/** RGB → PIL 8-bit HSV of one pixel (colorsys' formulas, H, S scaled to 0..255 and truncated), into out. */
export function rgbToHsv(r: number, g: number, b: number, out: Uint8Array | number[]): void {
  const maxc = Math.max(r, g, b);
  const minc = Math.min(r, g, b);
  if (maxc === minc) {
    out[0] = 0;
    out[1] = 0;
    out[2] = maxc;
    return;
  }
  const cr = maxc - minc;
  const s = cr / maxc;
  const rc = (maxc - r) / cr;
  const gc = (maxc - g) / cr;
  const bc = (maxc - b) / cr;
  let h: number;
  if (r === maxc) h = bc - gc;
  else if (g === maxc) h = 2 + rc - bc;
  else h = 4 + gc - rc;
  // h/6 mod 1.0, as a non-negative fraction of a turn
  h = h / 6 - Math.floor(h / 6);
  out[0] = Math.min(255, Math.trunc(h * 255));
  out[1] = Math.min(255, Math.trunc(s * 255));
  out[2] = maxc;
}

/** PIL 8-bit HSV → RGB of one pixel (sector i = ⌊6H/255⌋, rounded p, q, t), into out. */
export function hsvToRgb(h8: number, s8: number, v: number, out: Uint8Array | number[]): void {
  if (s8 === 0) {
    out[0] = out[1] = out[2] = v;
    return;
  }
  const h = (h8 * 6) / 255;
  const s = s8 / 255;
  const i = Math.floor(h);
  const f = h - i;
  const p = Math.round(v * (1 - s));
  const q = Math.round(v * (1 - s * f));
  const t = Math.round(v * (1 - s * (1 - f)));
  switch (i % 6) {
    case 0: out[0] = v; out[1] = t; out[2] = p; break;
    case 1: out[0] = q; out[1] = v; out[2] = p; break;
    case 2: out[0] = p; out[1] = v; out[2] = t; break;
    case 3: out[0] = p; out[1] = q; out[2] = v; break;
    case 4: out[0] = t; out[1] = p; out[2] = v; break;
    default: out[0] = v; out[1] = p; out[2] = q;
  }
}

/**
 * torchvision adjust_hue on a PIL image: convert to HSV, add uint8(int32(f·255)) to H with uint8
 * wrap-around (so f = −0.1 adds 256 − 25 = 231), convert back. f in [−0.5, 0.5].
 */
export function adjustHue(img: Image, f: number): Image {
  const shift = ((Math.trunc(f * 255) % 256) + 256) % 256;
  const out = makeImage(img.width, img.height);
  const hsv = [0, 0, 0];
  const rgb = [0, 0, 0];
  const d = img.data;
  for (let p = 0, n = img.width * img.height; p < n; p++) {
    rgbToHsv(d[3 * p], d[3 * p + 1], d[3 * p + 2], hsv);
    hsvToRgb((hsv[0] + shift) & 255, hsv[1], hsv[2], rgb);
    out.data[3 * p] = rgb[0];
    out.data[3 * p + 1] = rgb[1];
    out.data[3 * p + 2] = rgb[2];
  }
  return out;
}

/** RandomGrayscale's PIL convert('L') (ITU-R 601 luma), replicated to 3 channels. */
export function grayscale(img: Image): Image {
  const out = makeImage(img.width, img.height);
  const d = img.data;
  for (let p = 0, n = img.width * img.height; p < n; p++) {
    const l = luma(d[3 * p], d[3 * p + 1], d[3 * p + 2]);
    out.data[3 * p] = out.data[3 * p + 1] = out.data[3 * p + 2] = l;
  }
  return out;
}

/** ImageOps.solarize(img, threshold 128): every channel value v ≥ 128 becomes 255 − v. */
export function solarize(img: Image, threshold = 128): Image {
  const out = makeImage(img.width, img.height);
  for (let i = 0; i < img.data.length; i++) {
    const v = img.data[i];
    out.data[i] = v >= threshold ? 255 - v : v;
  }
  return out;
}
