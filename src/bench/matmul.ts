// Benchmark cases for the matmul kernel at the ViT-S/16 shapes of a DINO training step: the SIMD
// wasm kernel on arena-resident inputs (no copies in run()) on 1 thread and on 2 threads
// ("wasm-simd x2", whatever DINO_REF_THREADS says), and the TypeScript oracle on a slice.

import type { BenchCase } from "./types.js";
import { fillUniform } from "./fill.js";
import { matmul, matmulRef, type MatmulLayout } from "../kernels/matmul.js";
import { arena } from "../kernels/arena.js";
import { withThreadSettings } from "../kernels/threads.js";

/** (M, K, N) of the ViT shapes: qkv, attention proj, MLP fc2, a patch-sized (16640, 64, 192), a square one. */
const SHAPES: readonly [number, number, number][] = [
  [12608, 384, 1152],
  [12608, 384, 384],
  [12608, 1536, 384],
  [16640, 64, 192],
  [512, 512, 512],
];

/** Rows of A the TypeScript oracle runs on (it is ~40× slower than the wasm kernel). */
const TS_ROWS = 128;

/** The wasm kernel on 1 thread and on 2, on the same arena-resident inputs. */
function wasmCases(M: number, K: number, N: number, layout: MatmulLayout): BenchCase[] {
  const ar = arena();
  const pc = ar.allocF32(M * N);
  const pa = ar.allocF32(M * K);
  const pb = ar.allocF32(K * N);
  const pbias = ar.allocF32(N);
  fillUniform(ar.f32(pa, M * K), 1);
  fillUniform(ar.f32(pb, K * N), 2);
  fillUniform(ar.f32(pbias, N), 3);
  // views stay valid when memory grows (it is shared: nothing detaches)
  const views = [ar.f32(pc, M * N), ar.f32(pa, M * K), ar.f32(pb, K * N), ar.f32(pbias, N)];
  const name = layout === "NN" ? `matmul ${M}x${K}x${N}` : `matmul ${layout} ${M}x${K}x${N}`;
  return [1, 2].map((threads): BenchCase => ({
    name,
    impl: threads === 1 ? "wasm-simd" : `wasm-simd x${threads}`,
    flops: 2 * M * K * N,
    note: `inputs in the arena, with bias, ${threads === 1 ? "1 thread" : `${threads} threads`}`,
    run() {
      withThreadSettings({ threads }, () => matmul(views[0], views[1], views[2], views[3], M, K, N, layout, false));
    },
  }));
}

function tsCase(M: number, K: number, N: number, layout: MatmulLayout): BenchCase {
  const rows = Math.min(M, TS_ROWS);
  const c = new Float32Array(rows * N);
  const a = new Float32Array(rows * K);
  const b = new Float32Array(K * N);
  const bias = new Float32Array(N);
  fillUniform(a, 1);
  fillUniform(b, 2);
  fillUniform(bias, 3);
  const name = layout === "NN" ? `matmul ${M}x${K}x${N}` : `matmul ${layout} ${M}x${K}x${N}`;
  return {
    name,
    impl: "ts",
    flops: 2 * rows * K * N,
    note: rows < M ? `ts oracle on ${rows} of ${M} rows` : undefined,
    run() {
      matmulRef(c, a, b, bias, rows, K, N, layout, false);
    },
  };
}

/** wasm (1 and 2 threads) and ts cases for the five shapes (NN), and NT and TN at the first one. */
export function matmulBenchCases(): BenchCase[] {
  const cases: BenchCase[] = [];
  for (const [M, K, N] of SHAPES) cases.push(...wasmCases(M, K, N, "NN"), tsCase(M, K, N, "NN"));
  const [M, K, N] = SHAPES[0];
  for (const layout of ["NT", "TN"] as const) cases.push(...wasmCases(M, K, N, layout), tsCase(M, K, N, layout));
  return cases;
}
