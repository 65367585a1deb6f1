// Writing a file so that a reader never sees half of it: the bytes go to a temporary file beside
// the target, are flushed to disk (fsync), and the temporary file is renamed over the target (an
// atomic replacement on POSIX file systems). Checkpoints, summaries and plots are written this way.
// A process killed between the write and the rename leaves its temporary file (`NAME.tmp-PID`):
// the next run in that folder removes it (removeStaleTemporaries).

import { writeFileSync, renameSync, openSync, fsyncSync, closeSync, unlinkSync, readdirSync } from "node:fs";
import { join } from "node:path";
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

/**
 * Removes the temporary files (`NAME.tmp-PID`) that writeFileAtomic calls of processes no longer
 * running left in `dir` (killed during a write), for the given file names only (a folder may hold
 * other programs' files); returns their names. A live writer's are kept.
 */
export function removeStaleTemporaries(dir: string, names: readonly string[]): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const entry of entries) {
    const m = /^(.*)\.tmp-(\d+)$/.exec(entry);
    if (m === null || !names.includes(m[1]) || processRunning(Number(m[2]))) continue;
    try {
      unlinkSync(join(dir, entry));
      removed.push(entry);
    } catch {
      // gone already, or not ours to remove
    }
  }
  return removed;
}

/** Whether a process with this id exists (signal 0 checks without sending anything). */
function processRunning(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
