import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DinoRefError } from "../tensor/errors.js";
import { cropGridImage, saveCropGrid } from "./cropGrid.js";
import type { ImageDataset } from "./dataset.js";
import { makeImage } from "./image.js";
import { MultiCropLoader, resolutionGroups } from "./loader.js";
import { imageKey, multiCrop, multiCropConfig } from "./multiCrop.js";
import { decodePng } from "./png.js";

/** N distinct small images, image i has label i mod 3. */
function toyDataset(N: number): ImageDataset {
  const images = Array.from({ length: N }, (_, i) => makeImage(12, 10, Uint8Array.from({ length: 360 }, (_, k) => (i * 37 + k * 11) % 256)));
  return { length: N, classes: ["a", "b", "c"], image: (i) => images[i], label: (i) => i % 3, describe: (i) => `toy #${i}` };
}

const cfg = multiCropConfig({ globalSize: 8, localSize: 4, localCount: 3 });

describe("MultiCropLoader", () => {
  const ds = toyDataset(11);
  const loader = new MultiCropLoader(ds, cfg, 5, 3);

  it("shuffles per epoch: differently between epochs, identically across runs; every image once (minus drop_last)", () => {
    expect(loader.batchesPerEpoch).toBe(3);
    expect(Array.from(loader.order(0))).not.toEqual(Array.from(loader.order(1)));
    expect(new MultiCropLoader(ds, cfg, 5, 3).order(1)).toEqual(loader.order(1));
    for (const epoch of [0, 1, 2]) {
      const seen = [...loader.epoch(epoch)].flatMap((b) => Array.from(b.indices));
      expect(seen.length).toBe(9);
      expect(new Set(seen).size).toBe(9);
      expect(seen).toEqual(Array.from(loader.order(epoch).subarray(0, 9)));
    }
  });

  it("assembles crops crop-major: crops[c] = [B, 3, s_c, s_c], image k's crop c at offset k·3·s_c²", () => {
    const b = loader.batch(2, 1);
    expect(b.sizes).toEqual([8, 8, 4, 4, 4]);
    expect(b.crops.map((c) => c.length)).toEqual([3 * 64 * 3, 3 * 64 * 3, 3 * 16 * 3, 3 * 16 * 3, 3 * 16 * 3]);
    expect(Array.from(b.labels)).toEqual(Array.from(b.indices, (i) => i % 3));
    b.indices.forEach((i, k) => {
      const own = multiCrop(ds.image(i), cfg, 5, imageKey(2, 11, i));
      [...own.global, ...own.local].forEach((crop, c) => {
        const n = crop.length;
        expect(b.crops[c].subarray(k * n, (k + 1) * n)).toEqual(crop);
      });
    });
  });

  it("gives an image the same crops whatever the batch size and batch composition", () => {
    const other = new MultiCropLoader(ds, cfg, 5, 5);
    const cropsOf = (l: MultiCropLoader, epoch: number) => {
      const m = new Map<number, Float32Array>();
      for (const b of l.epoch(epoch)) b.indices.forEach((i, k) => m.set(i, b.crops[3].slice(k * 48, (k + 1) * 48)));
      return m;
    };
    const a = cropsOf(loader, 4);
    const c = cropsOf(other, 4);
    let shared = 0;
    for (const [i, crop] of c) if (a.has(i)) (shared++, expect(crop).toEqual(a.get(i)));
    expect(shared).toBeGreaterThan(5);
  });

  it("groups consecutive equal sizes as MultiCropWrapper does", () => {
    expect(resolutionGroups([224, 224, 96, 96, 96])).toEqual([{ size: 224, start: 0, count: 2 }, { size: 96, start: 2, count: 3 }]);
  });

  it("rejects a batch larger than the data set and out-of-range batches", () => {
    expect(() => new MultiCropLoader(ds, cfg, 0, 12)).toThrow(DinoRefError);
    expect(() => loader.batch(0, 3)).toThrow(/batch 3; expected an integer in \[0, 3\)/);
  });
});

describe("saveCropGrid", () => {
  it("writes a PNG of the crops that decodes, with the crops' pixels in it", () => {
    const dir = mkdtempSync(join(tmpdir(), "dino-ref-grid-"));
    try {
      const ds = toyDataset(2);
      const rows = [0, 1].map((i) => multiCrop(ds.image(i), cfg, 0, i));
      const path = join(dir, "grid.png");
      saveCropGrid(path, rows, { zoom: 2, gap: 3 });
      const img = decodePng(readFileSync(path), path);
      // 2 globals of 16 px + 3 locals of 8 px + 6 gaps of 3; 2 rows of 16 + 3 gaps
      expect([img.width, img.height]).toEqual([2 * 16 + 3 * 8 + 6 * 3, 2 * 16 + 3 * 3]);
      expect(img).toEqual(cropGridImage(rows, { zoom: 2, gap: 3 }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
