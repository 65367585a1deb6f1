// A short fingerprint of a set of tensors, to tell at a glance whether two files (or a file and the
// weights a command actually loaded) hold the same numbers.

import { createHash } from "node:crypto";
import type { StTensor } from "./safetensors.js";

/** sha256 over every tensor's key, dtype, shape and bytes in key order; the first 16 hex digits. */
export function fingerprint(tensors: ReadonlyMap<string, StTensor>): string {
  const h = createHash("sha256");
  for (const key of [...tensors.keys()].sort()) {
    const t = tensors.get(key)!;
    h.update(`${key}|${t.dtype}|${t.shape.join(",")}|`);
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return h.digest("hex").slice(0, 16);
}
