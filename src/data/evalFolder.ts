// The evaluation layout of the official eval_knn.py / eval_linear.py: DIR/train/<class>/<image> and
// DIR/val/<class>/<image> (torchvision ImageFolders), PNG or JPEG. Both splits must have the same
// class folders (labels are the sorted class names, so different folders would give the same
// label to different classes). Images are decoded on demand and transformed (evalTransform.ts).

import { existsSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { DinoRefError } from "../tensor/errors.js";
import type { ImageDataset } from "./dataset.js";
import type { Image } from "./image.js";
import { openImageFolder, type ImageFolderDataset } from "./imageFolder.js";

export interface EvalFolders {
  train: ImageDataset;
  val: ImageDataset;
  /** The image files of each split, relative to the root, in dataset order. */
  trainFiles: string[];
  valFiles: string[];
  /** Files skipped with skipBad. */
  skipped: number;
}

/** Whether DIR has train/ and val/ folders. */
export function hasEvalSplits(root: string): boolean {
  return ["train", "val"].every((s) => existsSync(join(root, s)) && statSync(join(root, s)).isDirectory());
}

/** A folder's images, transformed on the way out. */
function transformed(ds: ImageFolderDataset, transform: (img: Image) => Image): ImageDataset {
  return {
    length: ds.length,
    classes: ds.classes,
    image: (i) => transform(ds.image(i)),
    label: (i) => ds.label(i),
    describe: (i) => ds.describe(i),
  };
}

/** One image folder (root/<class>/<image>), transformed; its files relative to `base`. */
export function openTransformedFolder(root: string, base: string, transform: (img: Image) => Image, skipBad: boolean, warn?: (m: string) => void): { ds: ImageDataset; files: string[]; skipped: number } {
  const ds = openImageFolder(root, { skipBad, mode: "lazy", ...(warn ? { warn } : {}) });
  return { ds: transformed(ds, transform), files: ds.paths.map((p) => relative(base, p)), skipped: ds.skipped.length };
}

/** DIR/train and DIR/val, checked to have the same classes. */
export function openEvalFolders(root: string, transform: (img: Image) => Image, skipBad = false, warn?: (m: string) => void): EvalFolders {
  if (!hasEvalSplits(root)) throw new DinoRefError(`${root}: expected train/ and val/ folders with one subfolder per class (${root}/train/<class>/<image>, ${root}/val/<class>/<image>), as eval_knn.py reads`);
  const train = openTransformedFolder(join(root, "train"), root, transform, skipBad, warn);
  const val = openTransformedFolder(join(root, "val"), root, transform, skipBad, warn);
  const [a, b] = [train.ds.classes, val.ds.classes];
  if (a.length !== b.length || a.some((c, i) => c !== b[i])) {
    const onlyTrain = a.filter((c) => !b.includes(c));
    const onlyVal = b.filter((c) => !a.includes(c));
    throw new DinoRefError(`${root}: train/ and val/ have different class folders (only in train: ${onlyTrain.join(", ") || "none"}; only in val: ${onlyVal.join(", ") || "none"}); labels come from the sorted class names, so they must match`);
  }
  return { train: train.ds, val: val.ds, trainFiles: train.files, valFiles: val.files, skipped: train.skipped + val.skipped };
}
