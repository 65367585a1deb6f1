// The image transforms of the evaluations, before the ImageNet mean/std normalisation that every
// feature extraction applies (src/eval/features.ts):
//   "imagenet": the official eval_knn.py / eval_linear.py transform for photos: Resize(256,
//               bicubic) of the shorter side, CenterCrop(224); with another crop size S the
//               shorter side goes to ⌊S·256/224⌋ first (256 for 224, as the official code).
//   "resize":   every image resized to S × S (bicubic), what a training run's own k-NN does with
//               its global crop size (the digits keep theirs).
// Bicubic is PIL's antialiased resampling as src/data/resample.ts computes it (close to PIL, not
// bit-identical).

import { DinoRefError } from "../tensor/errors.js";
import { cropImage, type Image } from "./image.js";
import { resizeBicubic } from "./resample.js";
import { roundHalfEven } from "./augment.js";

export const EVAL_TRANSFORMS = ["resize", "imagenet"] as const;
export type EvalTransformName = (typeof EVAL_TRANSFORMS)[number];

/** torchvision Resize(size) with one int: the shorter side becomes `size`, the longer int(size·long/short). */
export function resizeShorterSide(img: Image, size: number): Image {
  const { width: w, height: h } = img;
  const [short, long] = w <= h ? [w, h] : [h, w];
  // new_long = int(size * long / short), Python's truncation
  const newLong = Math.trunc((size * long) / short);
  const [outW, outH] = w <= h ? [size, newLong] : [newLong, size];
  return resizeBicubic(img, outW, outH);
}

/** torchvision CenterCrop(size): top = round((h − size) / 2), left = round((w − size) / 2), Python's round (half to even). */
export function centerCrop(img: Image, size: number): Image {
  if (img.width < size || img.height < size) throw new DinoRefError(`center crop ${size}×${size}: the image is ${img.width}×${img.height}`);
  const top = roundHalfEven((img.height - size) / 2);
  const left = roundHalfEven((img.width - size) / 2);
  return cropImage(img, left, top, size, size);
}

/** The transform `name` for crop (or output) size `size`. */
export function evalTransform(name: EvalTransformName, size: number): (img: Image) => Image {
  if (!Number.isInteger(size) || size < 1) throw new DinoRefError(`image size ${size}; expected a positive integer`);
  if (name === "imagenet") {
    const resize = Math.floor((size * 256) / 224);
    return (img) => centerCrop(resizeShorterSide(img, resize), size);
  }
  return (img) => (img.width === size && img.height === size ? img : resizeBicubic(img, size, size));
}

/** What a transform does, in words (for the commands' output). */
export function describeEvalTransform(name: EvalTransformName, size: number): string {
  return name === "imagenet" ? `resize the shorter side to ${Math.floor((size * 256) / 224)}, centre crop ${size}, ImageNet mean/std (eval_knn.py)` : `resize to ${size}×${size}, ImageNet mean/std`;
}
