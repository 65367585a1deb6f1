// Loads build/kernels.wasm once, synchronously, and exposes its exports. Kernels take byte
// pointers into the module's memory; `src/kernels/arena.ts` hands those pointers out.

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

let instance: KernelExports | null = null;

/** The loaded kernel module (loaded on first use). */
export function wasmKernels(): KernelExports {
  if (instance === null) instance = instantiate(fileURLToPath(wasmUrl));
  return instance;
}

function instantiate(path: string): KernelExports {
  if (!existsSync(path)) {
    throw new DinoRefError(`${path} is missing: build the kernels with \`npm run asbuild\` (npm install does this)`);
  }
  const module = new WebAssembly.Module(readFileSync(path));
  let memory: WebAssembly.Memory | null = null;
  const env = {
    // AssemblyScript's assertion hook: message and file are UTF-16 strings preceded by their byte length.
    abort(messagePtr: number, filePtr: number, line: number, column: number): never {
      const text = (ptr: number) => {
        if (memory === null || ptr === 0) return "?";
        const bytes = new Uint32Array(memory.buffer, ptr - 4, 1)[0];
        return String.fromCharCode(...new Uint16Array(memory.buffer, ptr, bytes >>> 1));
      };
      throw new Error(`wasm kernel assertion failed: ${text(messagePtr)} at ${text(filePtr)}:${line}:${column}`);
    },
  };
  const exports = new WebAssembly.Instance(module, { env }).exports as unknown as KernelExports;
  memory = exports.memory;
  return exports;
}
