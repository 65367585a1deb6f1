import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { PNG } from "pngjs";
import { afterAll, describe, expect, it } from "vitest";
import { DinoRefError } from "../tensor/errors.js";
import { openImageFolder } from "./imageFolder.js";
import { decodePng, encodePng, readPng } from "./png.js";
import { setLimits } from "../tensor/limits.js";
import fc from "fast-check";
import { chunk, goodPng, hostilePngs, ihdr, IEND, pngOf } from "../../test/hostileFiles.js";

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

// A minimal PNG writer for what pngjs cannot write (palette, 1/2/4-bit, tRNS): chunks with CRC-32 (test/hostileFiles.ts).
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

  it("past half the memory limit keeps paths only and decodes on use: the same images", () => {
    const kept = openImageFolder(root, { skipBad: true, warn: () => {} });
    // 300 bytes: each file and its pixels fit, the folder's 4 images (45 bytes each) pass half of it
    const previous = setLimits({ maxMemory: 300 });
    try {
      const lazy = openImageFolder(root, { skipBad: true, warn: () => {} });
      expect(Array.from({ length: lazy.length }, (_, i) => lazy.image(i))).toEqual(Array.from({ length: kept.length }, (_, i) => kept.image(i)));
    } finally {
      setLimits(previous);
    }
  });

  it("a broken symlink or a symlink loop is a bad entry: an error naming it, or skipped", () => {
    const dir = mkdtempSync(join(tmpdir(), "dino-ref-links-"));
    mkdirSync(join(dir, "a"));
    writeFileSync(join(dir, "a", "ok.png"), rgb(7));
    symlinkSync("/nonexistent.png", join(dir, "a", "broken.png"));
    symlinkSync("loop.png", join(dir, "a", "loop.png"));
    expect(() => openImageFolder(dir)).toThrow(/a\/broken\.png: cannot read \(ENOENT: a broken symlink\)/);
    const warnings: string[] = [];
    const ds = openImageFolder(dir, { skipBad: true, warn: (m) => warnings.push(m) });
    expect(ds.length).toBe(1);
    expect(ds.skipped.map((s) => s.reason.replace(dir, ""))).toEqual(["/a/broken.png: cannot read (ENOENT: a broken symlink)", "/a/loop.png: cannot read (ELOOP: a symlink loop)"]);
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

describe("hostile PNGs fail closed: one error naming the file, the same on every call", () => {
  for (const [name, bytes, why] of hostilePngs()) {
    it(name, () => {
      const messages = new Set<string>();
      for (let i = 0; i < 50; i++) {
        try {
          decodePng(bytes, "/in/hostile.png");
          messages.add("decoded");
        } catch (e) {
          expect(e).toBeInstanceOf(DinoRefError);
          messages.add((e as Error).message);
        }
      }
      expect([...messages]).toHaveLength(1);
      const [message] = messages;
      expect(message).toMatch(/^\/in\/hostile\.png: not a readable PNG file: /);
      expect(message).toMatch(why);
    });
  }

  it("checks the pixel count from IHDR before inflating anything (--max-pixels)", () => {
    const huge = pngOf(ihdr(20000, 20000, 8, 0), chunk("IDAT", deflateSync(Buffer.alloc(10))), IEND);
    expect(() => decodePng(huge, "big.png")).toThrow(/^big\.png: 20000×20000 px \(400,000,000 pixels\) is above the --max-pixels limit of 16,777,216 pixels/);
    const previous = setLimits({ maxPixels: 4e8, maxMemory: 2 ** 40 });
    try {
      // with the limit raised, the (short) data is what is wrong
      expect(() => decodePng(huge, "big.png")).toThrow(/inflate to 10 bytes; the IHDR size needs 400020000/);
    } finally {
      setLimits(previous);
    }
  });

  it("refuses a file larger than --max-memory before reading it", () => {
    const dir = mkdtempSync(join(tmpdir(), "dino-ref-png-"));
    writeFileSync(join(dir, "a.png"), goodPng());
    const previous = setLimits({ maxMemory: 100 });
    try {
      expect(() => readPng(join(dir, "a.png"))).toThrow(/reading \S+a\.png would need about \d+ bytes, above the --max-memory limit of 100 bytes/);
    } finally {
      setLimits(previous);
    }
  });
});

describe("decodePng on valid files: every filter type, interlacing", () => {
  it("agrees with pngjs's reader on valid images of every colour type, depth and filter (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 19 }), fc.integer({ min: 1, max: 9 }), fc.constantFrom(0, 2, 4, 6), fc.constantFrom(8, 16), fc.integer({ min: -1, max: 4 }), fc.integer({ min: 0, max: 2 ** 30 }),
        (w, h, colorType, bitDepth, filterType, seed) => {
          const channels = { 0: 1, 2: 3, 4: 2, 6: 4 }[colorType]!;
          const max = bitDepth === 8 ? 255 : 65535;
          const values = Array.from({ length: w * h * channels }, (_, i) => ((i + seed) * 2654435761) % (max + 1));
          const png = new PNG({ width: w, height: h, colorType: colorType as 0, inputColorType: colorType as 0, bitDepth: bitDepth as 8, inputHasAlpha: colorType >= 4 });
          png.data = bitDepth === 16 ? Buffer.from(Uint16Array.from(values).buffer) : Buffer.from(values);
          const bytes = PNG.sync.write(png, { colorType: colorType as 0, inputColorType: colorType as 0, bitDepth: bitDepth as 8, inputHasAlpha: colorType >= 4, filterType });
          const ours = decodePng(bytes, "x.png");
          const theirs = PNG.sync.read(bytes).data;
          expect(Array.from(ours.data)).toEqual(Array.from({ length: w * h * 3 }, (_, i) => theirs[4 * Math.floor(i / 3) + (i % 3)]));
        },
      ),
      { numRuns: 60 },
    );
  });

  it("decodes an Adam7-interlaced image (every filter type in its passes) to the same pixels as the plain one", () => {
    for (const [w, h] of [[13, 11], [1, 1], [3, 9], [8, 8]]) {
      const pixel = (x: number, y: number, c: number) => (x * 37 + y * 101 + c * 59 + ((x * y) % 13)) & 255;
      const raw: number[] = [];
      let filter = 0;
      for (const [x0, y0, dx, dy] of [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]]) {
        const pw = w > x0 ? Math.ceil((w - x0) / dx) : 0;
        const ph = h > y0 ? Math.ceil((h - y0) / dy) : 0;
        if (pw === 0 || ph === 0) continue;
        let prev = new Array<number>(3 * pw).fill(0);
        for (let j = 0; j < ph; j++) {
          const row = Array.from({ length: 3 * pw }, (_, k) => pixel(x0 + Math.floor(k / 3) * dx, y0 + j * dy, k % 3));
          filter = (filter + 1) % 5;
          raw.push(filter, ...row.map((v, k) => (v - predictor(filter, k >= 3 ? row[k - 3] : 0, prev[k], k >= 3 ? prev[k - 3] : 0)) & 255));
          prev = row;
        }
      }
      const interlaced = pngOf(ihdr(w, h, 8, 2, 1), chunk("IDAT", deflateSync(Buffer.from(raw))), IEND);
      const img = decodePng(interlaced, "adam7.png");
      expect([img.width, img.height]).toEqual([w, h]);
      expect(Array.from(img.data)).toEqual(Array.from({ length: w * h * 3 }, (_, i) => pixel(Math.floor(i / 3) % w, Math.floor(i / 3 / w), i % 3)));
    }
  });
});

/** The PNG filters' predictions from left a, up b, up-left c (the encoder side of unfilterRow). */
function predictor(filter: number, a: number, b: number, c: number): number {
  if (filter === 1) return a;
  if (filter === 2) return b;
  if (filter === 3) return (a + b) >> 1;
  if (filter === 4) {
    const p = a + b - c;
    const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
  }
  return 0;
}
