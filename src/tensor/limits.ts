// The resource limits every reader and computation checks BEFORE it allocates, so that a small
// hostile file or argument cannot make dino-ref use gigabytes or run for hours: the pixels of one
// image, and the memory one computation (an image's attention, a case's op, a training step, a
// file read whole) may take. Both are named in the error and adjustable on any command
// (`--max-pixels N`, `--max-memory SIZE`; README "Errors and limits").

import { DinoRefError } from "./errors.js";

export interface Limits {
  /** Pixels of one decoded image (width · height). */
  readonly maxPixels: number;
  /** Bytes one computation or one file read may allocate. */
  readonly maxMemory: number;
}

/** 4096 × 4096 pixels; 1 GiB. */
export const DEFAULT_LIMITS: Limits = { maxPixels: 4096 * 4096, maxMemory: 2 ** 30 };

let current: Limits = DEFAULT_LIMITS;

/** The limits in force (the CLI sets them from --max-pixels and --max-memory). */
export function limits(): Limits {
  return current;
}

/** Replaces the limits in force; returns the previous ones (tests restore them). */
export function setLimits(next: Partial<Limits>): Limits {
  const previous = current;
  current = { ...current, ...next };
  return previous;
}

/** A byte count for people: 1.6 GB, 380 MB, 12 kB (decimal units), 1 GiB when a power of two. */
export function formatBytes(bytes: number): string {
  // the limits' own values (powers of two) in binary units
  if (bytes >= 2 ** 30 && bytes < 2 ** 40 && Number.isInteger(Math.log2(bytes))) return `${bytes / 2 ** 30} GiB`;
  if (bytes >= 2 ** 20 && bytes < 2 ** 30 && Number.isInteger(Math.log2(bytes))) return `${bytes / 2 ** 20} MiB`;
  const units: [number, string][] = [[1e12, "TB"], [1e9, "GB"], [1e6, "MB"], [1e3, "kB"]];
  for (const [size, unit] of units) if (bytes >= size) return `${(bytes / size).toPrecision(3).replace(/\.?0+$/, "")} ${unit}`;
  return `${bytes} bytes`;
}

/**
 * Throws unless `bytes` fits the memory limit. `what` says what would need them ("the attention
 * weights of /x.png"), `hint` how to need less.
 */
export function checkMemory(bytes: number, what: string, hint = ""): void {
  const max = current.maxMemory;
  if (!(bytes <= max)) {
    throw new DinoRefError(`${what} would need about ${formatBytes(bytes)}, above the --max-memory limit of ${formatBytes(max)}${hint ? `; ${hint}` : ""} (or raise --max-memory)`);
  }
}

/** Throws unless a width × height image fits the pixel limit; `source` names the file. */
export function checkPixels(width: number, height: number, source: string): void {
  const max = current.maxPixels;
  if (!(width * height <= max)) {
    throw new DinoRefError(`${source}: ${width}×${height} px (${(width * height).toLocaleString("en-US")} pixels) is above the --max-pixels limit of ${max.toLocaleString("en-US")} pixels; resize the image (or raise --max-pixels)`);
  }
}

/** `--max-memory` values: a number of bytes with an optional unit K, M, G or T (powers of 1024): 512M, 4G. */
export function parseByteSize(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$/i.exec(text);
  if (m === null) return null;
  const scale = { "": 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }[m[2].toUpperCase() as "" | "K" | "M" | "G" | "T"];
  const n = Math.floor(Number(m[1]) * scale);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}
