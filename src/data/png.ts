// PNG files ↔ images. Decoding gives what PIL's `Image.open(f).convert('RGB')` gives: every colour
// type and bit depth becomes 8-bit RGB and alpha is DROPPED (not composited). Corrupt files raise a
// DinoRefError that names the file and what is wrong.
//
// Differences from PIL, all for rare inputs: 16-bit samples are scaled to 8 bits as
// round(v·255/65535) (PIL, as far as we know, takes the high byte of 16-bit RGB, at most 1 level
// apart, and opens 16-bit grey as a 32-bit integer image, which we do not imitate). The gAMA chunk is ignored, as in PIL.

import { readFileSync } from "node:fs";
import { PNG } from "pngjs";
import { DinoRefError } from "../tensor/errors.js";
import { writeFileAtomic } from "../io/writeFileAtomic.js";
import { type GreyImage, type Image, makeImage } from "./image.js";

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * Walks the chunks (length, type, data, CRC) and checks the structure pngjs would otherwise report
 * vaguely: signature, truncation, IHDR first, IEND present. Returns the bytes to decode: for grey
 * and RGB images a tRNS chunk is removed, because pngjs would blacken the transparent colour while
 * PIL's convert('RGB') keeps it (alpha is dropped, the colour stays).
 */
function checkedChunks(bytes: Uint8Array, source: string): Uint8Array {
  const bad = (what: string) => new DinoRefError(`${source}: not a readable PNG file: ${what}`);
  if (bytes.length < 8 || SIGNATURE.some((b, i) => bytes[i] !== b)) {
    throw bad(`the first 8 bytes are not the PNG signature (file has ${bytes.length} bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const keep: Uint8Array[] = [bytes.subarray(0, 8)];
  let pos = 8;
  let colourType = -1;
  let sawIend = false;
  let stripped = false;
  while (pos < bytes.length && !sawIend) {
    if (pos + 12 > bytes.length) throw bad(`truncated: a chunk header at byte ${pos} runs past the end (${bytes.length} bytes)`);
    const len = view.getUint32(pos);
    const type = String.fromCharCode(bytes[pos + 4], bytes[pos + 5], bytes[pos + 6], bytes[pos + 7]);
    const end = pos + 12 + len;
    if (end > bytes.length) throw bad(`truncated: chunk ${type} at byte ${pos} needs ${len} bytes of data, file ends at ${bytes.length}`);
    if (pos === 8 && type !== "IHDR") throw bad(`the first chunk is ${JSON.stringify(type)}, expected IHDR`);
    if (type === "IHDR") colourType = bytes[pos + 8 + 9];
    if (type === "IEND") sawIend = true;
    if (type === "tRNS" && (colourType === 0 || colourType === 2)) stripped = true;
    else keep.push(bytes.subarray(pos, end));
    pos = end;
  }
  if (!sawIend) throw bad(`truncated: no IEND chunk (file has ${bytes.length} bytes)`);
  return stripped ? Buffer.concat(keep) : bytes;
}

/** Decodes PNG bytes into an 8-bit RGB image; `source` names the file in error messages. */
export function decodePng(bytes: Uint8Array, source: string): Image {
  const clean = checkedChunks(bytes, source);
  let png: { width: number; height: number; data: Buffer };
  try {
    const buf = Buffer.isBuffer(clean) ? clean : Buffer.from(clean.buffer, clean.byteOffset, clean.byteLength);
    png = PNG.sync.read(buf);
  } catch (e) {
    throw new DinoRefError(`${source}: not a readable PNG file: ${(e as Error).message}`);
  }
  const { width, height, data } = png;
  if (data.length !== width * height * 4) {
    throw new DinoRefError(`${source}: not a readable PNG file: decoded ${data.length} bytes, expected ${width * height * 4}`);
  }
  // pngjs hands back 8-bit RGBA whatever the colour type: keep R, G, B and drop A (PIL's convert('RGB'))
  const img = makeImage(width, height);
  for (let p = 0, n = width * height; p < n; p++) {
    img.data[3 * p] = data[4 * p];
    img.data[3 * p + 1] = data[4 * p + 1];
    img.data[3 * p + 2] = data[4 * p + 2];
  }
  return img;
}

/** Reads and decodes a PNG file. */
export function readPng(path: string): Image {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new DinoRefError(`${path}: cannot read file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return decodePng(bytes, path);
}

/** Encodes an RGB image as an 8-bit RGB PNG, or a grey image as an 8-bit greyscale PNG. */
export function encodePng(img: Image | GreyImage): Uint8Array {
  const colourType = img.channels === 1 ? 0 : 2;
  if (img.data.length !== img.width * img.height * img.channels) {
    throw new DinoRefError(`encodePng: ${img.data.length} bytes for a ${img.width}x${img.height}x${img.channels} image; expected ${img.width * img.height * img.channels}`);
  }
  const png = new PNG({ width: img.width, height: img.height, colorType: colourType, inputColorType: colourType, inputHasAlpha: false, bitDepth: 8 });
  png.data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  return PNG.sync.write(png, { colorType: colourType, inputColorType: colourType, inputHasAlpha: false, bitDepth: 8 });
}

/** Writes `img` as a PNG file (atomically: a reader never sees half a file). */
export function writePng(path: string, img: Image | GreyImage): void {
  writeFileAtomic(path, encodePng(img));
}
