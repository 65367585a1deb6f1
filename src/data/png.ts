// PNG files ↔ images. Decoding gives what PIL's `Image.open(f).convert('RGB')` gives: every colour
// type, bit depth and interlacing becomes 8-bit RGB and alpha is DROPPED (not composited), so a
// tRNS chunk changes nothing. The decoder fails closed: every chunk's CRC, the chunk order, the
// zlib stream (errors, data cut short or running on, bytes after its end), each row's filter byte
// and each palette index are checked, and any fault is a DinoRefError naming the file. The image
// size is checked against --max-pixels (src/tensor/limits.ts) before anything is inflated.
//
// Why not pngjs for reading: its synchronous reader ignores zlib errors and hands back
// uninitialised memory for an empty, cut or garbage IDAT with a valid CRC (different bytes on
// every call), and accepts a second IHDR. pngjs still writes our PNGs (encodePng).
//
// Differences from PIL, all for rare inputs: 16-bit samples are scaled to 8 bits as
// round(v·255/65535) (PIL, as far as we know, takes the high byte of 16-bit RGB, at most 1 level
// apart, and opens 16-bit grey as a 32-bit integer image, which we do not imitate). The gAMA chunk
// is ignored, as in PIL. Bytes after IEND are ignored, as in PIL.

import { crc32, inflateSync } from "node:zlib";
import { PNG } from "pngjs";
import { DinoRefError } from "../tensor/errors.js";
import { checkMemory, checkPixels } from "../tensor/limits.js";
import { writeFileAtomic } from "../io/writeFileAtomic.js";
import { readFileBounded } from "../io/readFile.js";
import { type GreyImage, type Image, makeImage } from "./image.js";

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Samples per pixel of each colour type: grey, RGB, palette index, grey + alpha, RGBA. */
const CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
/** The bit depths the PNG specification allows for each colour type. */
const DEPTHS: Readonly<Record<number, readonly number[]>> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

/** Adam7 passes: first column, first row, column step, row step (the PNG specification). */
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]] as const;
const PROGRESSIVE = [[0, 0, 1, 1]] as const;

interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  colourType: number;
  interlaced: boolean;
}

interface PngParts {
  header: PngHeader;
  /** PLTE as RGB triples, or null. */
  palette: Uint8Array | null;
  /** The IDAT chunks' data, concatenated: one zlib stream. */
  compressed: Uint8Array;
}

/**
 * Walks the chunks (length, type, data, CRC) and checks the structure: signature, CRCs, IHDR first
 * and once, a valid IHDR, PLTE at most once and before the image data, the IDAT chunks
 * consecutive, no unknown critical chunk, IEND present. Ancillary chunks are skipped.
 */
function readChunks(bytes: Uint8Array, source: string): PngParts {
  const bad = (what: string) => new DinoRefError(`${source}: not a readable PNG file: ${what}`);
  if (bytes.length < 8 || SIGNATURE.some((b, i) => bytes[i] !== b)) {
    throw bad(`the first 8 bytes are not the PNG signature (file has ${bytes.length} bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let header: PngHeader | null = null;
  let palette: Uint8Array | null = null;
  const idat: Uint8Array[] = [];
  let idatEnded = false;
  let sawIend = false;
  let pos = 8;
  while (!sawIend) {
    if (pos + 12 > bytes.length) throw bad(pos === bytes.length ? `truncated: no IEND chunk (file has ${bytes.length} bytes)` : `truncated: a chunk header at byte ${pos} runs past the end (${bytes.length} bytes)`);
    const len = view.getUint32(pos);
    const typeBytes = bytes.subarray(pos + 4, pos + 8);
    if (!typeBytes.every((c) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122))) throw bad(`the chunk at byte ${pos} has no valid type (bytes ${Array.from(typeBytes).join(", ")})`);
    const type = String.fromCharCode(...typeBytes);
    if (len > 0x7fffffff) throw bad(`chunk ${type} at byte ${pos} declares ${len} bytes, above the 2^31 − 1 the format allows`);
    const end = pos + 12 + len;
    if (end > bytes.length) throw bad(`truncated: chunk ${type} at byte ${pos} needs ${len} bytes of data, file ends at ${bytes.length}`);
    const data = bytes.subarray(pos + 8, pos + 8 + len);
    const stored = view.getUint32(pos + 8 + len);
    const actual = crc32(bytes.subarray(pos + 4, pos + 8 + len));
    if (stored !== actual) throw bad(`chunk ${type} at byte ${pos} has CRC ${hex(stored)}, its bytes give ${hex(actual)} (the file is corrupt)`);
    if (pos === 8 && type !== "IHDR") throw bad(`the first chunk is ${type}, expected IHDR`);
    if (type !== "IDAT" && idat.length > 0) idatEnded = true;
    switch (type) {
      case "IHDR":
        if (header !== null) throw bad(`a second IHDR chunk at byte ${pos}`);
        header = parseHeader(data, bad);
        // before anything is inflated or allocated
        checkPixels(header.width, header.height, source);
        break;
      case "PLTE":
        if (palette !== null) throw bad(`a second PLTE chunk at byte ${pos}`);
        if (idat.length > 0) throw bad(`the PLTE chunk at byte ${pos} comes after the image data (IDAT)`);
        if (header!.colourType === 0 || header!.colourType === 4) throw bad(`a PLTE chunk in a greyscale image (colour type ${header!.colourType})`);
        if (len === 0 || len % 3 !== 0 || len > 768) throw bad(`the PLTE chunk has ${len} bytes; expected 3 per entry, 1 to 256 entries`);
        palette = data;
        break;
      case "IDAT":
        if (idatEnded) throw bad(`the IDAT chunks are not consecutive (another IDAT at byte ${pos} after a ${lastType(bytes, view, pos)} chunk)`);
        idat.push(data);
        break;
      case "IEND":
        if (len !== 0) throw bad(`the IEND chunk has ${len} bytes of data; expected none`);
        sawIend = true;
        break;
      default:
        // bit 5 of the first letter clear (upper case): a critical chunk this decoder does not know
        if ((typeBytes[0] & 0x20) === 0) throw bad(`unknown critical chunk ${type} at byte ${pos}`);
    }
    pos = end;
  }
  if (header === null) throw bad("no IHDR chunk");
  if (idat.length === 0) throw bad("no image data (no IDAT chunk)");
  if (header.colourType === 3 && palette === null) throw bad("a palette image (colour type 3) without a PLTE chunk");
  return { header, palette, compressed: idat.length === 1 ? idat[0] : Buffer.concat(idat) };
}

/** The type of the chunk just before the one at `pos` (for an error message). */
function lastType(bytes: Uint8Array, view: DataView, pos: number): string {
  let at = 8;
  let type = "?";
  while (at < pos) {
    type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    at += 12 + view.getUint32(at);
  }
  return type;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, "0")}`;
}

function parseHeader(data: Uint8Array, bad: (what: string) => DinoRefError): PngHeader {
  if (data.length !== 13) throw bad(`the IHDR chunk has ${data.length} bytes; expected 13`);
  const view = new DataView(data.buffer, data.byteOffset, 13);
  const [width, height] = [view.getUint32(0), view.getUint32(4)];
  const [bitDepth, colourType, compression, filter, interlace] = [data[8], data[9], data[10], data[11], data[12]];
  if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff) throw bad(`IHDR gives a ${width}×${height} image; expected sides from 1 to 2^31 − 1`);
  if (!(colourType in DEPTHS)) throw bad(`IHDR colour type ${colourType}; expected 0, 2, 3, 4 or 6`);
  if (!DEPTHS[colourType].includes(bitDepth)) throw bad(`IHDR bit depth ${bitDepth} with colour type ${colourType}; expected one of ${DEPTHS[colourType].join(", ")}`);
  if (compression !== 0) throw bad(`IHDR compression method ${compression}; expected 0 (deflate)`);
  if (filter !== 0) throw bad(`IHDR filter method ${filter}; expected 0`);
  if (interlace > 1) throw bad(`IHDR interlace method ${interlace}; expected 0 (none) or 1 (Adam7)`);
  return { width, height, bitDepth, colourType, interlaced: interlace === 1 };
}

/** A pass of the image: its first column and row, steps, and size in pixels (0 when empty). */
interface Pass {
  x0: number;
  y0: number;
  dx: number;
  dy: number;
  w: number;
  h: number;
}

function passesOf(h: PngHeader): Pass[] {
  return (h.interlaced ? ADAM7 : PROGRESSIVE).map(([x0, y0, dx, dy]) => ({
    x0, y0, dx, dy,
    w: h.width > x0 ? Math.ceil((h.width - x0) / dx) : 0,
    h: h.height > y0 ? Math.ceil((h.height - y0) / dy) : 0,
  }));
}

/** Bytes of one row of `w` pixels (without its filter byte). */
function rowBytes(h: PngHeader, w: number): number {
  return Math.ceil((w * CHANNELS[h.colourType] * h.bitDepth) / 8);
}

/** The inflated size of the image data: per non-empty pass, each row's filter byte and its bytes. */
function rawSize(h: PngHeader): number {
  return passesOf(h).reduce((n, p) => (p.w === 0 || p.h === 0 ? n : n + p.h * (1 + rowBytes(h, p.w))), 0);
}

/** Inflates the zlib stream of the image data to exactly `expected` bytes, or throws naming what is wrong. */
function inflateExactly(compressed: Uint8Array, expected: number, bad: (what: string) => DinoRefError): Uint8Array {
  let result: { buffer: Buffer; engine: { bytesWritten: number } };
  try {
    result = inflateSync(compressed, { info: true, maxOutputLength: expected }) as unknown as typeof result;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ERR_BUFFER_TOO_LARGE") throw bad(`the image data inflate to more than the ${expected} bytes the IHDR size needs`);
    if (err.code === "Z_BUF_ERROR") throw bad(`the compressed image data end early (${compressed.length} bytes; zlib: ${err.message})`);
    throw bad(`the compressed image data are corrupt (zlib: ${err.message})`);
  }
  const { buffer, engine } = result;
  if (buffer.length !== expected) throw bad(`the image data inflate to ${buffer.length} bytes; the IHDR size needs ${expected}`);
  if (engine.bytesWritten !== compressed.length) throw bad(`${compressed.length - engine.bytesWritten} bytes of image data follow the end of the compressed stream`);
  return buffer;
}

// Paeth predictor: of a (left), b (up), c (up-left), the one closest to a + b − c
function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Undoes one row's filter in place: row = the filtered bytes, prev = the previous unfiltered row (zeros for the first). */
function unfilterRow(filter: number, row: Uint8Array, prev: Uint8Array, bpp: number): void {
  const n = row.length;
  switch (filter) {
    case 0:
      return;
    case 1: // Sub: x + left
      for (let i = bpp; i < n; i++) row[i] = (row[i] + row[i - bpp]) & 255;
      return;
    case 2: // Up: x + up
      for (let i = 0; i < n; i++) row[i] = (row[i] + prev[i]) & 255;
      return;
    case 3: // Average: x + ⌊(left + up)/2⌋
      for (let i = 0; i < n; i++) row[i] = (row[i] + ((i >= bpp ? row[i - bpp] : 0) + prev[i] >> 1)) & 255;
      return;
    case 4: // Paeth: x + paeth(left, up, up-left)
      for (let i = 0; i < n; i++) row[i] = (row[i] + paeth(i >= bpp ? row[i - bpp] : 0, prev[i], i >= bpp ? prev[i - bpp] : 0)) & 255;
      return;
  }
}

/** Decodes PNG bytes into an 8-bit RGB image; `source` names the file in error messages. */
export function decodePng(bytes: Uint8Array, source: string): Image {
  const bad = (what: string) => new DinoRefError(`${source}: not a readable PNG file: ${what}`);
  const { header: h, palette, compressed } = readChunks(bytes, source);
  const expected = rawSize(h);
  checkMemory(expected + 3 * h.width * h.height, `decoding ${source} (${h.width}×${h.height} px)`);
  const raw = inflateExactly(compressed, expected, bad);

  const channels = CHANNELS[h.colourType];
  const depth = h.bitDepth;
  const bpp = Math.max(1, (channels * depth) >> 3); // bytes per pixel for the filters (at least 1)
  const maxSample = (1 << depth) - 1;
  const entries = palette === null ? 0 : palette.length / 3;
  const img = makeImage(h.width, h.height);
  const out = img.data;
  // sample s of pixel i of an unfiltered row, as stored (before any scaling)
  const sampleAt = (row: Uint8Array, i: number, s: number): number => {
    const k = i * channels + s;
    if (depth === 8) return row[k];
    if (depth === 16) return (row[2 * k] << 8) | row[2 * k + 1];
    const bit = k * depth;
    return (row[bit >> 3] >> (8 - depth - (bit & 7))) & maxSample;
  };
  // a stored sample as 8 bits: exact for 1/2/4 bits (255/max is an integer), round(v·255/65535) for 16
  const to8 = (v: number): number => (depth === 8 ? v : depth === 16 ? Math.floor((v * 255) / 65535 + 0.5) : (v * 255) / maxSample);

  let at = 0;
  passesOf(h).forEach((pass, passIndex) => {
    if (pass.w === 0 || pass.h === 0) return;
    const n = rowBytes(h, pass.w);
    let prev: Uint8Array = new Uint8Array(n);
    for (let y = 0; y < pass.h; y++) {
      const filter = raw[at];
      if (filter > 4) throw bad(`row ${y}${h.interlaced ? ` of interlace pass ${passIndex + 1}` : ""} has filter type ${filter}; expected 0 to 4`);
      const row = raw.subarray(at + 1, at + 1 + n);
      unfilterRow(filter, row, prev, bpp);
      at += 1 + n;
      prev = row;
      const outY = pass.y0 + y * pass.dy;
      for (let x = 0; x < pass.w; x++) {
        const o = 3 * (outY * h.width + pass.x0 + x * pass.dx);
        if (h.colourType === 3) {
          const index = sampleAt(row, x, 0);
          if (index >= entries) throw bad(`pixel (${pass.x0 + x * pass.dx}, ${outY}) uses palette entry ${index}; the PLTE chunk has ${entries}`);
          out[o] = palette![3 * index];
          out[o + 1] = palette![3 * index + 1];
          out[o + 2] = palette![3 * index + 2];
        } else if (channels <= 2) {
          // grey (and grey + alpha: alpha dropped)
          const g = to8(sampleAt(row, x, 0));
          out[o] = g;
          out[o + 1] = g;
          out[o + 2] = g;
        } else {
          // RGB (and RGBA: alpha dropped)
          out[o] = to8(sampleAt(row, x, 0));
          out[o + 1] = to8(sampleAt(row, x, 1));
          out[o + 2] = to8(sampleAt(row, x, 2));
        }
      }
    }
  });
  return img;
}

/** Reads and decodes a PNG file; a file larger than --max-memory is refused before it is read. */
export function readPng(path: string): Image {
  return decodePng(readFileBounded(path), path);
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
