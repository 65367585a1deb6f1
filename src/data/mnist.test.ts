import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { DinoRefError } from "../tensor/errors.js";
import { labelsOf } from "./dataset.js";
import { loadMnist, MNIST_COUNT, mnistAll, mnistDigits } from "./mnist.js";

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
