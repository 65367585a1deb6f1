// One benchmark case: a named, prepared computation whose run() is timed by the bench driver.
// Inputs are prepared in the factory, outside run(), so a repetition measures the kernel only.

export interface BenchCase {
  /** e.g. "matmul 12608x384x1152" or "matmul NT 512x512x512" */
  name: string;
  /** "wasm-simd x2": the wasm kernel on 2 threads (the plain "wasm-simd" case runs on 1). */
  impl: "wasm-simd" | `wasm-simd x${number}` | "ts" | `torch x${number}`;
  /** Floating-point operations done by ONE call of run(). */
  flops: number;
  /** e.g. "ts oracle on 128 of 12608 rows" */
  note?: string;
  /** Images processed by one call of run(), for model benchmarks (reported as images/s). */
  images?: number;
  /** Threads the kernels may use in run() (default: DINO_REF_THREADS). */
  threads?: number;
  /** Report the most wasm memory (arena bytes) the case held at once, its own setup included. */
  peakMemory?: boolean;
  /** Run once, without a warm-up (a long case measured for its memory; the time is one cold call). */
  once?: boolean;
  /** Untimed calls before the timed ones (default 1): code called once per run() needs a few to be optimised. */
  warmups?: number;
  /** One timed repetition. */
  run(): void;
  /**
   * For a case measured by another program (PyTorch): runs it and returns its median seconds per
   * call and repetitions (and a note on how it ran, replacing `note`), or the reason it could not
   * run; `run` is then unused.
   */
  external?: () => { seconds: number; reps: number; note?: string } | { skipped: string };
}
