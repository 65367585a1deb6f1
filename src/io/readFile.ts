// Reading files that come from outside: every failure (missing, a folder, unreadable, a symlink
// loop) is one line naming the path, and a file larger than the --max-memory limit is refused
// before a byte of it is read (src/tensor/limits.ts).

import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { DinoRefError } from "../tensor/errors.js";
import { checkMemory } from "../tensor/limits.js";

/** The one-line reason of a failed file operation: its error code (ENOENT, EACCES, ELOOP, ...) or message. */
export function ioReason(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
}

/** An open regular file: its descriptor and size. Close it with closeSync(fd). */
export function openRegularFile(path: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw new DinoRefError(`${path}: cannot read file (${ioReason(e)})`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new DinoRefError(`${path}: cannot read file (${st.isDirectory() ? "a folder" : "not a regular file"})`);
    return { fd, size: st.size };
  } catch (e) {
    closeSync(fd);
    throw e instanceof DinoRefError ? e : new DinoRefError(`${path}: cannot read file (${ioReason(e)})`);
  }
}

/** `length` bytes at `offset` of an open file (fewer only when the file ends first). */
export function readAt(fd: number, path: string, offset: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let got = 0;
  try {
    while (got < length) {
      const n = readSync(fd, bytes, got, length - got, offset + got);
      if (n === 0) break;
      got += n;
    }
  } catch (e) {
    throw new DinoRefError(`${path}: cannot read file (${ioReason(e)})`);
  }
  return bytes.subarray(0, got);
}

/** The whole of a regular file (weights files: as large as they are; no --max-memory check). */
export function readWholeFile(path: string): Uint8Array {
  const { fd, size } = openRegularFile(path);
  try {
    return readAt(fd, path, 0, size);
  } finally {
    closeSync(fd);
  }
}

/** The whole file, refused before reading when its size is above --max-memory. */
export function readFileBounded(path: string): Uint8Array {
  const { fd, size } = openRegularFile(path);
  try {
    checkMemory(size, `reading ${path}`);
    return readAt(fd, path, 0, size);
  } finally {
    closeSync(fd);
  }
}
