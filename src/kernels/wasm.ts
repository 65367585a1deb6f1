// Loads build/kernels.wasm once, synchronously, and exposes its exports. Kernels take byte
// pointers into the module's memory; `src/kernels/arena.ts` hands those pointers out.
//
// The module imports a SHARED memory (asconfig.json: importMemory, sharedMemory, zeroFilledMemory)
// that this file creates, so that worker threads (src/kernels/threads.ts) can instantiate the same
// module on the same memory. Each instance has its own wasm globals; the static data below
// `heapBase()` holds constants only (rewritten with the same bytes by every instantiation) and a
// lazily filled erf table (same bytes from every instance; not re-zeroed thanks to zeroFilledMemory).
//
// The browser build swaps this file for ./wasm.browser.ts (same exports, the bytes fetched over
// HTTP); what instantiation means lives in ./wasmInstance.ts, shared by both.

import { readFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { DinoRefError } from "../tensor/errors.js";
import { createSharedMemory, instantiateKernels, type KernelExports, type LoadedKernels } from "./wasmInstance.js";

export { instantiateKernels, type KernelExports, type LoadedKernels } from "./wasmInstance.js";

// src/kernels/wasm.ts and dist/kernels/wasm.js both sit two folders below the package root.
const wasmUrl = new URL("../../build/kernels.wasm", import.meta.url);

/**
 * Maximum pages tried in turn: a shared memory reserves its maximum up front, so a smaller one is
 * taken where the address space is tight. 65536 pages = 4 GiB, the 32-bit limit (and the module's).
 */
const MAXIMUM_PAGES = [65536, 32768, 16384, 4096];

let loaded: LoadedKernels | null = null;

/** The loaded kernel module (loaded on first use). */
export function wasmKernels(): KernelExports {
  return loadedKernels().exports;
}

/** The compiled module, its shared memory and the main thread's instance (loaded on first use). */
export function loadedKernels(): LoadedKernels {
  if (loaded === null) loaded = load(fileURLToPath(wasmUrl));
  return loaded;
}

function load(path: string): LoadedKernels {
  if (!existsSync(path)) {
    throw new DinoRefError(`${path} is missing: build the kernels with \`npm run asbuild\` (npm install does this)`);
  }
  const module = new WebAssembly.Module(readFileSync(path));
  const { memory, pages } = createSharedMemory(MAXIMUM_PAGES);
  const exports = instantiateKernels(module, memory);
  return { module, memory, maxBytes: pages * 65536, exports };
}
