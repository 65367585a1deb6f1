import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Rng, STREAM } from "../tensor/rng.js";
import { augmentCrop, type CropSpec, normalizeInto, normalizeTables, randomResizedCropBox, roundHalfEven } from "./augment.js";
import { boxBlurRadius, gaussianBlur } from "./blur.js";
import { adjustBrightness, adjustContrast, adjustHue, adjustSaturation, grayscale, solarize } from "./color.js";
import { flipHorizontal, type Image, luma, makeImage, toLuma } from "./image.js";
import { bicubicKernel, resizeBicubic } from "./resample.js";

/** A W×H image of deterministic noise. */
function noise(W: number, H: number, seed = 1): Image {
  const r = new Rng(seed, STREAM.data, W * 1000 + H);
  return makeImage(W, H, Uint8Array.from({ length: W * H * 3 }, () => r.int(256)));
}
const constant = (W: number, H: number, rgb: number[]) => makeImage(W, H, Uint8Array.from({ length: W * H * 3 }, (_, i) => rgb[i % 3]));

/** A pipeline that does nothing random except the crop box. */
const plain: CropSpec = {
  size: 8,
  scale: [1, 1],
  ratio: [1, 1],
  flipP: 0,
  jitterP: 0,
  jitter: { brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1 },
  grayscaleP: 0,
  blurP: 0,
  blurSigma: [0.1, 2],
  solarizeP: 0,
};

describe("bicubic resampling (a = −0.5, antialiased)", () => {
  it("has the cubic kernel's values: k(0) = 1, k(±1) = k(±2) = 0, k(0.5) = 0.5625, k(1.5) = −0.0625", () => {
    expect([bicubicKernel(0), bicubicKernel(1), bicubicKernel(-1), bicubicKernel(2), bicubicKernel(0.5), bicubicKernel(-1.5)].map((v) => v + 0)).toEqual([1, 0, 0, 0, 0.5625, -0.0625]);
  });

  it("reproduces a constant image exactly, up and down, any box", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 50 }), (w, h, ow, oh) => {
        const img = constant(w + 3, h + 2, [0, 137, 255]);
        expect(resizeBicubic(img, ow, oh, { x: 2, y: 1, w, h })).toEqual(constant(ow, oh, [0, 137, 255]));
      }),
      { numRuns: 60 },
    );
  });

  it("is the identity when sizes match: a crop of the whole image resized to its own size returns the image", () => {
    for (const [w, h] of [[1, 1], [7, 3], [28, 28], [45, 65]]) {
      const img = noise(w, h);
      expect(resizeBicubic(img, w, h)).toEqual(img);
      const { image, trace } = augmentCrop(img, { ...plain, size: w, ratio: [w / h, w / h] }, new Rng(0, STREAM.crops, 0));
      if (w === h) {
        expect(trace.box).toEqual({ x: 0, y: 0, w, h });
        expect(image).toEqual(img);
      }
    }
  });

  it("antialiases when shrinking: 1-pixel stripes average to grey instead of aliasing", () => {
    const stripes = makeImage(64, 4, Uint8Array.from({ length: 64 * 4 * 3 }, (_, i) => (Math.floor(i / 3) % 2 ? 255 : 0)));
    const small = resizeBicubic(stripes, 8, 4);
    for (let x = 1; x < 7; x++) expect(Math.abs(small.data[x * 3] - 127.5)).toBeLessThanOrEqual(1);
  });

  it("keeps a linear ramp linear inside the image (bicubic reproduces linear functions)", () => {
    const ramp = makeImage(16, 1, Uint8Array.from({ length: 48 }, (_, i) => 10 * Math.floor(i / 3)));
    const up = resizeBicubic(ramp, 32, 1);
    // output pixel o samples source x = (o + 0.5)/2 − 0.5, value 10x
    for (let o = 4; o < 28; o++) expect(up.data[3 * o]).toBe(Math.floor(10 * ((o + 0.5) / 2 - 0.5) + 0.5));
  });
});

describe("RandomResizedCrop parameters", () => {
  it("rounds ties to even like Python", () => {
    expect([0.5, 1.5, 2.5, 3.5, 2.4999, 7].map(roundHalfEven)).toEqual([0, 2, 2, 4, 2, 7]);
  });

  it("gives a box inside the image with area and aspect within the ranges (up to rounding)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 300 }), fc.nat(), fc.boolean(), (W, H, key, local) => {
        const scale: [number, number] = local ? [0.05, 0.4] : [0.4, 1];
        const ratio: [number, number] = [3 / 4, 4 / 3];
        const b = randomResizedCropBox(new Rng(7, STREAM.crops, key), W, H, scale, ratio);
        expect(b.x >= 0 && b.y >= 0 && b.w >= 1 && b.h >= 1 && b.x + b.w <= W && b.y + b.h <= H).toBe(true);
        if (!b.fallback) {
          // w = round(√(a·r)), h = round(√(a/r)): some w' ∈ w ± 0.5, h' ∈ h ± 0.5 has w'h' = a, w'/h' = r
          const A = W * H;
          expect((b.w + 0.5) * (b.h + 0.5)).toBeGreaterThanOrEqual(scale[0] * A);
          expect((b.w - 0.5) * (b.h - 0.5)).toBeLessThanOrEqual(scale[1] * A);
          expect((b.w + 0.5) / (b.h - 0.5 || 1e-9)).toBeGreaterThanOrEqual(ratio[0]);
          expect((b.w - 0.5) / (b.h + 0.5)).toBeLessThanOrEqual(ratio[1]);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("falls back to the centre crop with the aspect clamped when no try fits (100×1 and 1×100)", () => {
    for (const scale of [[0.4, 1], [0.05, 0.4]] as const) {
      for (let key = 0; key < 20; key++) {
        expect(randomResizedCropBox(new Rng(0, STREAM.crops, key), 100, 1, scale, [3 / 4, 4 / 3])).toEqual({ x: 49, y: 0, w: 1, h: 1, fallback: true });
        expect(randomResizedCropBox(new Rng(0, STREAM.crops, key), 1, 100, scale, [3 / 4, 4 / 3])).toEqual({ x: 0, y: 49, w: 1, h: 1, fallback: true });
      }
    }
    // aspect inside the range: the whole image
    expect(randomResizedCropBox(new Rng(0, STREAM.crops, 0), 10, 10, [2, 3], [3 / 4, 4 / 3])).toEqual({ x: 0, y: 0, w: 10, h: 10, fallback: true });
    // a fallback crop still goes through the whole pipeline
    const { image, trace } = augmentCrop(noise(100, 1), { ...plain, scale: [0.4, 1], ratio: [3 / 4, 4 / 3] }, new Rng(0, STREAM.crops, 0));
    expect(trace.fallback).toBe(true);
    expect([image.width, image.height]).toEqual([8, 8]);
  });
});

describe("crop pipeline steps", () => {
  it("flip is an exact mirror, and the flip decision does not change the other draws", () => {
    const img = noise(23, 17);
    expect(flipHorizontal(flipHorizontal(img))).toEqual(img);
    expect(flipHorizontal(img).data.subarray(0, 3)).toEqual(img.data.subarray(22 * 3, 23 * 3));
    const spec: CropSpec = { ...plain, scale: [0.3, 1], ratio: [3 / 4, 4 / 3], jitterP: 0.8, grayscaleP: 0.2, blurP: 0.5, size: 13 };
    for (let key = 0; key < 20; key++) {
      const a = augmentCrop(img, { ...spec, flipP: 0 }, new Rng(3, STREAM.crops, key));
      const b = augmentCrop(img, { ...spec, flipP: 1 }, new Rng(3, STREAM.crops, key));
      expect(b.trace.flipped).toBe(true);
      // blur and jitter commute with the mirror (edge handling and statistics are symmetric)
      expect(b.image).toEqual(flipHorizontal(a.image));
    }
  });

  it("colour ops follow PIL's 8-bit semantics", () => {
    expect(luma(10, 200, 77)).toBe(129);
    const px = (img: Image) => Array.from(img.data);
    const one = (rgb: number[]) => makeImage(1, 1, Uint8Array.from(rgb));
    // brightness: blend with black, truncated; clamped above 1
    expect(px(adjustBrightness(one([100, 201, 255]), 0.5))).toEqual([50, 100, 127]);
    expect(px(adjustBrightness(one([100, 201, 255]), 1.4))).toEqual([140, 255, 255]);
    // contrast: blend with int(mean luma + 0.5); here the mean luma of [0,0,0],[255,255,255] = 127.5 → 128
    const two = makeImage(2, 1, Uint8Array.from([0, 0, 0, 255, 255, 255]));
    expect(px(adjustContrast(two, 0.5))).toEqual([64, 64, 64, 191, 191, 191]);
    // saturation 0 → the greyscale image; factor 1 → a copy
    const img = noise(5, 4);
    expect(adjustSaturation(img, 0)).toEqual(grayscale(img));
    expect(adjustSaturation(img, 1)).toEqual(img);
    expect(Array.from(grayscale(img).data.filter((_, i) => i % 3 === 0))).toEqual(Array.from(toLuma(img)));
    // hue: grey pixels do not change; a shift by a third of a turn maps red to green to blue
    expect(adjustHue(constant(3, 3, [90, 90, 90]), 0.1)).toEqual(constant(3, 3, [90, 90, 90]));
    expect(px(adjustHue(one([255, 0, 0]), 85 / 255))).toEqual([0, 255, 0]);
    expect(px(adjustHue(one([0, 255, 0]), 85 / 255))).toEqual([0, 0, 255]);
    // negative factors wrap: −85/255 takes green back to red
    expect(px(adjustHue(one([0, 255, 0]), -85 / 255))).toEqual([255, 0, 0]);
    // solarize: v >= 128 → 255 − v
    expect(px(solarize(one([127, 128, 255])))).toEqual([127, 127, 0]);
  });

  it("blur is PIL's 3-pass extended box blur: the documented σ = 2 impulse response", () => {
    expect(boxBlurRadius(2)).toBeCloseTo(1.375, 12);
    const img = makeImage(17, 17);
    img.data.fill(255, (8 * 17 + 8) * 3, (8 * 17 + 8) * 3 + 3);
    const out = gaussianBlur(img, 2);
    expect(Array.from({ length: 17 }, (_, x) => out.data[(8 * 17 + x) * 3])).toEqual([0, 0, 0, 1, 2, 4, 6, 8, 9, 8, 6, 4, 2, 1, 0, 0, 0]);
    expect(gaussianBlur(constant(9, 5, [3, 200, 255]), 1.7)).toEqual(constant(9, 5, [3, 200, 255]));
  });

  it("normalisation applies (v/255 − mean)/std per channel in float32", () => {
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    const t = normalizeTables(mean, std);
    const out = normalizeInto(constant(2, 2, [0, 128, 255]), t);
    expect(out.length).toBe(12);
    [0, 128, 255].forEach((v, c) => {
      for (let p = 0; p < 4; p++) expect(out[c * 4 + p]).toBeCloseTo((v / 255 - mean[c]) / std[c], 6);
    });
  });
});
