// The kernels' thread pool in a browser: one thread. The playground's bundle uses this file in
// place of ./threads.ts (which starts Node worker threads); matmul, attention, GELU and layer norm
// see a thread count of 1 and make their single-threaded calls, whose results are bit-identical to any
// split (see ./matmul.ts and ../../docs/design.md, Threads).

import type { KernelExports } from "./wasmInstance.js";
import { DinoRefError } from "../tensor/errors.js";
import type { ChunkedJob, ThreadKernel } from "./threads.js";

export type { ChunkedJob, ThreadKernel } from "./threads.js";

/** Always 1: the page runs every kernel on the main thread. */
export function threadCount(): number {
  return 1;
}

/** No product is split: there is no other thread. */
export function parallelMinWork(): number {
  return Infinity;
}

/** Never reached with one thread; refuses clearly if it is. */
export function runChunks(_kernels: KernelExports, job: ChunkedJob): void {
  throw new DinoRefError(`runChunks(${job.kernel}): the browser build has no worker threads`);
}

/** One call over the whole range: kernel(...args, 0, len), as ./threads.ts does on one thread. */
export function runRange(kernels: KernelExports, kernel: ThreadKernel, args: readonly number[], len: number, _align: number, _work: number): void {
  (kernels[kernel] as (...a: number[]) => void)(...args, 0, len);
}
