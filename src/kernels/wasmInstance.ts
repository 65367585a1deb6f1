// What loading the kernels means, wherever the bytes come from: the shared memory the module
// imports, the imports themselves, and the instantiation. No Node or browser API is used here, so
// the Node loader (./wasm.ts, from the file system) and the browser loader (./wasm.browser.ts, by
// fetch) instantiate the module on the same terms.

import { DinoRefError } from "../tensor/errors.js";

/** The wasm ABI: every kernel exported by assembly/index.ts. Pointers are byte offsets. */
export interface KernelExports {
  readonly memory: WebAssembly.Memory;
  heapBase(): number;
  [kernel: string]: unknown;
}

export interface LoadedKernels {
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  /** Bytes the memory can grow to. */
  readonly maxBytes: number;
  readonly exports: KernelExports;
}

/** Initial pages: at least asconfig.json's initialMemory (the module's import minimum). */
export const INITIAL_PAGES = 64;

/**
 * Creates the shared memory, trying each maximum (in pages) in turn: a shared memory reserves its
 * maximum up front, so a smaller one is taken where the address space is tight.
 */
export function createSharedMemory(maximumPages: readonly number[]): { memory: WebAssembly.Memory; pages: number } {
  let error: unknown = null;
  for (const maximum of maximumPages) {
    try {
      return { memory: new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum, shared: true }), pages: maximum };
    } catch (e) {
      error = e;
    }
  }
  throw new DinoRefError(`cannot create the kernels' shared wasm memory: ${String(error)}`);
}

/** The module's imports: the shared memory, and AssemblyScript's assertion hook. */
export function kernelImports(memory: WebAssembly.Memory): WebAssembly.Imports {
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
  return { env };
}

/**
 * Instantiates the kernels on `memory`, synchronously. The same code runs in the worker threads (a
 * copy of it lives in threads.ts's worker source, which cannot import TypeScript).
 */
export function instantiateKernels(module: WebAssembly.Module, memory: WebAssembly.Memory): KernelExports {
  // the module re-exports the imported memory as `memory`
  return new WebAssembly.Instance(module, kernelImports(memory)).exports as unknown as KernelExports;
}
