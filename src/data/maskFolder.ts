// A data set with ground-truth masks on disk, as `dino-ref dataset` writes it and `dino-ref segment
// --data` reads it:
//
//   DIR/images/<class>/<name>.png   the images (any PNG; read as RGB, see png.ts)
//   DIR/masks/<class>/<name>.png    one mask per image, same class folder and file name, same size:
//                                   the object where the mask's luma is >= 128 (written as 8-bit grey 255 / 0)
//   DIR/dataset.json                what wrote it (data set, seed, split, count, config); not read back
//
// DIR/images alone is an image folder (`dino-ref train --data DIR/images`).

import { existsSync, mkdirSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { DinoRefError } from "../tensor/errors.js";
import { writeFileAtomic } from "../io/writeFileAtomic.js";
import { checkIndex, type MaskedImageDataset } from "./dataset.js";
import { type GreyImage, toLuma } from "./image.js";
import { openImageFolder } from "./imageFolder.js";
import { readPng, writePng } from "./png.js";

/** Opens DIR/images and DIR/masks; every image must have a mask of its size (checked at open). */
export function openMaskFolder(root: string): MaskedImageDataset {
  const imagesDir = join(root, "images");
  const masksDir = join(root, "masks");
  for (const dir of [imagesDir, masksDir]) {
    if (!existsSync(dir)) throw new DinoRefError(`${root}: no ${basename(dir)}/ folder; expected ${root}/images/<class>/<name>.png and ${root}/masks/<class>/<name>.png (see dino-ref dataset)`);
  }
  const images = openImageFolder(imagesDir);
  const masks: GreyImage[] = images.paths.map((path, i) => {
    const maskPath = join(masksDir, basename(dirname(path)), basename(path));
    if (!existsSync(maskPath)) throw new DinoRefError(`${maskPath}: missing; every image needs a mask with the same class folder and file name (image ${path})`);
    const m = readPng(maskPath);
    const img = images.image(i);
    if (m.width !== img.width || m.height !== img.height) {
      throw new DinoRefError(`${maskPath}: the mask is ${m.width}×${m.height} px but its image ${path} is ${img.width}×${img.height} px; expected the same size`);
    }
    // object where luma >= 128
    const data = toLuma(m).map((v) => (v >= 128 ? 255 : 0));
    return { width: m.width, height: m.height, channels: 1, data };
  });
  return {
    length: images.length,
    classes: images.classes,
    image: (i) => images.image(i),
    label: (i) => images.label(i),
    describe: (i) => images.describe(i),
    mask(i) {
      checkIndex(this, i, `mask folder ${root}`);
      return masks[i];
    },
  };
}

/** Writes images `indices` of `ds` in the layout above (file names: the index in `ds`, 5 digits); returns the image paths. */
export function writeMaskFolder(root: string, ds: MaskedImageDataset, indices: ArrayLike<number>, about: Record<string, unknown>): string[] {
  const written: string[] = [];
  for (const cls of ds.classes) for (const kind of ["images", "masks"]) mkdirSync(join(root, kind, cls), { recursive: true });
  for (const i of Array.from(indices)) {
    const name = `${String(i).padStart(5, "0")}.png`;
    const cls = ds.classes[ds.label(i)];
    writePng(join(root, "images", cls, name), ds.image(i));
    writePng(join(root, "masks", cls, name), ds.mask(i));
    written.push(join(root, "images", cls, name));
  }
  writeFileAtomic(join(root, "dataset.json"), new TextEncoder().encode(JSON.stringify({ ...about, count: written.length, layout: "images/<class>/<name>.png, masks/<class>/<name>.png (255 = object)" }, null, 2) + "\n"));
  return written;
}
