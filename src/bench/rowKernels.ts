// Benchmark cases for the elementwise and row kernels at DINO ViT-S/16 training shapes (batch 64):
// GELU on the MLP hidden activations (12608 tokens × 1536), LayerNorm on the residual stream
// (12608 × 384), softmax and log-softmax on the head output (10 crops × 64 images × K 65536, τ 0.1).
// wasm-simd runs on the whole tensor in the arena (pointers, no copies in run()); the TypeScript
// oracle runs on a slice (said in `note`). Buffers are allocated on the first run() (the bench
// driver's warm-up call), so cases that a --filter leaves out cost no memory.
//
// FLOP counts per element, the same for both impls (the oracle and the kernel do the same
// arithmetic), counting +, −, ×, ÷, floor and a max each as 1, conversions and selects as 0:
//   exp64 (fdlibm range reduction + rational): 26
//   GELU fwd, x·0.5·erfc(−x/√2) on the |x/√2| < 0.84375 path (the rational of degree 4/5): 26
//     (other erfc intervals cost more: this is a nominal count, used for both impls alike)
//   GELU bwd, gradX += gradY·(0.5·erfc(−x/√2) + x·exp(−x²/2)/√(2π)): 24 + 1 + 2 + 26 + 3 + 2 = 58
//   LayerNorm fwd: mean 1, variance 3, y = (x − m)·s·w + b 4: 8
//   LayerNorm bwd: x̂ 2, g 1, Σg 1, Σg·x̂ 2, column sums 3, then x̂ 2, g 1, gradX 5: 17
//   softmax: z = l/τ 1, max 1, z − max 1, exp 26, Σ 1, e/Σ 1: 31
//   log-softmax: z = l/τ 1, max 1, z − max 1, exp 26, Σ 1, (z − max) − lse 2: 32

import type { BenchCase } from "./types.js";
import { fillUniform } from "./fill.js";
import { arena } from "../kernels/arena.js";
import { wasmKernels } from "../kernels/wasm.js";
import { geluBackwardRef, geluForwardRef } from "../kernels/gelu.js";
import { layerNormBackwardRef, layerNormForwardRef } from "../kernels/layernorm.js";
import { logSoftmaxForwardRef, softmaxForwardRef } from "../kernels/softmax.js";

interface RowKernelAbi {
  geluForward(y: number, x: number, n: number): void;
  geluBackward(gradX: number, gradY: number, x: number, n: number): void;
  layerNormForward(y: number, mean: number, rstd: number, x: number, weight: number, bias: number, R: number, D: number, eps: number): void;
  layerNormBackward(
    gradX: number, gradWeight: number, gradBias: number, gradY: number, x: number, mean: number, rstd: number, weight: number,
    R: number, D: number,
  ): void;
  softmaxForward(probs: number, logits: number, R: number, K: number, temperature: number): void;
  logSoftmaxForward(logProbs: number, logits: number, R: number, K: number, temperature: number): void;
}

const EXP_FLOPS = 26;
const GELU_FWD_FLOPS = 26;
const GELU_BWD_FLOPS = 58;
const LN_FWD_FLOPS = 8;
const LN_BWD_FLOPS = 17;
const SOFTMAX_FLOPS = 5 + EXP_FLOPS;
const LOG_SOFTMAX_FLOPS = 6 + EXP_FLOPS;

/** The nominal FLOP counts per element above, by kernel (also used by `bench --profile`). */
export const FLOPS_PER_ELEMENT = {
  geluForward: GELU_FWD_FLOPS,
  geluBackward: GELU_BWD_FLOPS,
  layerNormForward: LN_FWD_FLOPS,
  layerNormBackward: LN_BWD_FLOPS,
  softmax: SOFTMAX_FLOPS,
  logSoftmax: LOG_SOFTMAX_FLOPS,
} as const;

/**
 * Deterministic N(0, σ²) values (Box–Muller on the LCG). GELU inputs use σ = 1.5: then about 57%
 * of x/√2 fall in erfc's |u| < 0.84375 interval, 19% in [0.84375, 1.25) and 24% beyond (the
 * exp-based tail), so neighbouring elements often take different paths, as in a real network.
 */
function fillNormal(x: Float32Array, seed: number, sigma: number): void {
  const u = new Float32Array(x.length + 1);
  fillUniform(u, seed, 0, 1);
  for (let i = 0; i < x.length; i += 2) {
    const r = sigma * Math.sqrt(-2 * Math.log(1 - u[i]));
    const t = 2 * Math.PI * u[i + 1];
    x[i] = r * Math.cos(t);
    if (i + 1 < x.length) x[i + 1] = r * Math.sin(t);
  }
}

/** Runs `setup` once, on the first call, then `body` with its result on every call. */
function lazy<T>(setup: () => T, body: (t: T) => void): () => void {
  let state: T | undefined;
  return () => {
    if (state === undefined) state = setup();
    body(state);
  };
}

/** Allocates `count` tensors of `n` floats in the arena, the i-th filled by `fill(view, i)`; returns their pointers. */
function arenaTensors(n: number, count: number, fill: (x: Float32Array, i: number) => void): number[] {
  const a = arena();
  const ptrs = Array.from({ length: count }, () => a.allocF32(n));
  // views after all allocations: an allocation that grows memory detaches earlier views
  ptrs.forEach((p, i) => fill(a.f32(p, n), i));
  return ptrs;
}

/** "gelu fwd|fwd+bwd RxD": wasm on all R rows, ts on tsRows rows. */
export function geluBenchCases(R = 12608, D = 1536, tsRows = 197): BenchCase[] {
  const n = R * D;
  const nt = Math.min(R, tsRows) * D;
  const shape = `${R}x${D}`;
  const kern = () => wasmKernels() as unknown as RowKernelAbi;
  // x ~ N(0, 1.5²), gradY ~ U[−1, 1); y and gradX need no particular contents
  let ptrs: number[] = [];
  const wasmSetup = () => {
    if (ptrs.length === 0) ptrs = arenaTensors(n, 4, (v, i) => (i === 0 ? fillNormal(v, 11, 1.5) : fillUniform(v, 12 + i)));
    return ptrs;
  };
  const wasmFwd = lazy(wasmSetup, ([x, y]) => kern().geluForward(y, x, n));
  const wasmFwdBwd = lazy(wasmSetup, ([x, y, gy, gx]) => {
    kern().geluForward(y, x, n);
    kern().geluBackward(gx, gy, x, n);
  });
  let ts: Float32Array[] = [];
  const tsSetup = () => {
    if (ts.length === 0) {
      ts = Array.from({ length: 4 }, () => new Float32Array(nt));
      fillNormal(ts[0], 11, 1.5);
      fillUniform(ts[2], 14);
      fillUniform(ts[3], 15);
    }
    return ts;
  };
  const tsFwd = lazy(tsSetup, ([x, y]) => geluForwardRef(y, x, nt));
  const tsFwdBwd = lazy(tsSetup, ([x, y, gy, gx]) => {
    geluForwardRef(y, x, nt);
    geluBackwardRef(gx, gy, x, nt);
  });
  const note = `x ~ N(0, 1.5²); nominal ${GELU_FWD_FLOPS} (fwd) + ${GELU_BWD_FLOPS} (bwd) flop/elem`;
  const tsNote = `ts oracle on ${nt / D} of ${R} rows; ${note}`;
  return [
    { name: `gelu fwd ${shape}`, impl: "wasm-simd", flops: GELU_FWD_FLOPS * n, note, run: wasmFwd },
    { name: `gelu fwd+bwd ${shape}`, impl: "wasm-simd", flops: (GELU_FWD_FLOPS + GELU_BWD_FLOPS) * n, note, run: wasmFwdBwd },
    { name: `gelu fwd ${shape}`, impl: "ts", flops: GELU_FWD_FLOPS * nt, note: tsNote, run: tsFwd },
    { name: `gelu fwd+bwd ${shape}`, impl: "ts", flops: (GELU_FWD_FLOPS + GELU_BWD_FLOPS) * nt, note: tsNote, run: tsFwdBwd },
  ];
}

/** "layernorm fwd|fwd+bwd RxD" (eps 1e-6, as DINO's ViT): wasm on all R rows, ts on tsRows rows. */
export function layerNormBenchCases(R = 12608, D = 384, tsRows = 197): BenchCase[] {
  const eps = 1e-6;
  const shape = `${R}x${D}`;
  const kern = () => wasmKernels() as unknown as RowKernelAbi;
  // [x, y, gradY, gradX] [R·D], [weight, bias, gradWeight, gradBias] [D], [mean, rstd] [R]
  let w: { big: number[]; cols: number[]; rows: number[] } | null = null;
  const wasmSetup = () => {
    if (w === null) {
      const big = arenaTensors(R * D, 4, (v, i) => fillUniform(v, 21 + i, -2, 2));
      const cols = arenaTensors(D, 4, (v, i) => fillUniform(v, 31 + i, 0.5, 1.5));
      const rows = arenaTensors(R, 2, () => {});
      w = { big, cols, rows };
    }
    return w;
  };
  const fwd = ({ big: [x, y], cols: [wt, b], rows: [m, s] }: NonNullable<typeof w>) => kern().layerNormForward(y, m, s, x, wt, b, R, D, eps);
  const wasmFwd = lazy(wasmSetup, fwd);
  const wasmFwdBwd = lazy(wasmSetup, (t) => {
    fwd(t);
    const { big: [x, , gy, gx], cols: [wt, , gw, gb], rows: [m, s] } = t;
    kern().layerNormBackward(gx, gw, gb, gy, x, m, s, wt, R, D);
  });

  const rt = Math.min(R, tsRows);
  let ts: Float32Array[] = [];
  const tsSetup = () => {
    if (ts.length === 0) {
      ts = [...Array.from({ length: 4 }, () => new Float32Array(rt * D)), ...Array.from({ length: 4 }, () => new Float32Array(D)),
        new Float32Array(rt), new Float32Array(rt)];
      ts.slice(0, 4).forEach((v, i) => fillUniform(v, 21 + i, -2, 2));
      ts.slice(4, 8).forEach((v, i) => fillUniform(v, 31 + i, 0.5, 1.5));
    }
    return ts;
  };
  const tsFwdOnce = ([x, y, , , wt, b, , , m, s]: Float32Array[]) => layerNormForwardRef(y, m, s, x, wt, b, rt, D, eps);
  const tsFwd = lazy(tsSetup, tsFwdOnce);
  const tsFwdBwd = lazy(tsSetup, (t) => {
    tsFwdOnce(t);
    const [x, , gy, gx, wt, , gw, gb, m, s] = t;
    layerNormBackwardRef(gx, gw, gb, gy, x, m, s, wt, rt, D);
  });
  const note = `${LN_FWD_FLOPS} (fwd) + ${LN_BWD_FLOPS} (bwd) flop/elem`;
  const tsNote = `ts oracle on ${rt} of ${R} rows; ${note}`;
  return [
    { name: `layernorm fwd ${shape}`, impl: "wasm-simd", flops: LN_FWD_FLOPS * R * D, note, run: wasmFwd },
    { name: `layernorm fwd+bwd ${shape}`, impl: "wasm-simd", flops: (LN_FWD_FLOPS + LN_BWD_FLOPS) * R * D, note, run: wasmFwdBwd },
    { name: `layernorm fwd ${shape}`, impl: "ts", flops: LN_FWD_FLOPS * rt * D, note: tsNote, run: tsFwd },
    { name: `layernorm fwd+bwd ${shape}`, impl: "ts", flops: (LN_FWD_FLOPS + LN_BWD_FLOPS) * rt * D, note: tsNote, run: tsFwdBwd },
  ];
}

/**
 * "softmax RxK" and "log_softmax RxK" at temperature 0.1: the DINO student head output, R = 10
 * crops × 64 images. Logits ~ U[−1, 1) (so z = logits/τ spans [−10, 10)). ts on tsRows rows.
 */
export function softmaxBenchCases(R = 640, K = 65536, tsRows = 10): BenchCase[] {
  const tau = 0.1;
  const shape = `${R}x${K}`;
  const kern = () => wasmKernels() as unknown as RowKernelAbi;
  // [logits, out], shared by both cases (the kernels overwrite out completely)
  let ptrs: number[] = [];
  const wasmSetup = () => {
    if (ptrs.length === 0) ptrs = arenaTensors(R * K, 2, (v, i) => fillUniform(v, 41 + i));
    return ptrs;
  };
  const rt = Math.min(R, tsRows);
  let ts: Float32Array[] = [];
  const tsSetup = () => {
    if (ts.length === 0) {
      ts = [new Float32Array(rt * K), new Float32Array(rt * K)];
      fillUniform(ts[0], 41);
    }
    return ts;
  };
  const tsNote = `ts oracle on ${rt} of ${R} rows`;
  return [
    { name: `softmax ${shape}`, impl: "wasm-simd", flops: SOFTMAX_FLOPS * R * K, note: `τ ${tau}; ${SOFTMAX_FLOPS} flop/elem`,
      run: lazy(wasmSetup, ([l, p]) => kern().softmaxForward(p, l, R, K, tau)) },
    { name: `softmax ${shape}`, impl: "ts", flops: SOFTMAX_FLOPS * rt * K, note: `${tsNote}; τ ${tau}; ${SOFTMAX_FLOPS} flop/elem`,
      run: lazy(tsSetup, ([l, p]) => softmaxForwardRef(p, l, rt, K, tau)) },
    { name: `log_softmax ${shape}`, impl: "wasm-simd", flops: LOG_SOFTMAX_FLOPS * R * K, note: `τ ${tau}; ${LOG_SOFTMAX_FLOPS} flop/elem`,
      run: lazy(wasmSetup, ([l, p]) => kern().logSoftmaxForward(p, l, R, K, tau)) },
    { name: `log_softmax ${shape}`, impl: "ts", flops: LOG_SOFTMAX_FLOPS * rt * K, note: `${tsNote}; τ ${tau}; ${LOG_SOFTMAX_FLOPS} flop/elem`,
      run: lazy(tsSetup, ([l, p]) => logSoftmaxForwardRef(p, l, rt, K, tau)) },
  ];
}
