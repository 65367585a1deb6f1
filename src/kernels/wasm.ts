// Loads build/kernels.wasm once, synchronously, and exposes its exports. Kernels take byte
// pointers into the module's memory; `src/kernels/arena.ts` hands those pointers out.
//
// The module imports a SHARED memory (asconfig.json: importMemory, sharedMemory, zeroFilledMemory)
// that this file creates, so that worker threads (src/kernels/threads.ts) can instantiate the same
// module on the same memory. Each instance has its own wasm globals; the static data below
// `heapBase()` holds constants only (rewritten with the same bytes by every instantiation) and a
// lazily filled erf table (same bytes from every instance; not re-zeroed thanks to zeroFilledMemory).

import { readFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { DinoRefError } from "../tensor/errors.js";

/** The wasm ABI: every kernel exported by assembly/index.ts. Pointers are byte offsets. */
export interface KernelExports {
  readonly memory: WebAssembly.Memory;
  heapBase(): number;
  [kernel: string]: unknown;
}

// src/kernels/wasm.ts and dist/kernels/wasm.js both sit two folders below the package root.
const wasmUrl = new URL("../../build/kernels.wasm", import.meta.url);

/** Initial pages: at least asconfig.json's initialMemory (the module's import minimum). */
const INITIAL_PAGES = 64;
/**
 * Maximum pages tried in turn: a shared memory reserves its maximum up front, so a smaller one is
 * taken where the address space is tight. 65536 pages = 4 GiB, the 32-bit limit (and the module's).
 */
const MAXIMUM_PAGES = [65536, 32768, 16384, 4096];

export interface LoadedKernels {
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  /** Bytes the memory can grow to. */
  readonly maxBytes: number;
  readonly exports: KernelExports;
}

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
  const { memory, pages } = createSharedMemory();
  const exports = instantiateKernels(module, memory);
  return { module, memory, maxBytes: pages * 65536, exports };
}

function createSharedMemory(): { memory: WebAssembly.Memory; pages: number } {
  let error: unknown = null;
  for (const maximum of MAXIMUM_PAGES) {
    try {
      return { memory: new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum, shared: true }), pages: maximum };
    } catch (e) {
      error = e;
    }
  }
  throw new DinoRefError(`cannot create the kernels' shared wasm memory: ${String(error)}`);
}

/**
 * Instantiates the kernels on `memory`. The same code runs in the worker threads (a copy of it
 * lives in threads.ts's worker source, which cannot import TypeScript).
 */
export function instantiateKernels(module: WebAssembly.Module, memory: WebAssembly.Memory): KernelExports {
  const env = {
    memory,
    // AssemblyScript's assertion hook: message and file are UTF-16 strings preceded by their byte length.
    abort(messagePtr: number, filePtr: number, line: number, column: number): never {
      const text = (ptr: number) => {
        if (ptr === 0) return "?";
        const bytes = new Uint32Array(memory.buffer, ptr - 4, 1)[0];
        return String.fromCharCode(...new Uint16Array(memory.buffer, ptr, bytes >>> 1));
      };
      throw new Error(`wasm kernel assertion failed: ${text(messagePtr)} at ${text(filePtr)}:${line}:${column}`);
    },
  };
  // the module re-exports the imported memory as `memory`
  return new WebAssembly.Instance(module, { env }).exports as unknown as KernelExports;
}
