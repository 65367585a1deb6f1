// Checking where a command will write BEFORE it computes anything: an output folder must be (or be
// creatable as) a writable folder with room on its file system, an output file must not be a
// folder and its folder must be writable. Each problem is one line naming the option and the path,
// instead of a stack trace (or a lost hour of training) at the first write.

import { accessSync, constants, mkdirSync, statSync, statfsSync } from "node:fs";
import { dirname } from "node:path";
import { DinoRefError, shown } from "../tensor/errors.js";
import { formatBytes } from "../tensor/limits.js";

/** Free space every output folder needs at least (a summary, a plot). */
const MIN_FREE_BYTES = 1 << 20;

const REASONS: Readonly<Record<string, string>> = {
  EEXIST: "a file of that name exists",
  ENOTDIR: "a part of the path is a file, not a folder",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EROFS: "a read-only file system",
  ENOSPC: "no space left on the device",
  ELOOP: "a symlink loop",
  ENAMETOOLONG: "the name is too long",
};

function reason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return code === undefined ? (e as Error).message : `${code}${REASONS[code] ? `: ${REASONS[code]}` : ""}`;
}

/**
 * Creates `dir` if needed and checks that it is a writable folder with at least `needBytes` (and
 * 1 MiB) free. `option` names where the path came from ("--out").
 */
export function prepareOutputFolder(dir: string, option: string, needBytes = 0): void {
  const where = `${option} ${shown(dir)}`;
  if (dir === "") throw new DinoRefError(`${where}: expected a folder path`);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new DinoRefError(`${where}: cannot create the folder (${reason(e)})`);
  }
  try {
    if (!statSync(dir).isDirectory()) throw new DinoRefError(`${where}: exists and is not a folder`);
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (e) {
    if (e instanceof DinoRefError) throw e;
    throw new DinoRefError(`${where}: the folder is not writable (${reason(e)})`);
  }
  let free = Infinity;
  try {
    const fs = statfsSync(dir);
    free = fs.bavail * fs.bsize;
  } catch {
    // a file system that cannot say: the writes will tell
  }
  const need = Math.max(needBytes, MIN_FREE_BYTES);
  if (free < need) throw new DinoRefError(`${where}: ${formatBytes(free)} free on its file system; the outputs need about ${formatBytes(need)}`);
}

/** Checks that `path` can be written as a file: not a folder, in a writable folder (created if needed). */
export function prepareOutputFile(path: string, option: string): void {
  const where = `${option} ${shown(path)}`;
  if (path === "") throw new DinoRefError(`${where}: expected a file path`);
  let isFolder = false;
  try {
    isFolder = statSync(path).isDirectory();
  } catch {
    // absent: it will be created
  }
  if (isFolder) throw new DinoRefError(`${where}: is a folder; expected a file path`);
  prepareOutputFolder(dirname(path), `${option} ${shown(path)}: its folder`);
}
