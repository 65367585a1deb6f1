// JPEG files → 8-bit RGB images, decoded by the npm package jpeg-js (pure JavaScript, baseline and
// progressive, grey, RGB and Adobe CMYK), with the PNG reader's rules: a file that is not a whole
// JPEG raises a DinoRefError naming the file and what is wrong. Grey images become RGB with three
// equal channels, as PIL's convert('RGB'). The EXIF orientation is ignored, as torchvision's PIL
// loader ignores it. Pixels can differ from PIL's (libjpeg's) by a level or two: the inverse DCT
// and the chroma upsampling are computed differently.

import jpeg from "jpeg-js";
import { DinoRefError } from "../tensor/errors.js";
import { readFileBounded } from "../io/readFile.js";
import { type Image, makeImage } from "./image.js";

/** Images larger than this many megapixels are refused rather than decoded (a 100 MP photo needs 400 MB). */
const MAX_MEGAPIXELS = 100;

/** Decodes JPEG bytes into an 8-bit RGB image; `source` names the file in error messages. */
export function decodeJpeg(bytes: Uint8Array, source: string): Image {
  const bad = (what: string) => new DinoRefError(`${source}: not a readable JPEG file: ${what}`);
  // SOI (FF D8) first, EOI (FF D9) last: a file cut short loses its end-of-image marker
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) throw bad(`the first 2 bytes are not the JPEG start-of-image marker (file has ${bytes.length} bytes)`);
  let end = bytes.length;
  while (end > 2 && bytes[end - 1] === 0x00) end--; // some writers pad after the end marker
  if (bytes[end - 2] !== 0xff || bytes[end - 1] !== 0xd9) throw bad(`truncated: no end-of-image marker (file has ${bytes.length} bytes)`);
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, tolerantDecoding: false, maxResolutionInMP: MAX_MEGAPIXELS });
  } catch (e) {
    throw bad((e as Error).message ?? String(e));
  }
  const { width, height, data } = decoded;
  if (!(width > 0 && height > 0) || data.length !== width * height * 3) throw bad(`decoded ${data.length} bytes for ${width}x${height}, expected ${width * height * 3}`);
  return makeImage(width, height, data);
}

/** Reads and decodes a JPEG file. */
export function readJpeg(path: string): Image {
  const bytes = readFileBounded(path);
  return decodeJpeg(bytes, path);
}
