import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { DinoRefError } from "../tensor/errors.js";
import { labelsOf } from "./dataset.js";
import { loadMnist, MNIST_COUNT, mnistAll, mnistDigits } from "./mnist.js";
import { loadMnistCanvas, renderMnistCanvas } from "./mnistCanvas.js";

describe("bundled MNIST", () => {
  it("has 10,000 28×28 grey digits as RGB, labels 0..9, grey levels as stored in the package", () => {
    const all = mnistAll();
    expect(all.length).toBe(MNIST_COUNT);
    const counts = new Array(10).fill(0);
    for (const l of labelsOf(all)) counts[l]++;
    expect(counts).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    const img = all.image(1001 + 5); // the 6th '1'
    expect([img.width, img.height, img.channels]).toEqual([28, 28, 3]);
    for (let p = 0; p < 784; p++) expect(img.data[3 * p]).toBe(img.data[3 * p + 1]);
    const dir = dirname(createRequire(import.meta.url).resolve("mnist/package.json"));
    const raw = (JSON.parse(readFileSync(join(dir, "src", "digits", "1.json"), "utf8")) as { data: number[] }).data;
    for (let p = 0; p < 784; p++) expect(img.data[3 * p]).toBe(Math.round(raw[5 * 784 + p] * 255));
    expect(new Set(mnistDigits().grey).size).toBe(256);
  });

  it("splits every class 80/20 exactly, deterministically, without overlap", () => {
    const a = loadMnist();
    const b = loadMnist();
    expect(a.trainIndices).toEqual(b.trainIndices);
    const { labels } = mnistDigits();
    const train = new Set(a.trainIndices);
    expect(a.testIndices.every((g) => !train.has(g))).toBe(true);
    expect(a.trainIndices.length + a.testIndices.length).toBe(MNIST_COUNT);
    for (let c = 0; c < 10; c++) {
      const n = labels.filter((l) => l === c).length;
      const nTrain = a.trainIndices.filter((g) => labels[g] === c).length;
      expect(nTrain).toBe(Math.round(0.8 * n));
    }
    expect(a.train.length).toBe(8000);
    expect(a.test.length).toBe(2000);
    expect(a.train.label(0)).toBe(labels[a.trainIndices[0]]);
    expect(a.train.image(7)).toEqual(mnistAll().image(a.trainIndices[7]));
    // another split seed gives another split
    expect(loadMnist({ splitSeed: 1 }).trainIndices).not.toEqual(a.trainIndices);
    expect(() => a.train.image(8000)).toThrow(DinoRefError);
  });
});

describe("mnist-canvas", () => {
  const c = loadMnistCanvas();
  it("has the MNIST split and labels, 40×40 images that are a pure function of (seed, index)", () => {
    const m = loadMnist();
    expect(c.trainIndices).toEqual(m.trainIndices);
    expect(c.train.label(123)).toBe(m.train.label(123));
    const img = c.train.image(123);
    expect([img.width, img.height]).toEqual([40, 40]);
    expect(c.train.image(123)).toEqual(img);
    expect(loadMnistCanvas().train.image(123)).toEqual(img);
    expect(loadMnistCanvas({ seed: 1 }).train.image(123).data).not.toEqual(img.data);
    expect(c.train.image(124).data).not.toEqual(img.data);
  });

  it("puts the digit's ink on the canvas (brighter than the background) and honours the config", () => {
    const plain = renderMnistCanvas(0, [], 0, { size: 28, digitScale: [1, 1], fragments: 0, fragmentSize: 1, fragmentIntensity: 0, background: 0, inkMin: 255, colour: false, noise: 0 });
    // scale 1 at position (0, 0) with white ink on black and no noise reproduces the digit
    expect(plain).toEqual(mnistAll().image(0));
    expect(() => loadMnistCanvas({ config: { size: 30 } })).toThrow(/digitScale/);
  });
});
