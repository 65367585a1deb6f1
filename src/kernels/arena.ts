// A bump allocator over the kernels' wasm memory. Tensors that kernels read and write live here,
// so a training step passes pointers, not copies, across the JS/wasm boundary. The memory is
// shared (worker threads run kernels on it), so a grow never detaches a view: an old view keeps
// working on the same bytes, but only `memory.buffer` taken after the grow covers the new pages.
// `f32()` therefore makes views on demand on the current buffer.

import { loadedKernels } from "./wasm.js";
import { DinoRefError } from "../tensor/errors.js";

const ALIGN = 16; // bytes: one v128
const PAGE = 65536; // bytes per wasm page
const MAX_BYTES = 4 * 1024 * 1024 * 1024 - PAGE; // 32-bit wasm address space

/**
 * Every buffer object the kernels' memory has had: a grow of a shared memory gives `memory.buffer`
 * a new (longer) SharedArrayBuffer, while views on the old one stay valid views on wasm memory.
 */
const memoryBuffers = new WeakSet<ArrayBufferLike>();

export class Arena {
  private top: number;
  private peakTop: number;
  private readonly memory: WebAssembly.Memory;

  private readonly maxBytes: number;

  constructor(private readonly base: number, memory: WebAssembly.Memory, maxBytes = MAX_BYTES) {
    this.top = alignUp(base);
    this.peakTop = this.top;
    this.memory = memory;
    this.maxBytes = Math.min(maxBytes, MAX_BYTES);
  }

  /** Reserves `bytes` bytes, 16-byte aligned, and returns their byte pointer. Contents are not cleared. */
  allocBytes(bytes: number): number {
    if (!Number.isInteger(bytes) || bytes < 0) throw new DinoRefError(`arena: cannot allocate ${bytes} bytes`);
    const ptr = this.top;
    const end = alignUp(ptr + bytes);
    this.ensure(end);
    this.top = end;
    if (end > this.peakTop) this.peakTop = end;
    return ptr;
  }

  /** Reserves `n` float32 elements and returns their byte pointer. */
  allocF32(n: number): number {
    return this.allocBytes(4 * n);
  }

  /** A float32 view of `n` elements at `ptr` (on the buffer of the memory's current size). */
  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, n);
  }

  /** A float64 view of `n` elements at `ptr` (ptr must be 8-byte aligned). */
  f64(ptr: number, n: number): Float64Array {
    return new Float64Array(this.memory.buffer, ptr, n);
  }

  /** The current top, to be passed to `release` later: everything allocated after it is freed. */
  mark(): number {
    return this.top;
  }

  /** Frees everything allocated since `mark` (a stack discipline: scratch space for one call). */
  release(mark: number): void {
    if (mark < this.base || mark > this.top) throw new Error(`arena: release(${mark}) outside [${this.base}, ${this.top}]`);
    this.top = mark;
  }

  /** Bytes currently reserved. */
  get used(): number {
    return this.top - alignUp(this.base);
  }

  /** The most bytes reserved at once since the arena was made or `resetPeak` was called. */
  get peakUsed(): number {
    return this.peakTop - alignUp(this.base);
  }

  /** Starts a new peak measurement from what is reserved now. */
  resetPeak(): void {
    this.peakTop = this.top;
  }

  /** Makes sure memory reaches byte `end`, growing it if needed. */
  private ensure(end: number): void {
    if (end > this.maxBytes) {
      const limit = this.maxBytes === MAX_BYTES ? "the 4 GiB limit of 32-bit WebAssembly" : `the ${(this.maxBytes / 2 ** 20).toFixed(0)} MiB maximum of the kernels' shared memory`;
      throw new DinoRefError(`arena: ${(end / 2 ** 20).toFixed(0)} MiB requested, above ${limit}`);
    }
    const before = this.memory.buffer;
    const have = before.byteLength;
    if (end > have) {
      // grow by at least half again, to keep the number of grows small
      const want = Math.min(Math.max(end, Math.floor(have * 1.5)), this.maxBytes);
      memoryBuffers.add(before);
      this.memory.grow(Math.ceil((want - have) / PAGE));
    }
  }
}

function alignUp(x: number): number {
  return Math.ceil(x / ALIGN) * ALIGN;
}


let theArena: Arena | null = null;

/** The process-wide arena over the kernels' memory. */
export function arena(): Arena {
  if (theArena === null) {
    const k = loadedKernels();
    theArena = new Arena(k.exports.heapBase(), k.memory, k.maxBytes);
  }
  return theArena;
}

/** Runs `fn` and frees whatever it allocated in the arena. */
export function withScratch<T>(fn: (a: Arena) => T): T {
  const a = arena();
  const mark = a.mark();
  try {
    return fn(a);
  } finally {
    a.release(mark);
  }
}

/** Sets every element of `x` to +0 (by wasm's memory.fill when x lives in wasm memory: faster on a shared buffer). */
export function zeroFill(x: Float32Array): void {
  if (x.length > 0 && isWasmView(x)) {
    (loadedKernels().exports.fillZero as (ptr: number, bytes: number) => void)(x.byteOffset, x.byteLength);
  } else {
    x.fill(0);
  }
}

/** The memory's buffer object as last read (reading `memory.buffer` of a shared memory costs more than a compare). */
let lastBuffer: ArrayBufferLike | null = null;

/** True when `x` is a view on the kernels' wasm memory, of any size it has had (so it can be passed by pointer). */
export function isWasmView(x: ArrayBufferView): boolean {
  if (x.buffer === lastBuffer || memoryBuffers.has(x.buffer)) return true;
  // first call, a grow since, or not a view on wasm memory
  lastBuffer = loadedKernels().memory.buffer;
  return x.buffer === lastBuffer;
}

/**
 * Calls a wasm kernel on float32 arrays that may or may not live in wasm memory. Arrays already
 * in wasm memory go by pointer; others are copied into scratch space (and `outputs`, listed by
 * index, are copied back). `null` becomes the null pointer 0. This is the convenience path for
 * tests and one-off calls; a training step keeps its tensors in the arena and pays no copy.
 */
export function callWithArrays(
  arrays: readonly (Float32Array | null)[],
  outputs: readonly number[],
  kernel: (...ptrs: number[]) => void,
): void {
  const a = arena();
  const mark = a.mark();
  try {
    // read the pointers of wasm-resident arrays before reserving scratch (which may grow memory)
    const resident = arrays.map((x) => (x !== null && isWasmView(x) ? x.byteOffset : -1));
    let scratchBytes = 0;
    arrays.forEach((x, i) => {
      if (x !== null && resident[i] < 0) scratchBytes += alignUp(4 * x.length);
    });
    let at = a.allocBytes(scratchBytes);
    const ptrs: number[] = [];
    const copies: { index: number; ptr: number }[] = [];
    for (let i = 0; i < arrays.length; i++) {
      const x = arrays[i];
      if (x === null) {
        ptrs.push(0);
      } else if (resident[i] >= 0) {
        ptrs.push(resident[i]);
      } else {
        a.f32(at, x.length).set(x);
        ptrs.push(at);
        copies.push({ index: i, ptr: at });
        at += alignUp(4 * x.length);
      }
    }
    kernel(...ptrs);
    for (const { index, ptr } of copies) {
      if (outputs.includes(index)) {
        const x = arrays[index]!;
        x.set(a.f32(ptr, x.length));
      }
    }
  } finally {
    a.release(mark);
  }
}
