// Which images a run trains on and which it holds out: the bundled digits (8,000 / 2,000), a data
// set generated from them (mnist-clutter, rendered with the run's seed), or a folder of PNGs / JPEGs split
// per class 80/20, deterministically. The evaluations (k-NN, linear probe) see every image at one
// size, the run's global crop size.

import type { ImageDataset } from "./dataset.js";
import { labelsOf, subset } from "./dataset.js";
import { loadMnist, splitPerClass } from "./mnist.js";
import { loadMnistClutter } from "./mnistClutter.js";
import { openImageFolder } from "./imageFolder.js";
import { resizeBicubic } from "./resample.js";
import { DinoRefError } from "../tensor/errors.js";

/** The data sets a run can train on. */
export const DATASET_NAMES = ["mnist", "mnist-clutter", "folder"] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

/** What a run trains on (the fields of a training config that choose the data). */
export interface DataChoice {
  readonly dataset: DatasetName;
  /** The image folder when dataset is "folder". */
  readonly dataPath: string;
  /** With a folder: skip unreadable images instead of stopping. */
  readonly skipBad: boolean;
  /** Train on the first this many training images only (0: all). */
  readonly trainLimit: number;
  /** Renders generated data sets (mnist-clutter). */
  readonly seed: number;
}

/** The train and held-out test sets of a data choice (a training config is one). */
export function datasetSplits(c: DataChoice): { train: ImageDataset; test: ImageDataset; skipped: number } {
  const { train, test, skipped } = c.dataset === "folder" ? folderSplit(c) : { ...generated(c), skipped: 0 };
  if (c.trainLimit === 0 || c.trainLimit >= train.length) return { train, test, skipped };
  return { train: subset(train, Int32Array.from({ length: c.trainLimit }, (_, i) => i), `${c.dataset} (first ${c.trainLimit})`), test, skipped };
}

/** The bundled digits or a data set generated from them (with the run's seed). */
function generated(c: DataChoice): { train: ImageDataset; test: ImageDataset } {
  switch (c.dataset) {
    case "mnist":
      return loadMnist();
    case "mnist-clutter":
      return loadMnistClutter({ seed: c.seed });
    default:
      throw new DinoRefError(`dataset '${c.dataset}'; expected mnist, mnist-clutter or folder`);
  }
}

/**
 * A folder of PNGs / JPEGs split per class 80/20 (deterministically, as the bundled digits). The held-out
 * and train images are also served at globalSize × globalSize (bicubic) for the k-NN features,
 * which need one size; training crops come from the original images.
 */
function folderSplit(c: DataChoice): { train: ImageDataset; test: ImageDataset; skipped: number } {
  const all = openImageFolder(c.dataPath, { skipBad: c.skipBad });
  const { train, test } = splitPerClass(labelsOf(all), all.classes.length, 0, 0.8);
  if (test.length === 0) throw new DinoRefError(`${c.dataPath}: too few images to hold out 20% per class for the k-NN evaluation`);
  return { train: subset(all, train, `${c.dataPath} (train)`), test: subset(all, test, `${c.dataPath} (held out)`), skipped: all.skipped.length };
}

/** The dataset with every image resized to size × size (for feature extraction, which needs one size). */
function resized(ds: ImageDataset, size: number): ImageDataset {
  return {
    length: ds.length,
    classes: ds.classes,
    image: (i) => {
      const img = ds.image(i);
      return img.width === size && img.height === size ? img : resizeBicubic(img, size, size);
    },
    label: (i) => ds.label(i),
    describe: (i) => ds.describe(i),
  };
}

/**
 * The k-NN and linear-probe splits: the training images (the memory) and the held-out ones, every
 * image at globalSize × globalSize (a training run's global crop size). `sets` defaults to the
 * data choice's own splits.
 */
export function evaluationSplits(c: DataChoice & { globalSize: number }, sets: { train: ImageDataset; test: ImageDataset } = datasetSplits(c)): { train: ImageDataset; test: ImageDataset } {
  return { train: resized(sets.train, c.globalSize), test: resized(sets.test, c.globalSize) };
}
