// A dataset from a folder with one subfolder per class (torchvision's ImageFolder layout):
// class names sorted → labels 0..C−1, files sorted within each class. PNG and JPEG are decoded
// (readImage.ts).
//
// Memory: mode "memory" (default) decodes every image once at open and keeps it: 3·W·H bytes per
// image (ImageNet-sized 500×375 images: ~560 kB each), as long as the images stay under half the
// --max-memory limit; a larger folder is served as in mode "lazy", which also decodes each file
// once at open (to find bad files, so indices and labels never shift later) but keeps only the
// paths, and decodes again on every `image(i)`. Broken symlinks and symlink loops are bad entries
// (an error, or skipped with skipBad) like unreadable images.

import { readdirSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import { DinoRefError, oneLine } from "../tensor/errors.js";
import { checkIndex, type ImageDataset } from "./dataset.js";
import type { Image } from "./image.js";
import { READABLE_EXTENSIONS, readImage } from "./readImage.js";
import { limits } from "../tensor/limits.js";

/** torchvision's IMG_EXTENSIONS: files with other extensions are ignored, as torchvision does. */
const IMAGE_EXTENSIONS = new Set([".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"]);

export interface ImageFolderOptions {
  /** Bad files (unreadable, corrupt, or an image format other than PNG and JPEG) give a warning and are skipped. */
  skipBad?: boolean;
  mode?: "memory" | "lazy";
  /** Where warnings go (default: console.warn). */
  warn?: (message: string) => void;
}

export interface ImageFolderDataset extends ImageDataset {
  readonly root: string;
  /** The path of image i. */
  readonly paths: readonly string[];
  /** Files skipped because they could not be read (only with skipBad). */
  readonly skipped: readonly { path: string; reason: string }[];
}

function listDir(path: string): string[] {
  try {
    // code-unit order; Python's sorted() uses code points (same except for characters beyond U+FFFF)
    return readdirSync(path).sort();
  } catch (e) {
    throw new DinoRefError(`${path}: cannot list folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** What a folder entry is, following symlinks: a broken link or a symlink loop is "bad" with its reason. */
function entryKind(path: string): { kind: "file" | "folder" | "other" } | { kind: "bad"; reason: string } {
  try {
    const st = statSync(path);
    return { kind: st.isFile() ? "file" : st.isDirectory() ? "folder" : "other" };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ELOOP" ? "a symlink loop" : code === "ENOENT" ? "a broken symlink" : code ?? (e as Error).message;
    return { kind: "bad", reason: `${path}: cannot read (${code === "ELOOP" || code === "ENOENT" ? `${code}: ${why}` : why})` };
  }
}

/** Opens `root/<class>/<file>.png` (or .jpg / .jpeg) as a labelled dataset. */
export function openImageFolder(root: string, options: ImageFolderOptions = {}): ImageFolderDataset {
  const { skipBad = false, mode = "memory", warn = (m: string) => console.warn(`dino-ref: warning: ${oneLine(m)}`) } = options;
  const skipped: { path: string; reason: string }[] = [];
  // a bad entry stops the run, or with skipBad is skipped with a warning
  const skip = (path: string, reason: string): void => {
    if (!skipBad) throw new DinoRefError(reason);
    skipped.push({ path, reason });
    warn(`skipping ${reason}`);
  };
  const classes = listDir(root).filter((name) => {
    if (name.startsWith(".")) return false;
    const entry = entryKind(join(root, name));
    if (entry.kind === "bad") skip(join(root, name), entry.reason);
    return entry.kind === "folder";
  });
  if (classes.length === 0) {
    throw new DinoRefError(`${root}: no class subfolders; expected one folder per class (root/<class>/<image>.png)`);
  }
  const paths: string[] = [];
  const labels: number[] = [];
  const images: Image[] = [];
  let keep = mode === "memory";
  let keptBytes = 0;
  classes.forEach((cls, label) => {
    for (const name of listDir(join(root, cls))) {
      const path = join(root, cls, name);
      const ext = extname(name).toLowerCase();
      if (!IMAGE_EXTENSIONS.has(ext)) continue;
      const entry = entryKind(path);
      if (entry.kind === "bad") {
        skip(path, entry.reason);
        continue;
      }
      if (entry.kind !== "file") continue;
      let img: Image;
      try {
        if (!READABLE_EXTENSIONS.has(ext)) throw new DinoRefError(`${path}: ${ext} images are not supported; expected PNG or JPEG (convert the folder first)`);
        img = readImage(path);
      } catch (e) {
        if (!(e instanceof DinoRefError)) throw e;
        skip(path, e.message);
        continue;
      }
      paths.push(path);
      labels.push(label);
      keptBytes += img.data.length;
      // past half the memory limit, keep paths only and decode on use (same pixels, bounded memory)
      if (keep && keptBytes > limits().maxMemory / 2) {
        keep = false;
        images.length = 0;
      }
      if (keep) images.push(img);
    }
  });
  if (paths.length === 0) throw new DinoRefError(`${root}: no readable PNG or JPEG images in the class folders ${classes.join(", ")}`);
  if (skipped.length > 0) warn(`${root}: skipped ${skipped.length} bad file(s), kept ${paths.length}`);
  const name = `image folder ${root}`;
  return {
    root,
    paths,
    skipped,
    classes,
    length: paths.length,
    image(i) {
      checkIndex(this, i, name);
      return keep ? images[i] : readImage(paths[i]);
    },
    label(i) {
      checkIndex(this, i, name);
      return labels[i];
    },
    describe: (i) => paths[i],
  };
}
