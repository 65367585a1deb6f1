// Zero-filling for the TypeScript side (src/kernels/arena.ts): wasm's memory.fill is several times
// faster than TypedArray.fill on the shared memory's buffer.

/** bytes zero bytes from ptr. */
export function fillZero(ptr: usize, bytes: usize): void {
  memory.fill(ptr, 0, bytes);
}
