import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { classInterleaved, labelsOf } from "./dataset.js";
import { luma } from "./image.js";
import { loadMnist } from "./mnist.js";
import { loadMnistClutter, MNIST_CLUTTER_DEFAULTS, renderMnistClutter } from "./mnistClutter.js";
import { openMaskFolder, writeMaskFolder } from "./maskFolder.js";
import { encodePng } from "./png.js";

describe("mnist-clutter", () => {
  const c = loadMnistClutter();

  it("has the MNIST split and labels; image and mask are a pure function of (seed, index)", () => {
    const m = loadMnist();
    expect(c.testIndices).toEqual(m.testIndices);
    expect(labelsOf(c.test)).toEqual(labelsOf(m.test));
    const img = c.test.image(17);
    const mask = c.test.mask(17);
    expect([img.width, img.height, mask.width, mask.height, mask.channels]).toEqual([32, 32, 32, 32, 1]);
    const again = loadMnistClutter();
    expect(again.test.image(17)).toEqual(img);
    expect(again.test.mask(17)).toEqual(mask);
    const r = renderMnistClutter(c.testIndices[17], c.testIndices, 0);
    expect({ image: r.image, mask: r.mask }).toEqual({ image: img, mask });
    // drawing the digit at the box it was drawn at anyway changes nothing; another box moves only the digit
    expect(renderMnistClutter(c.testIndices[17], c.testIndices, 0, undefined, r.box)).toEqual(r);
    const moved = renderMnistClutter(c.testIndices[17], c.testIndices, 0, undefined, { ...r.box, x: r.box.x === 0 ? 1 : 0 });
    expect(moved.image.data).not.toEqual(img.data);
    expect(moved.box.side).toBe(r.box.side);
    expect(() => renderMnistClutter(c.testIndices[17], c.testIndices, 0, undefined, { side: 30, x: 5, y: 0 })).toThrow(/does not fit/);
    expect(loadMnistClutter({ seed: 1 }).test.image(17).data).not.toEqual(img.data);
    expect(c.test.image(18).data).not.toEqual(img.data);
  });

  it("marks the digit's pixels: 0/255, a few percent of the canvas, never touching nothing", () => {
    for (let i = 0; i < 50; i++) {
      const mask = c.train.mask(i).data;
      expect(mask.every((v) => v === 0 || v === 255)).toBe(true);
      const share = mask.filter((v) => v === 255).length / mask.length;
      expect(share).toBeGreaterThan(0.01);
      expect(share).toBeLessThan(0.3);
    }
  });

  it("without clutter, the mask is where the digit's alpha is >= 128/255: pixels at least half-way from the base colour to the ink", () => {
    const plain = { ...MNIST_CLUTTER_DEFAULTS, waveAmplitude: 0, blobs: 0, fragments: 0, noise: 0, contrast: [120, 120] as const };
    for (const g of [0, 1234, 5678, 9999]) {
      const { image, mask } = renderMnistClutter(g, [], 3, plain);
      const L = Array.from({ length: 32 * 32 }, (_, p) => luma(image.data[3 * p], image.data[3 * p + 1], image.data[3 * p + 2]));
      // the base colour is the most common one; the ink is the farthest from it
      const counts = new Map<number, number>();
      for (const v of L) counts.set(v, (counts.get(v) ?? 0) + 1);
      const base = [...counts].sort((a, b) => b[1] - a[1])[0][0];
      const far = Math.max(...L.map((v) => Math.abs(v - base)));
      expect(far).toBeGreaterThan(60);
      L.forEach((v, p) => {
        const t = Math.abs(v - base) / far;
        if (mask.data[p] === 255) expect(t).toBeGreaterThan(0.45);
        else expect(t).toBeLessThan(0.55);
      });
    }
  });

  it("makes the digit the salient object: on the mask, pixels are far further from the background's median luma than off it", () => {
    // ratio = mean |L − median background L| on the mask / the same off the mask, for one image
    const ratio = (ds: typeof c.train, i: number) => {
      const { data } = ds.image(i);
      const mask = ds.mask(i).data;
      const L = Array.from({ length: 32 * 32 }, (_, p) => luma(data[3 * p], data[3 * p + 1], data[3 * p + 2]));
      const off = L.filter((_, p) => mask[p] === 0).sort((a, b) => a - b);
      const median = off[off.length >> 1];
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      return mean(L.filter((_, p) => mask[p] === 255).map((v) => Math.abs(v - median))) / mean(off.map((v) => Math.abs(v - median)));
    };
    for (let i = 0; i < 50; i++) expect(ratio(c.train, i)).toBeGreaterThan(3);
    // clutter at the digit's contrast (the first version of this data set) fails the same check
    const loud = loadMnistClutter({ config: { clutterContrast: MNIST_CLUTTER_DEFAULTS.contrast, waveAmplitude: 35 } });
    expect(Array.from({ length: 50 }, (_, i) => ratio(loud.train, i)).filter((r) => r <= 3).length).toBeGreaterThan(5);
  });

  it("rejects a config that cannot work, naming the setting", () => {
    expect(() => loadMnistClutter({ config: { digitScale: [0.6, 1.3] } })).toThrow(/mnist-clutter digitScale \[0.6, 1.3\]/);
    expect(() => loadMnistClutter({ config: { fragments: -1 } })).toThrow(/fragments -1/);
    expect(() => loadMnistClutter({ config: { clutterContrast: [50, 20] } })).toThrow(/mnist-clutter clutterContrast \[50, 20\]/);
  });
});

describe("classInterleaved", () => {
  it("takes the classes in turn, each in index order, and stops at count", () => {
    const ds = { length: 7, classes: ["a", "b", "c"], label: (i: number) => [0, 0, 0, 1, 2, 2, 0][i], image: () => null!, describe: String };
    expect(Array.from(classInterleaved(ds))).toEqual([0, 3, 4, 1, 5, 2, 6]);
    expect(Array.from(classInterleaved(ds, 4))).toEqual([0, 3, 4, 1]);
  });
});

describe("mask folders", () => {
  const { test } = loadMnistClutter();
  const indices = classInterleaved(test, 12);

  it("read back exactly what was written: images, masks, labels", () => {
    const dir = mkdtempSync(join(tmpdir(), "dino-ref-masks-"));
    writeMaskFolder(dir, test, indices, { dataset: "mnist-clutter" });
    const back = openMaskFolder(dir);
    expect(back.length).toBe(12);
    // the folder lists class by class, file names in index order: the same images
    const order = Array.from(indices).sort((a, b) => test.label(a) - test.label(b) || a - b);
    order.forEach((i, k) => {
      expect(back.label(k)).toBe(test.label(i));
      expect(back.image(k)).toEqual(test.image(i));
      expect(back.mask(k)).toEqual(test.mask(i));
    });
  });

  it("names a missing mask, a mask of another size and a file that is not a PNG", () => {
    const dir = mkdtempSync(join(tmpdir(), "dino-ref-masks-"));
    const [first] = writeMaskFolder(dir, test, indices.subarray(0, 3), {});
    const maskPath = first.replace("/images/", "/masks/");
    writeFileSync(maskPath, encodePng({ width: 8, height: 8, channels: 1, data: new Uint8Array(64) }));
    expect(() => openMaskFolder(dir)).toThrow(/masks\/0\/\d+\.png: the mask is 8×8 px but its image .* is 32×32 px/);
    writeFileSync(maskPath, "not a png");
    expect(() => openMaskFolder(dir)).toThrow(/masks\/0\/\d+\.png: not a readable PNG file/);
    rmSync(maskPath);
    expect(() => openMaskFolder(dir)).toThrow(/masks\/0\/\d+\.png: missing; every image needs a mask/);
    writeFileSync(first, "GIF89a");
    expect(() => openMaskFolder(dir)).toThrow(/images\/0\/\d+\.png: not a readable PNG file/);
    expect(() => openMaskFolder(join(dir, "images"))).toThrow(/no images\/ folder/);
  });
});
