// Strong edits that make a "copy" of an image, in the spirit of Copydays' strong block (crops,
// rescaling, blur, JPEG re-compression, overlays, colour changes): every copy is a crop keeping
// 40–80% of the area (aspect 3/4–4/3) resized back to the original size, then two of
//   colour    brightness and contrast factors U(0.6, 1.4)       (ImageEnhance, color.ts)
//   overlay   a banner across the top or bottom (15–25% of the height) with 2–4 caption bars
//   rescale   down to half the size and back up (bicubic)
//   blur      PIL Gaussian blur, σ U(0.7, 1.5) px               (blur.ts)
//   jpeg      JPEG-like quantisation, quality U{10..30}         (jpegQuantize.ts)
// applied in that order. Every draw comes from the Rng passed in.

import type { Rng } from "../tensor/rng.js";
import { gaussianBlur } from "./blur.js";
import { adjustBrightness, adjustContrast } from "./color.js";
import { type Image, makeImage } from "./image.js";
import { jpegQuantize } from "./jpegQuantize.js";
import { resizeBicubic } from "./resample.js";

/** The optional edits, in the order they are applied. */
export const COPY_EDITS = ["colour", "overlay", "rescale", "blur", "jpeg"] as const;
export type CopyEdit = (typeof COPY_EDITS)[number];

/** A random crop keeping a share U(lo, hi) of the area at aspect U(3/4, 4/3) (clipped to fit), resized back to the image's size. */
export function cropAndResize(img: Image, rng: Rng, area: readonly [number, number] = [0.4, 0.8]): Image {
  const { width: W, height: H } = img;
  const share = rng.uniformIn(area[0], area[1]);
  const aspect = Math.exp(rng.uniformIn(Math.log(3 / 4), Math.log(4 / 3)));
  // w·h = share·W·H, w/h = aspect
  const w = Math.max(1, Math.min(W, Math.round(Math.sqrt(share * W * H * aspect))));
  const h = Math.max(1, Math.min(H, Math.round(Math.sqrt((share * W * H) / aspect))));
  const x = rng.int(W - w + 1);
  const y = rng.int(H - h + 1);
  return resizeBicubic(img, W, H, { x, y, w, h });
}

/** A banner across the top or bottom edge (15–25% of the height) in a random colour, with 2–4 bars of another colour, like a caption. */
export function overlayBanner(img: Image, rng: Rng): Image {
  const { width: W, height: H } = img;
  const out = makeImage(W, H, new Uint8Array(img.data));
  const bh = Math.max(2, Math.round(H * rng.uniformIn(0.15, 0.25)));
  const top = rng.uniform() < 0.5 ? 0 : H - bh;
  const banner = [0, 1, 2].map(() => rng.int(256));
  const ink = banner.map((v) => (v + 96 + rng.int(64)) % 256);
  const fill = (x0: number, y0: number, w: number, h: number, colour: number[]) => {
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) for (let c = 0; c < 3; c++) out.data[(y * W + x) * 3 + c] = colour[c];
  };
  fill(0, top, W, bh, banner);
  const bars = 2 + rng.int(3);
  for (let b = 0; b < bars; b++) {
    const bw = 1 + rng.int(Math.max(1, Math.floor(W / 8)));
    const x0 = rng.int(W - bw + 1);
    const barH = Math.max(1, Math.round(bh / 2));
    fill(x0, top + Math.floor((bh - barH) / 2), bw, barH, ink);
  }
  return out;
}

/** Applies one optional edit. */
export function applyCopyEdit(img: Image, edit: CopyEdit, rng: Rng): Image {
  switch (edit) {
    case "colour":
      return adjustContrast(adjustBrightness(img, rng.uniformIn(0.6, 1.4)), rng.uniformIn(0.6, 1.4));
    case "overlay":
      return overlayBanner(img, rng);
    case "rescale":
      return resizeBicubic(resizeBicubic(img, Math.max(1, Math.round(img.width / 2)), Math.max(1, Math.round(img.height / 2))), img.width, img.height);
    case "blur":
      return gaussianBlur(img, rng.uniformIn(0.7, 1.5));
    case "jpeg":
      return jpegQuantize(img, 10 + rng.int(21));
  }
}

/** A strong copy of `img`: a crop resized back, then two distinct edits of COPY_EDITS in their order; also the edits' names. */
export function strongCopy(img: Image, rng: Rng): { image: Image; edits: string[] } {
  let out = cropAndResize(img, rng);
  const first = rng.int(COPY_EDITS.length);
  const second = (first + 1 + rng.int(COPY_EDITS.length - 1)) % COPY_EDITS.length;
  const chosen = COPY_EDITS.filter((_, i) => i === first || i === second);
  for (const edit of chosen) out = applyCopyEdit(out, edit, rng);
  return { image: out, edits: ["crop", ...chosen] };
}
