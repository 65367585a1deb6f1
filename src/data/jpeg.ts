// JPEG files → 8-bit RGB images, decoded by the npm package jpeg-js (pure JavaScript, baseline and
// progressive, grey, RGB and Adobe CMYK), with the PNG reader's rules: a file that is not a whole
// JPEG raises a DinoRefError naming the file and what is wrong. Grey images become RGB with three
// equal channels, as PIL's convert('RGB'). The EXIF orientation is ignored, as torchvision's PIL
// loader ignores it. Pixels can differ from PIL's (libjpeg's) by a level or two: the inverse DCT
// and the chroma upsampling are computed differently.

import jpeg from "jpeg-js";
import { DinoRefError } from "../tensor/errors.js";
import { readFileBounded } from "../io/readFile.js";
import { checkPixels, limits } from "../tensor/limits.js";
import { type Image, makeImage } from "./image.js";

/**
 * The frame size of a JPEG (its first start-of-frame marker: SOF0..SOF15 but DHT, JPG and DAC), read
 * from the marker segments without decoding; null when no frame header is found.
 */
export function jpegFrameSize(bytes: Uint8Array): { width: number; height: number } | null {
  let at = 2;
  while (at + 9 <= bytes.length) {
    if (bytes[at] !== 0xff) return null;
    const marker = bytes[at + 1];
    // fill bytes before a marker
    if (marker === 0xff) {
      at++;
      continue;
    }
    const length = (bytes[at + 2] << 8) | bytes[at + 3];
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: (bytes[at + 5] << 8) | bytes[at + 6], width: (bytes[at + 7] << 8) | bytes[at + 8] };
    }
    // start of scan before any frame header: not a valid JPEG
    if (marker === 0xda || length < 2) return null;
    at += 2 + length;
  }
  return null;
}

/** Decodes JPEG bytes into an 8-bit RGB image; `source` names the file in error messages. */
export function decodeJpeg(bytes: Uint8Array, source: string): Image {
  const bad = (what: string) => new DinoRefError(`${source}: not a readable JPEG file: ${what}`);
  // SOI (FF D8) first, EOI (FF D9) last: a file cut short loses its end-of-image marker
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) throw bad(`the first 2 bytes are not the JPEG start-of-image marker (file has ${bytes.length} bytes)`);
  let end = bytes.length;
  while (end > 2 && bytes[end - 1] === 0x00) end--; // some writers pad after the end marker
  if (bytes[end - 2] !== 0xff || bytes[end - 1] !== 0xd9) throw bad(`truncated: no end-of-image marker (file has ${bytes.length} bytes)`);
  // the --max-pixels limit, checked on the frame header before anything is decoded
  const frame = jpegFrameSize(bytes);
  if (frame === null) throw bad("no frame header (SOF marker) before the image data");
  checkPixels(frame.width, frame.height, source);
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(bytes, {
      useTArray: true, formatAsRGBA: false, tolerantDecoding: false,
      maxResolutionInMP: limits().maxPixels / 1e6, maxMemoryUsageInMB: Math.max(1, Math.floor(limits().maxMemory / 2 ** 20)),
    });
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
