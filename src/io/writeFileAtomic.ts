// Writing a file so that a reader never sees half of it: the bytes go to a temporary file beside
// the target, are flushed to disk (fsync), and the temporary file is renamed over the target (an
// atomic replacement on POSIX file systems). Checkpoints, summaries and plots are written this way.

import { writeFileSync, renameSync, openSync, fsyncSync, closeSync, unlinkSync } from "node:fs";
import { DinoRefError } from "../tensor/errors.js";

/** Writes `bytes` to `path` through a temporary file and a rename, so a reader never sees half a file. */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, bytes);
    const fd = openSync(tmp, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // the temporary file may not exist
    }
    throw new DinoRefError(`${path}: cannot write file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
