// The kernels in a browser: the same build/kernels.wasm, fetched over HTTP, compiled and
// instantiated asynchronously (browsers refuse large synchronous compiles on the main thread) with
// the same imports as in Node (./wasmInstance.ts). The playground's bundle uses this file in place
// of ./wasm.ts (playground/build.mjs maps one to the other); it exports the same functions, so every
// kernel wrapper runs unchanged. Call `loadKernels(url)` once, before the first kernel.
//
// A shared WebAssembly.Memory needs a cross-origin isolated page (the server sends
// Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp).

import { DinoRefError } from "../tensor/errors.js";
import { createSharedMemory, kernelImports, type KernelExports, type LoadedKernels } from "./wasmInstance.js";

export { instantiateKernels, type KernelExports, type LoadedKernels } from "./wasmInstance.js";

/** A page needs little memory: reserve at most 1 GiB of address space (16384 pages), else 256 MiB. */
const MAXIMUM_PAGES = [16384, 4096];

let loaded: LoadedKernels | null = null;

/** Fetches, compiles and instantiates the kernels from `url` (once; later calls return the same). */
export async function loadKernels(url: string | URL): Promise<LoadedKernels> {
  if (loaded !== null) return loaded;
  if (typeof crossOriginIsolated !== "undefined" && !crossOriginIsolated) {
    throw new DinoRefError(
      "this page is not cross-origin isolated, so it cannot create the kernels' shared wasm memory: serve it with `npm run playground` (which sends the COOP/COEP headers), not from a file or another server",
    );
  }
  const response = await fetch(url);
  if (!response.ok) throw new DinoRefError(`${String(url)}: HTTP ${response.status} ${response.statusText}; expected the kernels' wasm module`);
  const module = await WebAssembly.compile(await response.arrayBuffer());
  const { memory, pages } = createSharedMemory(MAXIMUM_PAGES);
  const instance = await WebAssembly.instantiate(module, kernelImports(memory));
  loaded = { module, memory, maxBytes: pages * 65536, exports: instance.exports as unknown as KernelExports };
  return loaded;
}

/** The loaded kernel module; `loadKernels` must have finished. */
export function wasmKernels(): KernelExports {
  return loadedKernels().exports;
}

/** The compiled module, its shared memory and the instance; `loadKernels` must have finished. */
export function loadedKernels(): LoadedKernels {
  if (loaded === null) throw new DinoRefError("the wasm kernels are not loaded yet: await loadKernels(url) before the first kernel call");
  return loaded;
}
