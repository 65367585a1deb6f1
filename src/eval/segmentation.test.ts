import { describe, expect, it } from "vitest";
import { wasmBackend } from "../kernels/backend.js";
import { ParamStore } from "../model/params.js";
import { vitConfig } from "../model/vitConfig.js";
import { vitParamSpecs, initVit } from "../model/vitParams.js";
import { Rng, STREAM } from "../tensor/rng.js";
import type { MaskedImageDataset } from "../data/dataset.js";
import { type GreyImage, type Image, makeImage } from "../data/image.js";
import { clsAttention } from "./attentionMaps.js";
import { attentionMasks, cropMask, referenceScores, segmentationScores } from "./segmentation.js";
import { jaccard, patchMaskToPixels } from "./jaccard.js";
import { scoredMask, segmentationFigure } from "./segmentationFigure.js";

const cfg = vitConfig({ patchSize: 4, embedDim: 16, depth: 2, numHeads: 2, mlpRatio: 2, imgSize: 32 });
const backbone = ParamStore.create(wasmBackend, vitParamSpecs(cfg), { grads: false });
initVit(backbone, cfg, new Rng(5, STREAM.init), "backbone.");

/** Random 34×34 images (2 px beyond the patch grid); masks set by `truth` on the top-left 32×32, junk in the border. */
function dataset(n: number, truth: (img: Image) => Uint8Array): MaskedImageDataset {
  const rng = new Rng(11, 9);
  const images = Array.from({ length: n }, () => makeImage(34, 34, Uint8Array.from({ length: 34 * 34 * 3 }, () => rng.int(256))));
  const masks: GreyImage[] = images.map((img) => {
    const inner = truth(img);
    const data = Uint8Array.from({ length: 34 * 34 }, (_, q) => (q % 34 < 32 && q < 32 * 34 ? inner[Math.floor(q / 34) * 32 + (q % 34)] * 255 : 255 * (q % 2)));
    return { width: 34, height: 34, channels: 1, data };
  });
  return { length: n, classes: ["x"], image: (i) => images[i], mask: (i) => masks[i], label: () => 0, describe: (i) => `image ${i}` };
}

describe("segmentationScores", () => {
  it("scores 1 for a head whose own upsampled mask is the truth, cropping images and masks to the patch grid", () => {
    const truthOfHead = (h: number) => (img: Image) => {
      const maps = clsAttention(wasmBackend, backbone, cfg, img, "t");
      return patchMaskToPixels(attentionMasks(maps, 0.6).heads.subarray(h * 64, (h + 1) * 64), 8, 8, 4);
    };
    for (const h of [0, 1]) {
      const ds = dataset(3, truthOfHead(h));
      const s = segmentationScores(wasmBackend, backbone, cfg, ds, [0, 1, 2], 0.6);
      expect(s.perHead[h]).toBe(1);
      expect(s.perHead[1 - h]).toBeLessThan(1);
      expect([s.bestHead, s.best]).toEqual([h, 1]);
      expect(s.cropped).toHaveLength(3);
      expect(s.cropped[0]).toMatch(/image 0: cropped from 34×34 to 32×32 px .*\(its mask likewise\)/);
      for (let k = 0; k < 3; k++) expect(s.perImage[k * 3 + h]).toBe(1);
      // chance: image k's mask against image k+1's truth (= its mask), cyclically
      const own = [0, 1, 2].map((i) => truthOfHead(h)(ds.image(i)));
      expect(s.chance).toBeCloseTo([0, 1, 2].reduce((acc, k) => acc + jaccard(own[k], own[(k + 1) % 3]), 0) / 3, 12);
      expect(s.chance).toBeLessThan(1);
    }
  });

  it("scores the head-mean map's mask in the last column, and rejects a mask of another size than its image", () => {
    const ds = dataset(2, (img) => {
      const maps = clsAttention(wasmBackend, backbone, cfg, img, "t");
      return patchMaskToPixels(attentionMasks(maps, 0.6).mean, 8, 8, 4);
    });
    const s = segmentationScores(wasmBackend, backbone, cfg, ds, [0, 1], 0.6);
    expect(s.meanAttention).toBe(1);
    const bad: MaskedImageDataset = { ...ds, mask: () => ({ width: 30, height: 34, channels: 1, data: new Uint8Array(30 * 34) }) };
    expect(() => segmentationScores(wasmBackend, backbone, cfg, bad, [0], 0.6)).toThrow(/image 0: mask 30×34 px, image 34×34 px; expected the same size/);
  });

  it("references: the whole image scores the object's share of it; a patch-aligned truth can be matched exactly", () => {
    const block = () => patchMaskToPixels(Uint8Array.from({ length: 64 }, (_, k) => (k < 16 ? 1 : 0)), 8, 8, 4);
    const r = referenceScores(dataset(2, block), [0, 1], 4);
    expect(r.bestPatches).toBe(1);
    expect(r.wholeImage).toBe(0.25);
  });
});

describe("cropMask and the figure", () => {
  it("crops top-left and tiles rows of [image, truth, heat map, scored mask] per model", () => {
    const m: GreyImage = { width: 3, height: 2, channels: 1, data: Uint8Array.of(1, 2, 3, 4, 5, 6) };
    expect(cropMask(m, 2, 2).data).toEqual(Uint8Array.of(1, 2, 4, 5));
    const ds = dataset(2, () => new Uint8Array(32 * 32));
    const rows = [0, 1].map((i) => {
      const maps = clsAttention(wasmBackend, backbone, cfg, ds.image(i), "t");
      return { image: maps.image, truth: cropMask(ds.mask(i), 32, 32), models: [{ maps, head: 0 }, { maps, head: 1 }] };
    });
    const fig = segmentationFigure(rows, 4, 0.6, 2);
    // 6 tiles of 64 px with 4-px gaps, 2 rows
    expect([fig.width, fig.height]).toEqual([6 * 64 + 5 * 4, 2 * 64 + 4]);
    const scored = scoredMask({ width: 4, height: 4, channels: 1, data: Uint8Array.of(255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255) }, [1, 0, 0, 0], 2, 2);
    expect(Array.from(scored.data.subarray(0, 6))).toEqual([255, 255, 255, 96, 96, 96]);
    expect(Array.from(scored.data.subarray(45, 48))).toEqual([230, 40, 40]);
  });
});
