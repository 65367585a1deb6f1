// The JPEG reader against PIL (fixtures/jpeg: each file with PIL's own decoding, written by
// reference-tests/images/make_jpeg_fixtures.py) and on broken files.
import { readFileSync } from "node:fs";
import jpeg from "jpeg-js";
import { describe, expect, it } from "vitest";
import { decodeJpeg, readJpeg } from "./jpeg.js";
import { readPng } from "./png.js";
import { DinoRefError } from "../tensor/errors.js";

const DIR = "fixtures/jpeg";
const NAMES = ["rgb420", "rgb444", "progressive", "grey", "cmyk"];

/** Largest per-sample difference and the mean absolute difference between two images of one size. */
function difference(a: Uint8Array, b: Uint8Array): { max: number; mean: number } {
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.length };
}

describe("JPEG reader", () => {
  for (const name of NAMES) {
    it(`decodes ${name}.jpg to PIL's RGB image, within a few levels`, () => {
      const ours = readJpeg(`${DIR}/${name}.jpg`);
      const pil = readPng(`${DIR}/${name}.pil.png`);
      expect([ours.width, ours.height]).toEqual([pil.width, pil.height]);
      const d = difference(ours.data, pil.data);
      // libjpeg (PIL) and jpeg-js differ in the inverse DCT's rounding (full-resolution chroma:
      // measured max 3 levels, mean 0.5) and, with subsampled chroma (4:2:0, most photos), in the
      // upsampling: libjpeg interpolates the chroma between samples ("fancy upsampling"), jpeg-js
      // repeats the nearest sample, so colours differ at sharp colour edges (measured on this
      // pattern: max 58 and 74 levels, mean 5.4); the bounds leave room above those measurements
      const full = name === "rgb444" || name === "grey" || name === "cmyk";
      expect(d.max, JSON.stringify(d)).toBeLessThanOrEqual(full ? 4 : 96);
      expect(d.mean, JSON.stringify(d)).toBeLessThan(full ? 1 : 8);
      if (name === "grey") for (let p = 0; p < ours.width * ours.height; p++) expect(ours.data[3 * p]).toBe(ours.data[3 * p + 2]);
    });
  }

  const good = readFileSync(`${DIR}/rgb420.jpg`);
  const broken: [string, Uint8Array, RegExp][] = [
    ["an empty file", new Uint8Array(0), /start-of-image marker/],
    ["a PNG named .jpg", readFileSync(`${DIR}/rgb420.pil.png`), /start-of-image marker/],
    ["a file cut in half", good.subarray(0, good.length >> 1), /truncated: no end-of-image marker/],
    ["a file cut in half with its end marker put back", Uint8Array.from([...good.subarray(0, good.length >> 1), 0xff, 0xd9]), /not a readable JPEG/],
    ["garbage between the markers", Uint8Array.from([0xff, 0xd8, ...new Array<number>(64).fill(0x55), 0xff, 0xd9]), /not a readable JPEG/],
  ];
  for (const [what, bytes, message] of broken) {
    it(`refuses ${what}, naming the file`, () => {
      expect(() => decodeJpeg(bytes, "x/broken.jpg")).toThrow(DinoRefError);
      expect(() => decodeJpeg(bytes, "x/broken.jpg")).toThrow(message);
      expect(() => decodeJpeg(bytes, "x/broken.jpg")).toThrow(/^x\/broken\.jpg: /);
    });
  }

  it("names a file it cannot read", () => {
    expect(() => readJpeg("no/such/file.jpg")).toThrow(/^no\/such\/file\.jpg: cannot read file \(ENOENT\)/);
  });

  it("refuses an image above the size limit before decoding it", () => {
    // a 12,000 × 10,000 header (120 MP): the --max-pixels limit stops it, read from the frame header
    const big = jpeg.encode({ width: 8, height: 8, data: new Uint8Array(8 * 8 * 4) }, 50).data;
    const b = Uint8Array.from(big);
    // SOF0: FF C0, length, precision, height (2 bytes), width (2 bytes)
    const sof = b.findIndex((x, i) => x === 0xff && b[i + 1] === 0xc0);
    new DataView(b.buffer).setUint16(sof + 5, 10_000);
    new DataView(b.buffer).setUint16(sof + 7, 12_000);
    expect(() => decodeJpeg(b, "big.jpg")).toThrow(/^big\.jpg: 12000×10000 px \(120,000,000 pixels\) is above the --max-pixels limit of 16,777,216 pixels/);
  });
});
