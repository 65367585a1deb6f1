// What training and evaluation see of any data source: a numbered list of labelled RGB images.
// Image folders, the bundled MNIST digits and the generated canvas variants all implement it; the
// data sets with ground-truth masks (segmentation) add a mask per image.

import { DinoRefError } from "../tensor/errors.js";
import type { GreyImage, Image } from "./image.js";

export interface ImageDataset {
  /** Number of images N; indices run 0..N−1. */
  readonly length: number;
  /** Class names; label c names `classes[c]`. */
  readonly classes: readonly string[];
  /** Image i (decoded or generated on demand, or from memory; treat as read-only). */
  image(i: number): Image;
  /** Label of image i, in 0..classes.length−1. */
  label(i: number): number;
  /** A name for image i in messages (a file path, "mnist #123"). */
  describe(i: number): string;
}

/** A dataset with a ground-truth object mask per image: 255 on the object's pixels, 0 elsewhere, the image's size. */
export interface MaskedImageDataset extends ImageDataset {
  mask(i: number): GreyImage;
}

/** Throws unless i is an index of `ds`. */
export function checkIndex(ds: { length: number }, i: number, what: string): void {
  if (!Number.isInteger(i) || i < 0 || i >= ds.length) {
    throw new DinoRefError(`${what}: image index ${i}; expected an integer in [0, ${ds.length})`);
  }
}

/** The images of `ds` at `indices`, renumbered 0..indices.length−1. */
export function subset(ds: ImageDataset, indices: ArrayLike<number>, name = "subset"): ImageDataset {
  const idx = Int32Array.from(indices as ArrayLike<number>);
  for (const i of idx) checkIndex(ds, i, name);
  return {
    length: idx.length,
    classes: ds.classes,
    image: (i) => (checkIndex({ length: idx.length }, i, name), ds.image(idx[i])),
    label: (i) => (checkIndex({ length: idx.length }, i, name), ds.label(idx[i])),
    describe: (i) => ds.describe(idx[i]),
  };
}

/** Labels of all images, as an array. */
export function labelsOf(ds: ImageDataset): Int32Array {
  return Int32Array.from({ length: ds.length }, (_, i) => ds.label(i));
}

/**
 * `items` reordered class by class in turn (the first item of class 0, of class 1, …, then the
 * second of each, …; a class that runs out is skipped), so that any prefix shows every class.
 */
export function interleaveByLabel(items: ArrayLike<number>, labelOf: (item: number) => number, numClasses: number): Int32Array {
  const perClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < items.length; i++) perClass[labelOf(items[i])].push(items[i]);
  const out: number[] = [];
  for (let round = 0; out.length < items.length; round++) {
    for (const members of perClass) if (round < members.length) out.push(members[round]);
  }
  return Int32Array.from(out);
}

/**
 * The first `count` indices of `ds` taken class by class in turn (the 1st image of class 0, of
 * class 1, …, then the 2nd of each, …; a class that runs out is skipped), so that a prefix of a
 * class-sorted split still shows every class.
 */
export function classInterleaved(ds: ImageDataset, count = ds.length): Int32Array {
  const all = Int32Array.from({ length: ds.length }, (_, i) => i);
  return interleaveByLabel(all, (i) => ds.label(i), ds.classes.length).slice(0, Math.min(count, ds.length));
}

/** A data set `name` of `length` generated images, each made on first use by `make` and then kept. */
export function generatedDataset(name: string, length: number, classes: readonly string[], make: (i: number) => Image, label: (i: number) => number, describe: (i: number) => string): ImageDataset {
  const cache = new Map<number, Image>();
  return {
    length,
    classes,
    image(i) {
      checkIndex(this, i, name);
      let img = cache.get(i);
      if (img === undefined) cache.set(i, (img = make(i)));
      return img;
    },
    label: (i) => label(i),
    describe,
  };
}
