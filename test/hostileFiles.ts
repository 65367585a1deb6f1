// Builders for the malformed files of the hostile-input tests: PNGs chunk by chunk (valid CRCs
// around wrong contents), safetensors files with a hand-written header, and image folders.
import { crc32, deflateSync } from "node:zlib";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** One PNG chunk: length, type, data and its CRC-32 (so only what is inside can be wrong). */
export function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "latin1");
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** An IHDR chunk (compression 0, filter 0). */
export function ihdr(width: number, height: number, bitDepth = 8, colourType = 2, interlace = 0): Buffer {
  const b = Buffer.alloc(13);
  b.writeUInt32BE(width, 0);
  b.writeUInt32BE(height, 4);
  b[8] = bitDepth;
  b[9] = colourType;
  b[12] = interlace;
  return chunk("IHDR", b);
}

export const IEND = chunk("IEND", new Uint8Array(0));

/** The signature followed by `chunks`. */
export function pngOf(...chunks: Buffer[]): Buffer {
  return Buffer.concat([SIGNATURE, ...chunks]);
}

/** Unfiltered rows of an 8-bit image with `bpp` bytes per pixel, each row led by `filter`: deterministic bytes. */
export function rawRows(width: number, height: number, bpp: number, filter = 0): Buffer {
  const stride = 1 + width * bpp;
  const r = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    r[y * stride] = filter;
    for (let i = 0; i < width * bpp; i++) r[y * stride + 1 + i] = (i * 7 + y * 13) & 255;
  }
  return r;
}

/** A valid W × H 8-bit RGB PNG. */
export function goodPng(width = 16, height = 16): Buffer {
  return pngOf(ihdr(width, height), chunk("IDAT", deflateSync(rawRows(width, height, 3))), IEND);
}

/** PNGs that must not decode, each with what the error should say. */
export function hostilePngs(): [name: string, bytes: Buffer, why: RegExp][] {
  const [w, h] = [16, 16];
  const good = deflateSync(rawRows(w, h, 3));
  const idat = (data: Uint8Array) => pngOf(ihdr(w, h), chunk("IDAT", data), IEND);
  return [
    ["empty IDAT", idat(new Uint8Array(0)), /compressed image data end early/],
    ["IDAT cut short", idat(good.subarray(0, good.length >> 1)), /compressed image data end early/],
    ["garbage IDAT", idat(Uint8Array.from({ length: 300 }, (_, i) => (i * 73 + 11) & 255)), /compressed image data are corrupt/],
    ["two IHDR chunks", pngOf(ihdr(w, h), ihdr(8, 8), chunk("IDAT", good), IEND), /a second IHDR chunk/],
    ["a bad filter byte", idat(deflateSync(rawRows(w, h, 3, 9))), /row 0 has filter type 9/],
    ["data past the image", idat(deflateSync(Buffer.concat([rawRows(w, h, 3), Buffer.alloc(50)]))), /inflate to more than/],
    ["data short of the image", idat(deflateSync(rawRows(w, h - 1, 3))), /inflate to \d+ bytes; the IHDR size needs/],
    ["bytes after the zlib stream", idat(Buffer.concat([good, Buffer.from("junk")])), /4 bytes of image data follow the end of the compressed stream/],
    ["no IDAT", pngOf(ihdr(w, h), IEND), /no image data/],
    ["IDAT chunks apart", pngOf(ihdr(w, h), chunk("IDAT", good.subarray(0, 10)), chunk("tEXt", Buffer.from("a\0b")), chunk("IDAT", good.subarray(10)), IEND), /IDAT chunks are not consecutive/],
    ["PLTE after IDAT", pngOf(ihdr(w, h), chunk("IDAT", good), chunk("PLTE", Buffer.alloc(6)), IEND), /PLTE chunk at byte \d+ comes after the image data/],
    ["palette index out of range", pngOf(ihdr(2, 1, 8, 3), chunk("PLTE", Buffer.from([1, 2, 3])), chunk("IDAT", deflateSync(Buffer.from([0, 0, 5]))), IEND), /uses palette entry 5; the PLTE chunk has 1/],
    ["palette image without PLTE", pngOf(ihdr(2, 1, 8, 3), chunk("IDAT", deflateSync(Buffer.from([0, 0, 0]))), IEND), /without a PLTE chunk/],
    ["unknown critical chunk", pngOf(ihdr(w, h), chunk("ABCD", Buffer.alloc(1)), chunk("IDAT", good), IEND), /unknown critical chunk ABCD/],
    ["bit depth 16 for a palette", pngOf(ihdr(w, h, 16, 3), chunk("IDAT", good), IEND), /bit depth 16 with colour type 3/],
    ["width 0", pngOf(ihdr(0, h), chunk("IDAT", good), IEND), /IHDR gives a 0×16 image/],
    ["a wrong CRC", (() => {
      const b = Buffer.from(idat(good));
      b[b.indexOf("IDAT") + 6] ^= 0xff;
      return b;
    })(), /chunk IDAT at byte 33 has CRC/],
  ];
}

/** A safetensors file with the header text exactly as given (duplicate keys, deep nesting, ...). */
export function rawSafetensors(header: string, data: Uint8Array = new Uint8Array(0)): Buffer {
  const h = Buffer.from(header, "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([len, h, data]);
}

/** `[[[...]]]` nested `depth` deep. */
export function nested(depth: number): string {
  return "[".repeat(depth) + "]".repeat(depth);
}

/** root/<class>/<i>.png: `perClass` small RGB images per class, each class a different pattern. */
export function writeImageFolder(root: string, classes: string[], perClass: number, size = 16): void {
  classes.forEach((cls, c) => {
    mkdirSync(join(root, cls), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const raw = Buffer.alloc(size * (1 + 3 * size));
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < 3 * size; x++) raw[y * (1 + 3 * size) + 1 + x] = ((c === 0 ? x : y) * 16 + i * 5 + ((x * y) % 7)) & 255;
      }
      writeFileSync(join(root, cls, `${i}.png`), pngOf(ihdr(size, size), chunk("IDAT", deflateSync(raw)), IEND));
    }
  });
}
