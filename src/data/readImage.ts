// Reading an image file by its extension: PNG (png.ts) or JPEG (jpeg.ts), both to 8-bit RGB with
// the same error rules (a bad file raises a DinoRefError naming it). Other extensions are refused.

import { extname } from "node:path";
import { DinoRefError } from "../tensor/errors.js";
import type { Image } from "./image.js";
import { readPng } from "./png.js";
import { readJpeg } from "./jpeg.js";

/** The extensions readImage decodes. */
export const READABLE_EXTENSIONS: ReadonlySet<string> = new Set([".png", ".jpg", ".jpeg"]);

/** Decodes the PNG or JPEG file at `path` (by its extension, case-insensitive). */
export function readImage(path: string): Image {
  const ext = extname(path).toLowerCase();
  if (ext === ".png") return readPng(path);
  if (ext === ".jpg" || ext === ".jpeg") return readJpeg(path);
  throw new DinoRefError(`${path}: ${ext || "files without an extension"} ${ext ? "images are" : "are"} not supported; expected PNG or JPEG (.png, .jpg, .jpeg)`);
}
