// The generated data sets that come with ground-truth masks, by name: what `dino-ref dataset`
// writes and `dino-ref segment` scores against. Each is rendered from a seed (a training run's).

import { DinoRefError } from "../tensor/errors.js";
import type { MaskedImageDataset } from "./dataset.js";
import { loadMnistClutter } from "./mnistClutter.js";

/** The generated data sets with masks: name → train and held-out splits for a seed (the training run's seed). */
export const MASKED_DATASETS: Record<string, (seed: number) => { train: MaskedImageDataset; test: MaskedImageDataset; config: object }> = {
  "mnist-clutter": (seed) => loadMnistClutter({ seed }),
};

/** The generated data set `name`, or an error listing the known ones. */
export function maskedDataset(name: string, seed: number): { train: MaskedImageDataset; test: MaskedImageDataset; config: object } {
  const make = MASKED_DATASETS[name];
  if (make === undefined) throw new DinoRefError(`unknown data set '${name}' (data sets with masks: ${Object.keys(MASKED_DATASETS).join(", ")})`);
  return make(seed);
}
