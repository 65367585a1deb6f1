// Matrix product C[M,N] (+)= op(A)·op(B) (+ bias[N]) (then + residual[M,N]) and its backward, for
// linear layers and attention.
// `matmulRef` / `matmulBackwardRef` are the readable oracles; `matmul` / `matmulBackward` run the SIMD wasm kernel.
//
// Shapes (M/K/N legend of the matmul files): NN: A [M,K], B [K,N]; NT: A [M,K], B stored [N,K]
// (C = A·Bᵀ); TN: A stored [K,M] (C = Aᵀ·B), B [K,N]. C [M,N], bias [N] or null.
// Every C element starts from init = (accumulate ? C : 0) + bias and adds the K products in
// ascending k. The wasm kernel does this in float32 (mul, then add), so a row of C never depends on
// other rows of A, nor on the blocking. K = 0 is allowed and gives C = init (the empty sum, as in
// PyTorch's addmm); M and N must be at least 1. A residual R [M,N] (a skip connection) is added to
// each finished element as it is stored: C = R + (init + Σ), the same two roundings as a separate
// add after the product, without a second pass over C.
//
// Threads (src/kernels/threads.ts): a product of at least parallelMinWork() multiply-adds is split
// into chunks of C (contiguous row ranges, or column ranges when N > M), a few per thread, which
// the threads claim one at a time and compute with the kernel's `matmulPart` in their own
// workspaces. Since every C element gets the same operations in the same order whoever computes
// it, results are bit-identical for any thread count and any split.

import { wasmKernels, type KernelExports } from "./wasm.js";
import { callWithArrays, withScratch, type Arena } from "./arena.js";
import { parallelMinWork, runChunks, runRange, threadCount } from "./threads.js";
import type { FloatArray } from "../tensor/floatArray.js";
import { check } from "../tensor/errors.js";

export type MatmulLayout = "NN" | "NT" | "TN";

const LAYOUT_CODE: Record<MatmulLayout, number> = { NN: 0, NT: 1, TN: 2 };

interface MatmulAbi {
  matmulWorkspaceBytes(M: number, K: number, N: number): number;
  matmul(c: number, a: number, b: number, bias: number, M: number, K: number, N: number, layout: number, accumulate: number, work: number, resid: number): void;
  matmulPart(
    c: number, a: number, b: number, bias: number, M: number, K: number, N: number, layout: number, accumulate: number, work: number,
    m0: number, m1: number, n0: number, n1: number, resid: number,
  ): void;
  matmulBiasGrad(gradBias: number, gradC: number, M: number, N: number): void;
}

/**
 * Oracle. C[m,n] = (accumulate ? C[m,n] : 0) + bias[n] + Σ_k op(A)[m,k]·op(B)[k,n], then, with a
 * residual, C[m,n] = residual[m,n] + C[m,n] (residual [M,N], not overlapping C).
 */
export function matmulRef(
  c: FloatArray, a: FloatArray, b: FloatArray, bias: FloatArray | null,
  M: number, K: number, N: number, layout: MatmulLayout, accumulate: boolean, residual: FloatArray | null = null,
): void {
  checkMatmulArgs("matmulRef", c, a, b, bias, M, K, N, layout, residual);
  // op(A)[m,k] = a[m·am + k·ak] and op(B)[k,n] = b[k·bk + n·bn]: the layout only changes strides
  const [am, ak] = layout === "TN" ? [1, M] : [K, 1];
  const [bk, bn] = layout === "NT" ? [1, K] : [N, 1];
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = accumulate ? c[m * N + n] : 0;
      if (bias !== null) s += bias[n];
      // C[m,n] = init + Σ_k op(A)[m,k]·op(B)[k,n]
      for (let k = 0; k < K; k++) s += a[m * am + k * ak] * b[k * bk + n * bn];
      c[m * N + n] = s;
      // C = R + C (rounded by C's array like a separate add)
      if (residual !== null) c[m * N + n] = residual[m * N + n] + c[m * N + n];
    }
  }
}

/** SIMD wasm kernel, same contract as `matmulRef` (float32 only). */
export function matmul(
  c: Float32Array, a: Float32Array, b: Float32Array, bias: Float32Array | null,
  M: number, K: number, N: number, layout: MatmulLayout, accumulate: boolean, residual: Float32Array | null = null,
): void {
  checkMatmulArgs("matmul", c, a, b, bias, M, K, N, layout, residual);
  const k = wasmKernels() as unknown as MatmulAbi;
  callWithArrays([c, a, b, bias, residual], [0], (pc, pa, pb, pbias, pr) =>
    withScratch((arena) => runMatmul(k, arena, pc, pa, pb, pbias, M, K, N, LAYOUT_CODE[layout], accumulate ? 1 : 0, pr)),
  );
}

/** Alignment of the chunks of C: whole register tiles (MR = 4 rows, NR = 8 columns). */
const ROW_ALIGN = 4;
const COL_ALIGN = 8;
/** Chunks per thread: enough for a thread slowed by other processes to take fewer. */
const CHUNKS_PER_THREAD = 4;
/** Least work (multiply-adds) of a chunk when there are more chunks than threads. */
const MIN_CHUNK_WORK = 2 ** 17;

/** Chunks of C: rows (byRows) or columns [i·step, min(len, (i + 1)·step)), i < count. */
export interface MatmulSplit {
  byRows: boolean;
  len: number;
  step: number;
  count: number;
}

/**
 * How C [M,N] = op(A)·op(B) (reduction K) is cut for `threads` threads: along the longer side
 * (rows when M ≥ N), in chunks of whole register tiles, up to CHUNKS_PER_THREAD per thread as
 * long as a chunk keeps MIN_CHUNK_WORK multiply-adds. count = 1 means no split.
 */
export function matmulSplit(M: number, N: number, K: number, threads: number): MatmulSplit {
  const byRows = M >= N;
  const [len, align] = byRows ? [M, ROW_ALIGN] : [N, COL_ALIGN];
  const byWork = Math.max(threads, Math.floor((M * N * K) / MIN_CHUNK_WORK));
  const want = Math.max(1, Math.min(Math.floor(len / align), threads * CHUNKS_PER_THREAD, byWork));
  const step = Math.ceil(Math.ceil(len / want) / align) * align;
  return { byRows, len, step, count: Math.ceil(len / step) };
}

/** C = init + op(A)·op(B) on pointers: one `matmul` call, or `matmulPart` chunks on the threads. */
function runMatmul(
  k: MatmulAbi, arena: Arena, pc: number, pa: number, pb: number, pbias: number,
  M: number, K: number, N: number, layout: number, accumulate: number, presid = 0,
): void {
  const threads = threadCount();
  const split = threads > 1 && M * N * K >= parallelMinWork() ? matmulSplit(M, N, K, threads) : null;
  if (split === null || split.count < 2) {
    // the workspace may grow memory: pointers stay valid
    const work = arena.allocBytes(k.matmulWorkspaceBytes(M, K, N));
    k.matmul(pc, pa, pb, pbias, M, K, N, layout, accumulate, work, presid);
    return;
  }
  const { byRows, len, step, count } = split;
  // every workspace is allocated before any thread starts: memory does not grow while they run
  const workBytes = byRows ? k.matmulWorkspaceBytes(step, K, N) : k.matmulWorkspaceBytes(M, K, step);
  const works = Array.from({ length: Math.min(threads, count) }, () => arena.allocBytes(workBytes));
  // matmulPart(c, a, b, bias, M, K, N, layout, accumulate, work, m0, m1, n0, n1, resid)
  const args = [pc, pa, pb, pbias, M, K, N, layout, accumulate, 0, 0, M, 0, N, presid];
  runChunks(k as unknown as KernelExports, {
    kernel: "matmulPart", args, workSlot: 9, loSlot: byRows ? 10 : 12, hiSlot: byRows ? 11 : 13, len, step, works,
  });
}

/**
 * Oracle. Backward of C = A·B + bias, A [M,K], B [K,N], gradC [M,N]; ACCUMULATES:
 * gradA += gradC·Bᵀ, gradB += Aᵀ·gradC, gradBias += Σ_rows gradC. A null gradient is skipped.
 */
export function matmulBackwardRef(
  gradA: FloatArray | null, gradB: FloatArray | null, gradBias: FloatArray | null,
  gradC: FloatArray, a: FloatArray, b: FloatArray, M: number, K: number, N: number,
): void {
  checkBackwardArgs("matmulBackwardRef", gradA, gradB, gradBias, gradC, a, b, M, K, N);
  if (gradA !== null) {
    for (let m = 0; m < M; m++) {
      for (let k = 0; k < K; k++) {
        // ∂L/∂A[m,k] = Σ_n ∂L/∂C[m,n]·B[k,n]
        let s = 0;
        for (let n = 0; n < N; n++) s += gradC[m * N + n] * b[k * N + n];
        gradA[m * K + k] += s;
      }
    }
  }
  if (gradB !== null) {
    for (let k = 0; k < K; k++) {
      for (let n = 0; n < N; n++) {
        // ∂L/∂B[k,n] = Σ_m A[m,k]·∂L/∂C[m,n]
        let s = 0;
        for (let m = 0; m < M; m++) s += a[m * K + k] * gradC[m * N + n];
        gradB[k * N + n] += s;
      }
    }
  }
  if (gradBias !== null) {
    for (let n = 0; n < N; n++) {
      // ∂L/∂bias[n] = Σ_m ∂L/∂C[m,n]
      let s = 0;
      for (let m = 0; m < M; m++) s += gradC[m * N + n];
      gradBias[n] += s;
    }
  }
}

/**
 * SIMD wasm kernel, same contract as `matmulBackwardRef`: gradA by an NT product (gradC·Bᵀ),
 * gradB by a TN product (Aᵀ·gradC), both accumulating in float32 from the current gradient.
 */
export function matmulBackward(
  gradA: Float32Array | null, gradB: Float32Array | null, gradBias: Float32Array | null,
  gradC: Float32Array, a: Float32Array, b: Float32Array, M: number, K: number, N: number,
): void {
  checkBackwardArgs("matmulBackward", gradA, gradB, gradBias, gradC, a, b, M, K, N);
  const k = wasmKernels() as unknown as MatmulAbi;
  callWithArrays([gradA, gradB, gradBias, gradC, a, b], [0, 1, 2], (pgA, pgB, pgBias, pgC, pa, pb) =>
    withScratch((arena) => {
      if (pgA !== 0 && K > 0) {
        // gradA [M,K] += gradC [M,N] · (B stored [K,N])ᵀ: NT with sizes (M, N, K)
        runMatmul(k, arena, pgA, pgC, pb, 0, M, N, K, LAYOUT_CODE.NT, 1);
      }
      if (pgB !== 0 && K > 0) {
        // gradB [K,N] += (A stored [M,K])ᵀ · gradC [M,N]: TN with sizes (K, M, N)
        runMatmul(k, arena, pgB, pa, pgC, 0, K, M, N, LAYOUT_CODE.TN, 1);
      }
      if (pgBias !== 0) runRange(k as unknown as KernelExports, "matmulBiasGradPart", [pgBias, pgC, M, N], N, 4, M * N);
    }),
  );
}

function checkSizes(fn: string, M: number, K: number, N: number): void {
  check(Number.isInteger(M) && M >= 1, () => `${fn}: M = ${M}; expected a positive integer (rows of C)`);
  check(Number.isInteger(K) && K >= 0, () => `${fn}: K = ${K}; expected a non-negative integer (the reduction length)`);
  check(Number.isInteger(N) && N >= 1, () => `${fn}: N = ${N}; expected a positive integer (columns of C)`);
}

function checkLength(fn: string, name: string, x: { length: number }, want: number, shape: string): void {
  check(x.length === want, () => `${fn}: ${name} has ${x.length} elements; expected ${shape} = ${want}`);
}

function checkMatmulArgs(
  fn: string, c: FloatArray, a: FloatArray, b: FloatArray, bias: FloatArray | null,
  M: number, K: number, N: number, layout: MatmulLayout, residual: FloatArray | null = null,
): void {
  checkSizes(fn, M, K, N);
  check(layout in LAYOUT_CODE, () => `${fn}: layout "${String(layout)}"; expected "NN", "NT" or "TN"`);
  checkLength(fn, "c", c, M * N, `[M,N] = [${M},${N}]`);
  checkLength(fn, "a", a, M * K, layout === "TN" ? `[K,M] = [${K},${M}]` : `[M,K] = [${M},${K}]`);
  checkLength(fn, "b", b, K * N, layout === "NT" ? `[N,K] = [${N},${K}]` : `[K,N] = [${K},${N}]`);
  if (bias !== null) checkLength(fn, "bias", bias, N, `[N] = [${N}]`);
  if (residual !== null) {
    checkLength(fn, "residual", residual, M * N, `[M,N] = [${M},${N}]`);
    // C's partial sums (K blocks) must not overwrite the residual before it is read
    const overlap = residual.buffer === c.buffer && residual.byteOffset < c.byteOffset + c.byteLength && c.byteOffset < residual.byteOffset + residual.byteLength;
    check(!overlap, () => `${fn}: residual overlaps c; expected separate arrays`);
  }
}

function checkBackwardArgs(
  fn: string, gradA: FloatArray | null, gradB: FloatArray | null, gradBias: FloatArray | null,
  gradC: FloatArray, a: FloatArray, b: FloatArray, M: number, K: number, N: number,
): void {
  checkSizes(fn, M, K, N);
  checkLength(fn, "gradC", gradC, M * N, `[M,N] = [${M},${N}]`);
  checkLength(fn, "a", a, M * K, `[M,K] = [${M},${K}]`);
  checkLength(fn, "b", b, K * N, `[K,N] = [${K},${N}]`);
  if (gradA !== null) checkLength(fn, "gradA", gradA, M * K, `[M,K] = [${M},${K}]`);
  if (gradB !== null) checkLength(fn, "gradB", gradB, K * N, `[K,N] = [${K},${N}]`);
  if (gradBias !== null) checkLength(fn, "gradBias", gradBias, N, `[N] = [${N}]`);
}

/** Oracle. gradBias [N] += Σ_m gradC[m, ·] over the M rows of gradC [M,N] (a Linear layer's bias gradient). */
export function matmulBiasGradRef(gradBias: FloatArray, gradC: FloatArray, M: number, N: number): void {
  checkSizes("matmulBiasGradRef", M, 1, N);
  checkLength("matmulBiasGradRef", "gradBias", gradBias, N, `[N] = [${N}]`);
  checkLength("matmulBiasGradRef", "gradC", gradC, M * N, `[M,N] = [${M},${N}]`);
  for (let n = 0; n < N; n++) {
    // ∂L/∂bias[n] = Σ_m ∂L/∂C[m,n]
    let s = 0;
    for (let m = 0; m < M; m++) s += gradC[m * N + n];
    gradBias[n] += s;
  }
}

/** SIMD wasm kernel, same contract as `matmulBiasGradRef` (rows added in ascending order; columns split across the threads). */
export function matmulBiasGrad(gradBias: Float32Array, gradC: Float32Array, M: number, N: number): void {
  checkSizes("matmulBiasGrad", M, 1, N);
  checkLength("matmulBiasGrad", "gradBias", gradBias, N, `[N] = [${N}]`);
  checkLength("matmulBiasGrad", "gradC", gradC, M * N, `[M,N] = [${M},${N}]`);
  const k = wasmKernels();
  callWithArrays([gradBias, gradC], [0], (pBias, pC) => runRange(k, "matmulBiasGradPart", [pBias, pC, M, N], N, 4, M * N));
}
