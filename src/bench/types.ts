export interface BenchCase {
  name: string;           // e.g. "matmul 12608x384x1152" or "matmul NT 512x512x512"
  impl: "wasm-simd" | "ts";
  flops: number;          // floating-point operations done by ONE call of run()
  note?: string;          // e.g. "ts oracle on 128 of 12608 rows"
  run(): void;            // one timed repetition; inputs prepared in the factory, outside run()
}
