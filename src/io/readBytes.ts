// Reading a whole file from outside: its bytes, or a one-line error naming the path and why not.

import { readFileSync } from "node:fs";
import { DinoRefError } from "../tensor/errors.js";

/** The bytes of the file at `path`; a DinoRefError `<path>: cannot read file (<code>)` when it cannot be read. */
export function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new DinoRefError(`${path}: cannot read file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
