import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { labelsFromSeg, patchLabels, propagateClip } from "./videoSegmentation.js";
import { paletteColour } from "./videoFigure.js";
import { ts32Backend } from "../kernels/backend.js";
import { Rng } from "../tensor/rng.js";

describe("the video-segmentation plumbing", () => {
  it("samples a label map at the pixel p·i + ⌊p/2⌋ of each patch (PIL NEAREST) and one-hot encodes it", () => {
    const labels = new Uint8Array(16);
    labels[2 * 4 + 2] = 1; // pixel (2, 2): patch (0, 0) of a 2-px grid samples (1, 1), patch (1, 1) samples (3, 3)
    labels[3 * 4 + 3] = 2;
    const oneHot = patchLabels(labels, 4, 4, 2, 3);
    expect(Array.from(oneHot)).toEqual([1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  });

  it("turns one-hot patch labels back into blocks: exact for p = 1; for larger p, every block inside a one-label 3×3 neighbourhood keeps its label", () => {
    // Bilinear upsampling blurs block edges and norm_mask rescales each channel by its own range,
    // so a lone block may lose its centre to a neighbour (h 3, w 4, p 2 has such maps). Inside a
    // one-label neighbourhood the own channel is exactly 1 (its maximum) and the others exactly 0.
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), fc.constantFrom(1, 2, 4), fc.nat(), (h, w, p, seed) => {
        const rng = new Rng(seed, 9);
        const blocks = Array.from({ length: h * w }, () => (rng.int(4) === 0 ? rng.int(3) : 0));
        const [H, W] = [h * p, w * p];
        const map = Uint8Array.from({ length: H * W }, (_, i) => blocks[Math.floor(Math.floor(i / W) / p) * w + Math.floor((i % W) / p)]);
        const round = labelsFromSeg(patchLabels(map, W, H, p, 3), 3, h, w, p);
        if (p === 1) expect(Array.from(round)).toEqual(blocks);
        const uniform = (i: number, j: number): boolean => {
          for (let di = -1; di <= 1; di++) for (let dj = -1; dj <= 1; dj++) {
            const [a, b] = [i + di, j + dj];
            if (a >= 0 && a < h && b >= 0 && b < w && blocks[a * w + b] !== blocks[i * w + j]) return false;
          }
          return true;
        };
        for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
          if (!uniform(i, j)) continue;
          const [y, x] = [i * p + Math.floor(p / 2), j * p + Math.floor(p / 2)];
          expect(round[y * W + x]).toBe(blocks[i * w + j]);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("min-max normalises each channel before the argmax, so a weak but peaked object channel still wins where it peaks", () => {
    // 1×2 patches, p = 1: background 0.9/0.8, object 0.1/0.2 → normalised: bg 1/0, object 0/1
    const seg = Float32Array.from([0.9, 0.8, 0.1, 0.2]);
    expect(Array.from(labelsFromSeg(seg, 2, 1, 2, 1))).toEqual([0, 1]);
  });

  it("propagates a static clip without change (identical frames, the first mask everywhere)", () => {
    const rng = new Rng(4, 4);
    const [h, w, D, p] = [3, 3, 8, 2];
    const feats = Float32Array.from({ length: h * w * D }, () => rng.normal());
    const first = Uint8Array.from({ length: 36 }, (_, i) => (Math.floor(i / 6) < 2 && i % 6 < 2 ? 1 : 0));
    const { labels } = propagateClip(ts32Backend, [feats, feats, feats], first, 6, 6, p, 2, { topk: 1, neighborhood: 12, temperature: 0.1, nLastFrames: 7 });
    const block = labelsFromSeg(patchLabels(first, 6, 6, p, 2), 2, h, w, p);
    expect(labels.slice(1).map((l) => Array.from(l))).toEqual([Array.from(block), Array.from(block)]);
  });

  it("colours labels with the DAVIS (PASCAL VOC) palette", () => {
    expect([1, 2, 3, 4, 5].map(paletteColour)).toEqual([[128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128], [128, 0, 128]]);
  });
});
