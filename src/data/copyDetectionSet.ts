// A generated copy-detection set in the spirit of Copydays (strong block) with YFCC distractors:
//   originals    held-out mnist-clutter canvases (the first `originals` held-out digits, class-interleaved)
//   queries      `copies` strong copies of each original (copyEdits.ts strongCopy, Rng(seed, STREAM.copyDetection, q))
//   database     the originals followed by `distractors` other held-out canvases (the next held-out digits)
//   whitening    `whitening` canvases of training digits: never in the database or the queries, as the
//                paper learns its whitening on separate YFCC images
// A query's only positive is its original. Canvases are mnist-clutter renderings with `seed` (the
// held-out ones are the images of `dino-ref dataset mnist-clutter --seed S`).

import { DinoRefError } from "../tensor/errors.js";
import { Rng, STREAM } from "../tensor/rng.js";
import { generatedDataset, interleaveByLabel, type ImageDataset } from "./dataset.js";
import type { Image } from "./image.js";
import { mnistDigits, splitPerClass } from "./mnist.js";
import { renderMnistClutter } from "./mnistClutter.js";
import { strongCopy } from "./copyEdits.js";

const CLASSES = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

export interface CopyDetectionOptions {
  originals: number;
  copies: number;
  distractors: number;
  whitening: number;
  seed: number;
}

export const COPY_DETECTION_DEFAULTS: CopyDetectionOptions = Object.freeze({ originals: 100, copies: 2, distractors: 1000, whitening: 1000, seed: 0 });

export interface CopyDetectionSet {
  readonly queries: ImageDataset;
  readonly database: ImageDataset;
  readonly whitening: ImageDataset;
  /** Database index of each query's original [Q]. */
  readonly original: Int32Array;
  /** The edits of each query, for messages and figures. */
  edits(q: number): string[];
  readonly options: CopyDetectionOptions;
}

export function makeCopyDetectionSet(options: Partial<CopyDetectionOptions> = {}): CopyDetectionSet {
  const o: CopyDetectionOptions = { ...COPY_DETECTION_DEFAULTS, ...options };
  for (const key of ["originals", "copies", "distractors", "whitening", "seed"] as const) {
    if (!(Number.isSafeInteger(o[key]) && o[key] >= 0)) throw new DinoRefError(`copy detection set: ${key} ${o[key]}; expected a non-negative integer`);
  }
  if (o.originals < 1 || o.copies < 1 || o.whitening < 2) throw new DinoRefError(`copy detection set: ${o.originals} originals, ${o.copies} copies each, ${o.whitening} whitening images; expected at least 1, 1 and 2`);
  const { labels } = mnistDigits();
  const { train, test } = splitPerClass(labels, 10, 0, 0.8);
  const held = interleaveByLabel(test, (g) => labels[g], 10);
  if (o.originals + o.distractors > held.length) throw new DinoRefError(`copy detection set: ${o.originals} originals + ${o.distractors} distractors need that many held-out digits; there are ${held.length}`);
  if (o.whitening > train.length) throw new DinoRefError(`copy detection set: ${o.whitening} whitening images; there are ${train.length} training digits`);

  const canvas = (pool: Int32Array) => (g: number) => renderMnistClutter(g, pool, o.seed).image;
  const heldCanvas = canvas(test);
  const dbDigits = held.subarray(0, o.originals + o.distractors);
  const database = generatedDataset("copy-detection database", dbDigits.length, CLASSES, (i) => heldCanvas(dbDigits[i]), (i) => labels[dbDigits[i]], (i) => `copy-detection ${i < o.originals ? "original" : "distractor"} #${i} (mnist #${dbDigits[i]})`);
  const Q = o.originals * o.copies;
  const copies = new Map<number, { image: Image; edits: string[] }>();
  const copyOf = (q: number) => {
    let c = copies.get(q);
    if (c === undefined) copies.set(q, (c = strongCopy(database.image(Math.floor(q / o.copies)), new Rng(o.seed, STREAM.copyDetection, q))));
    return c;
  };
  const queryDigits = Array.from({ length: Q }, (_, q) => dbDigits[Math.floor(q / o.copies)]);
  const queries = generatedDataset("copy-detection queries", Q, CLASSES, (q) => copyOf(q).image, (q) => labels[queryDigits[q]], (q) => `copy-detection query #${q} (copy of original #${Math.floor(q / o.copies)}: ${copyOf(q).edits.join(", ")})`);
  const whiteDigits = interleaveByLabel(train, (g) => labels[g], 10).slice(0, o.whitening);
  const whiteCanvas = canvas(train);
  const whitening = generatedDataset("copy-detection whitening set", o.whitening, CLASSES, (i) => whiteCanvas(whiteDigits[i]), (i) => labels[whiteDigits[i]], (i) => `copy-detection whitening image #${i} (mnist #${whiteDigits[i]})`);
  return { queries, database, whitening, original: Int32Array.from({ length: Q }, (_, q) => Math.floor(q / o.copies)), edits: (q) => copyOf(q).edits, options: o };
}
