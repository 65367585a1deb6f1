import { describe, expect, it } from "vitest";
import { DinoRefError } from "../tensor/errors.js";
import { Rng, STREAM } from "../tensor/rng.js";
import { augmentCrop } from "./augment.js";
import { makeImage } from "./image.js";
import { AUGMENTATIONS, cropRng, cropSpecs, DINO_MULTICROP, imageKey, multiCrop, multiCropConfig, multiCropImages } from "./multiCrop.js";

const noise = (W: number, H: number) => {
  const r = new Rng(9, STREAM.data, W + H);
  return makeImage(W, H, Uint8Array.from({ length: W * H * 3 }, () => r.int(256)));
};
const small = multiCropConfig({ globalSize: 16, localSize: 7, localCount: 3 });

describe("multiCrop", () => {
  it("has the official structure and defaults", () => {
    expect(cropSpecs(DINO_MULTICROP).map((s) => [s.size, s.blurP, s.solarizeP])).toEqual([[224, 1, 0], [224, 0.1, 0.2], ...Array(8).fill([96, 0.5, 0])]);
    const c = multiCrop(noise(30, 20), small, 0, 5);
    expect(c.global.map((g) => g.length)).toEqual([3 * 16 * 16, 3 * 16 * 16]);
    expect(c.local.map((g) => g.length)).toEqual([3 * 49, 3 * 49, 3 * 49]);
  });

  it("is a pure function of (seed, key, crop index): bit-identical again, different for another key or seed", () => {
    const img = noise(30, 20);
    const a = multiCrop(img, small, 4, imageKey(2, 100, 17));
    expect(multiCrop(img, small, 4, 217)).toEqual(a);
    expect(multiCrop(img, small, 4, 218).global[0]).not.toEqual(a.global[0]);
    expect(multiCrop(img, small, 5, 217).global[0]).not.toEqual(a.global[0]);
    // one stream per crop: more local crops leave the existing crops unchanged
    const more = multiCrop(img, { ...small, localCount: 6 }, 4, 217);
    expect(more.global).toEqual(a.global);
    expect(more.local.slice(0, 3)).toEqual(a.local);
    expect(imageKey(3, 10, 4)).toBe(34);
    expect(() => imageKey(0, 10, 10)).toThrow(DinoRefError);
  });

  it("solarises only global crop 2, with frequency ≈ 0.2; blurs with frequencies 1.0 / 0.1 / 0.5 (within 4σ)", () => {
    const img = noise(6, 6);
    const specs = cropSpecs(multiCropConfig({ globalSize: 4, localSize: 3, localCount: 2 }));
    const n = 3000;
    const solar = [0, 0, 0, 0];
    const blur = [0, 0, 0, 0];
    for (let key = 0; key < n; key++) {
      specs.forEach((spec, c) => {
        const { trace } = augmentCrop(img, spec, cropRng(1, key, c));
        if (trace.solarized) solar[c]++;
        if (trace.blurSigma !== null) {
          blur[c]++;
          expect(trace.blurSigma >= 0.1 && trace.blurSigma < 2).toBe(true);
        }
      });
    }
    const within = (count: number, p: number) => expect(Math.abs(count / n - p)).toBeLessThanOrEqual(4 * Math.sqrt((p * (1 - p)) / n) + 1e-12);
    expect([solar[0], solar[2], solar[3]]).toEqual([0, 0, 0]);
    within(solar[1], 0.2);
    expect(blur[0]).toBe(n);
    within(blur[1], 0.1);
    within(blur[2], 0.5);
    within(blur[3], 0.5);
  });

  it("normalises with the configured mean and std", () => {
    const grey = makeImage(10, 10, new Uint8Array(300).fill(128));
    // a constant image stays constant through crop, flip, blur, grayscale; jitter off
    const cfg = multiCropConfig({ globalSize: 5, localSize: 3, localCount: 1, jitterP: 0, solarizeP: 0, mean: [0.5, 0.25, 0], std: [0.5, 2, 1] });
    const c = multiCrop(grey, cfg, 0, 0);
    for (const crop of [...c.global, ...c.local]) {
      const n = crop.length / 3;
      for (let p = 0; p < n; p++) {
        expect(crop[p]).toBeCloseTo((128 / 255 - 0.5) / 0.5, 6);
        expect(crop[n + p]).toBeCloseTo((128 / 255 - 0.25) / 2, 6);
        expect(crop[2 * n + p]).toBeCloseTo(128 / 255, 6);
      }
    }
  });

  it("keeps the 8-bit crops and their decisions available for inspection", () => {
    const { images, traces } = multiCropImages(noise(30, 20), small, 0, 3);
    expect(images.map((i) => i.width)).toEqual([16, 16, 7, 7, 7]);
    expect(traces.length).toBe(5);
  });

  it("rejects bad configs with a message naming the field", () => {
    expect(() => multiCropConfig({ localCount: 63 })).toThrow(/localCount 63/);
    expect(() => multiCropConfig({ globalScale: [0.5, 0.4] })).toThrow(/globalScale/);
    expect(() => multiCropConfig({ flipP: 1.5 })).toThrow(/flipP/);
    expect(() => multiCropConfig({ std: [1, 0, 1] })).toThrow(/std/);
    expect(() => cropRng(0, 2 ** 48, 0)).toThrow(/2\^53/);
  });

  it("the digits recipe never flips or solarises, and blurs with σ ≤ 1 px; the official one does all three", () => {
    const img = noise(8, 8);
    const traces = (name: keyof typeof AUGMENTATIONS) => {
      const cfg = multiCropConfig({ ...AUGMENTATIONS[name], globalSize: 6, localSize: 3, localCount: 2 });
      return Array.from({ length: 300 }, (_, k) => multiCropImages(img, cfg, 1, k).traces).flat();
    };
    const digits = traces("digits");
    expect(digits.some((t) => t.flipped || t.solarized)).toBe(false);
    expect(Math.max(...digits.map((t) => t.blurSigma ?? 0))).toBeLessThanOrEqual(1);
    expect(traces("digits-noblur").some((t) => t.blurSigma !== null)).toBe(false);
    const official = traces("official");
    expect([official.some((t) => t.flipped), official.some((t) => t.solarized), official.some((t) => (t.blurSigma ?? 0) > 1)]).toEqual([true, true, true]);
  });
});
