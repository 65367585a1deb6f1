// `dino-ref dataset NAME --out DIR`: writes a generated data set with ground-truth masks as PNGs
// (layout in src/data/maskFolder.ts), so that another tool can read exactly the images and masks
// that training and `dino-ref segment` use.

import { DinoRefError } from "../tensor/errors.js";
import { classInterleaved } from "../data/dataset.js";
import { MASKED_DATASETS, maskedDataset } from "../data/maskedDatasets.js";
import { writeMaskFolder } from "../data/maskFolder.js";
import { integerArg } from "./args.js";
import { prepareOutputFolder } from "../io/outputPath.js";
import type { Io } from "./io.js";

export interface DatasetArgs {
  out?: string;
  seed?: string;
  count?: string;
  split?: string;
}

export function datasetCommand(names: readonly string[], a: DatasetArgs, io: Io): number {
  if (names.length !== 1) throw new DinoRefError(`dataset: expected one NAME (${Object.keys(MASKED_DATASETS).join(", ")})`);
  if (a.out === undefined) throw new DinoRefError("dataset: --out DIR is required");
  const split = a.split ?? "test";
  if (split !== "test" && split !== "train") throw new DinoRefError(`--split ${split}: expected test (the held-out images) or train`);
  const seed = integerArg("seed", a.seed, 0) ?? 0;
  const count = integerArg("count", a.count, 1);
  prepareOutputFolder(a.out, "--out");
  const sets = maskedDataset(names[0], seed);
  const ds = split === "test" ? sets.test : sets.train;
  const indices = classInterleaved(ds, count ?? ds.length);
  writeMaskFolder(a.out, ds, indices, { dataset: names[0], seed, split, config: sets.config });
  io.out(`${names[0]} (seed ${seed}, ${split} split): ${indices.length} images in ${a.out}/images/<class>/, their masks in ${a.out}/masks/<class>/`);
  return 0;
}
