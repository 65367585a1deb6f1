import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { PNG } from "pngjs";
import { afterAll, describe, expect, it } from "vitest";
import { DinoRefError } from "../tensor/errors.js";
import { openImageFolder } from "./imageFolder.js";
import { decodePng, encodePng, readPng } from "./png.js";

const W = 5;
const H = 3; // awkward sizes on purpose

/** Deterministic sample values in [0, max]. */
const sample = (i: number, max: number) => (i * 2654435761) % (max + 1);

/** Encodes with pngjs: `channels` samples per pixel in the input (colour type given), at `bitDepth`. */
function pngjsEncode(colorType: 0 | 2 | 4 | 6, bitDepth: 8 | 16, values: number[]): Buffer {
  const png = new PNG({ width: W, height: H, colorType, inputColorType: colorType, bitDepth, inputHasAlpha: colorType >= 4 });
  png.data = bitDepth === 16 ? Buffer.from(Uint16Array.from(values).buffer) : Buffer.from(values);
  return PNG.sync.write(png, { colorType, inputColorType: colorType, bitDepth, inputHasAlpha: colorType >= 4 });
}

// A minimal PNG writer for what pngjs cannot write (palette, 1/2/4-bit, tRNS): chunks with CRC-32.
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "latin1");
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}
/** A PNG from rows of samples packed at `bitDepth` (≤ 8), filter type 0 on every row. */
function handPng(colorType: number, bitDepth: number, samplesPerPixel: number, rows: number[][], extra: Buffer[] = []): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(rows[0].length / samplesPerPixel, 0);
  ihdr.writeUInt32BE(rows.length, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colorType;
  const raw: number[] = [];
  for (const row of rows) {
    raw.push(0);
    const bytes = new Uint8Array(Math.ceil((row.length * bitDepth) / 8));
    row.forEach((v, i) => (bytes[Math.floor((i * bitDepth) / 8)] |= v << (8 - bitDepth - ((i * bitDepth) % 8))));
    raw.push(...bytes);
  }
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([sig, chunk("IHDR", ihdr), ...extra, chunk("IDAT", deflateSync(Buffer.from(raw))), chunk("IEND", new Uint8Array(0))]);
}

describe("decodePng: every colour type and bit depth → 8-bit RGB, alpha dropped", () => {
  const n = W * H;
  const to8 = (v: number) => Math.floor((v * 255) / 65535 + 0.5);
  for (const depth of [8, 16] as const) {
    const max = depth === 8 ? 255 : 65535;
    const cv = (v: number) => (depth === 8 ? v : to8(v));
    it(`grey ${depth}-bit`, () => {
      const v = Array.from({ length: n }, (_, i) => sample(i, max));
      const img = decodePng(pngjsEncode(0, depth, v), "grey.png");
      expect([img.width, img.height, img.channels]).toEqual([W, H, 3]);
      expect(Array.from(img.data)).toEqual(v.flatMap((x) => [cv(x), cv(x), cv(x)]));
    });
    it(`grey+alpha ${depth}-bit`, () => {
      const v = Array.from({ length: 2 * n }, (_, i) => sample(i, max));
      const img = decodePng(pngjsEncode(4, depth, v), "ga.png");
      expect(Array.from(img.data)).toEqual(Array.from({ length: n }, (_, p) => [cv(v[2 * p]), cv(v[2 * p]), cv(v[2 * p])]).flat());
    });
    it(`RGB ${depth}-bit`, () => {
      const v = Array.from({ length: 3 * n }, (_, i) => sample(i, max));
      expect(Array.from(decodePng(pngjsEncode(2, depth, v), "rgb.png").data)).toEqual(v.map(cv));
    });
    it(`RGBA ${depth}-bit (alpha dropped, colour kept even where alpha is 0)`, () => {
      const v = Array.from({ length: 4 * n }, (_, i) => (i % 4 === 3 ? (i % 8 === 3 ? 0 : max) : sample(i, max)));
      const img = decodePng(pngjsEncode(6, depth, v), "rgba.png");
      expect(Array.from(img.data)).toEqual(v.filter((_, i) => i % 4 !== 3).map(cv));
    });
  }

  for (const depth of [1, 2, 4]) {
    it(`grey ${depth}-bit (hand-made file)`, () => {
      const max = (1 << depth) - 1;
      const rows = Array.from({ length: H }, (_, y) => Array.from({ length: W }, (_, x) => sample(y * W + x, max)));
      const img = decodePng(handPng(0, depth, 1, rows), "low.png");
      const g = rows.flat().map((v) => Math.round((v * 255) / max));
      expect(Array.from(img.data)).toEqual(g.flatMap((x) => [x, x, x]));
    });
  }

  it("palette 4-bit and 8-bit, with tRNS (palette colours kept, alpha dropped)", () => {
    const palette = [
      [10, 200, 77],
      [255, 0, 0],
      [0, 0, 255],
      [1, 2, 3],
    ];
    const plte = chunk("PLTE", Uint8Array.from(palette.flat()));
    const trns = chunk("tRNS", Uint8Array.from([0, 128]));
    for (const depth of [4, 8]) {
      const rows = Array.from({ length: H }, (_, y) => Array.from({ length: W }, (_, x) => (y * W + x) % 4));
      const img = decodePng(handPng(3, depth, 1, rows, [plte, trns]), "pal.png");
      expect(Array.from(img.data)).toEqual(rows.flat().flatMap((i) => palette[i]));
    }
  });

  it("RGB with a tRNS colour key keeps that colour (as PIL's convert('RGB'))", () => {
    const rows = [[10, 20, 30, 40, 50, 60]];
    const trns = chunk("tRNS", Uint8Array.from([0, 10, 0, 20, 0, 30]));
    expect(Array.from(decodePng(handPng(2, 8, 3, rows, [trns]), "key.png").data)).toEqual(rows[0]);
  });

  it("encodePng round-trips RGB and grey images", () => {
    const rgb = { width: W, height: H, channels: 3 as const, data: Uint8Array.from({ length: 3 * n }, (_, i) => sample(i, 255)) };
    expect(decodePng(encodePng(rgb), "x")).toEqual(rgb);
    const grey = { width: W, height: H, channels: 1 as const, data: Uint8Array.from({ length: n }, (_, i) => sample(i, 255)) };
    expect(Array.from(decodePng(encodePng(grey), "x").data)).toEqual(Array.from(grey.data).flatMap((v) => [v, v, v]));
  });
});

describe("bad files → DinoRefError naming the file", () => {
  const good = pngjsEncode(2, 8, Array.from({ length: 3 * W * H }, (_, i) => i));
  const cases: [string, Uint8Array, RegExp][] = [
    ["not a PNG", Buffer.from("GIF89a this is not a png file"), /signature/],
    ["empty", new Uint8Array(0), /signature/],
    ["truncated in the middle", good.subarray(0, Math.floor(good.length / 2)), /truncated/],
    ["truncated before IEND", good.subarray(0, good.length - 12), /truncated|IEND/],
    ["corrupt IDAT (bad CRC)", (() => {
      const b = Buffer.from(good);
      b[b.indexOf("IDAT") + 6] ^= 0xff;
      return b;
    })(), /crc|CRC|readable/],
  ];
  for (const [name, bytes, why] of cases) {
    it(name, () => {
      const call = () => decodePng(bytes, "/data/cats/bad.png");
      expect(call).toThrow(DinoRefError);
      expect(call).toThrow(/^\/data\/cats\/bad\.png: /);
      expect(call).toThrow(why);
    });
  }
  it("a missing file", () => {
    expect(() => readPng("/nonexistent/x.png")).toThrow(/\/nonexistent\/x\.png: cannot read file \(ENOENT\)/);
  });
});

describe("openImageFolder", () => {
  const root = mkdtempSync(join(tmpdir(), "dino-ref-folder-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const rgb = (v: number) => pngjsEncode(2, 8, Array.from({ length: 3 * W * H }, () => v));
  mkdirSync(join(root, "dogs"));
  mkdirSync(join(root, "cats"));
  mkdirSync(join(root, "birds"));
  writeFileSync(join(root, "dogs", "b.png"), rgb(2));
  writeFileSync(join(root, "dogs", "a.png"), rgb(1));
  writeFileSync(join(root, "cats", "z.PNG"), rgb(3));
  writeFileSync(join(root, "cats", "broken.png"), rgb(4).subarray(0, 40));
  writeFileSync(join(root, "cats", "photo.jpg"), Buffer.from([0xff, 0xd8, 0xff]));
  writeFileSync(join(root, "cats", "notes.txt"), "ignored: not an image extension");
  writeFileSync(join(root, "birds", "c.png"), rgb(5));

  it("raises on the first bad file, naming it", () => {
    expect(() => openImageFolder(root)).toThrow(DinoRefError);
    expect(() => openImageFolder(root)).toThrow(/cats\/broken\.png: not a readable PNG file: truncated/);
  });

  it("skipBad: warns, counts the bad files, keeps sorted classes and files", () => {
    for (const mode of ["memory", "lazy"] as const) {
      const warnings: string[] = [];
      const ds = openImageFolder(root, { skipBad: true, mode, warn: (m) => warnings.push(m) });
      expect(ds.classes).toEqual(["birds", "cats", "dogs"]);
      expect(ds.skipped.map((s) => s.path.slice(root.length + 1))).toEqual(["cats/broken.png", "cats/photo.jpg"]);
      expect(warnings.length).toBe(3);
      expect(ds.paths.map((p) => p.slice(root.length + 1))).toEqual(["birds/c.png", "cats/z.PNG", "dogs/a.png", "dogs/b.png"]);
      expect(Array.from({ length: ds.length }, (_, i) => ds.label(i))).toEqual([0, 1, 2, 2]);
      expect(Array.from({ length: ds.length }, (_, i) => ds.image(i).data[0])).toEqual([5, 3, 1, 2]);
    }
  });
});
