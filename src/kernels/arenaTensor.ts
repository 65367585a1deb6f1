// A float32 tensor that lives in the kernels' wasm memory (the arena). It keeps a byte pointer and
// makes its Float32Array view on first use; the memory is shared, so a grow never detaches the
// view, and holding an ArenaTensor across allocations is always safe.

import { arena, zeroFill } from "./arena.js";
import { numel, type NamedTensor } from "../tensor/named.js";

export class ArenaTensor implements NamedTensor {
  private view: Float32Array | null = null;
  readonly size: number;

  constructor(
    readonly name: string,
    readonly shape: readonly number[],
    /** Byte pointer into wasm memory, 4-byte aligned (16 when allocated by the arena). */
    readonly ptr: number,
  ) {
    this.size = numel(shape);
  }

  /** Allocates a new tensor in the arena (contents are NOT cleared: call `fill(0)` when needed). */
  static alloc(name: string, shape: readonly number[]): ArenaTensor {
    return new ArenaTensor(name, shape, arena().allocF32(numel(shape)));
  }

  /** Allocates a zero-filled tensor in the arena. */
  static zeros(name: string, shape: readonly number[]): ArenaTensor {
    const t = ArenaTensor.alloc(name, shape);
    zeroFill(t.data);
    return t;
  }

  /** A view on the tensor's data (stays valid when memory grows). */
  get data(): Float32Array {
    // (a view on a non-shared memory would detach, to length 0, on a grow: then make a new one)
    if (this.view === null || this.view.length !== this.size) {
      this.view = arena().f32(this.ptr, this.size);
    }
    return this.view;
  }
}
