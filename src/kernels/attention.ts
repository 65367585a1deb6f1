// The core of multi-head self-attention on per-head tensors q, k, v [B,H,N,Dh]:
//   attn [B,H,N,N] = softmax((q·kᵀ)·scale) along each row (scale applied AFTER the dot product),
//   out [B,H,N,Dh] = attn·v,
// and its backward. `attentionForwardRef`/`attentionBackwardRef` are the readable oracles
// (float64 arithmetic, rounded on store); `attentionForward`/`attentionBackward` run the SIMD wasm
// kernels (f32 dot products in index order, float64 softmax exps; scale rounded to f32 as PyTorch does).

import type { FloatArray } from "../tensor/floatArray.js";
import { softmaxForwardRef } from "./softmax.js";
import { wasmKernels } from "./wasm.js";
import { callWithArrays, withScratch, type Arena } from "./arena.js";
import { parallelMinWork, runChunks, threadCount } from "./threads.js";
import type { KernelExports } from "./wasm.js";
import { check } from "../tensor/errors.js";
import { NO_BUGS, type Bugs } from "../tensor/portingBugs.js";

export interface AttentionAbi {
  attentionForward(out: number, attn: number, q: number, k: number, v: number, B: number, H: number, N: number, Dh: number, scale: number, work: number): void;
  attentionBackward(
    gradQ: number, gradK: number, gradV: number, gradOut: number, q: number, k: number, v: number, attn: number,
    B: number, H: number, N: number, Dh: number, scale: number, work: number,
  ): void;
  attentionForwardPart(out: number, attn: number, q: number, k: number, v: number, B: number, H: number, N: number, Dh: number, scale: number, work: number, bh0: number, bh1: number): void;
  attentionBackwardPart(
    gradQ: number, gradK: number, gradV: number, gradOut: number, q: number, k: number, v: number, attn: number,
    B: number, H: number, N: number, Dh: number, scale: number, work: number, bh0: number, bh1: number,
  ): void;
}

/**
 * Runs a slab-range kernel (`attentionForwardPart` / `attentionBackwardPart`: args end with work,
 * bh0, bh1) on B·H (batch, head) slabs: one call, or chunks of slabs on the threads, each with its
 * own workspace of `workFloats`. Slabs are independent, so the result does not depend on the split.
 */
function runSlabs(
  kern: AttentionAbi, arena: Arena, kernel: "attentionForwardPart" | "attentionBackwardPart", args: number[], BH: number, N: number, Dh: number, workFloats: number,
): void {
  const threads = Math.min(threadCount(), BH);
  const workSlot = args.length;
  if (threads < 2 || BH * N * N * Dh < parallelMinWork()) {
    (kern[kernel] as (...a: number[]) => void)(...args, arena.allocF32(workFloats), 0, BH);
    return;
  }
  // every workspace is allocated before any thread starts: memory does not grow while they run
  const works = Array.from({ length: threads }, () => arena.allocF32(workFloats));
  const step = Math.max(1, Math.ceil(BH / (4 * threads)));
  runChunks(kern as unknown as KernelExports, { kernel, args: [...args, 0, 0, BH], workSlot, loSlot: workSlot + 1, hiSlot: workSlot + 2, len: BH, step, works });
}

/**
 * Oracle. attn = softmax((q·kᵀ)·scale) per row, out = attn·v, slab by slab over (b, h).
 * `bugs` (diagnosis only): attention.no_scale uses scale 1; attention.softmax_wrong_axis
 * normalises each column (over the queries, dim −2) instead of each row.
 */
export function attentionForwardRef(
  out: FloatArray, attn: FloatArray, q: FloatArray, k: FloatArray, v: FloatArray, B: number, H: number, N: number, Dh: number, scale: number,
  bugs: Bugs = NO_BUGS,
): void {
  checkForwardArgs(out, attn, q, k, v, B, H, N, Dh, scale);
  if (bugs.has("attention.no_scale")) scale = 1;
  const wrongAxis = bugs.has("attention.softmax_wrong_axis");
  const scores = q instanceof Float64Array ? new Float64Array(N * N) : new Float32Array(N * N);
  for (let bh = 0; bh < B * H; bh++) {
    const o = bh * N * Dh; // offset of this (b, h) slab in q, k, v, out
    const a = bh * N * N; // and in attn
    for (let i = 0; i < N; i++) {
      for (let j = 0; j < N; j++) {
        // score_ij = (q_i · k_j)·scale
        let dot = 0;
        for (let d = 0; d < Dh; d++) dot += q[o + i * Dh + d] * k[o + j * Dh + d];
        scores[i * N + j] = dot * scale;
      }
    }
    // attn_i = softmax(score_i)
    if (wrongAxis) columnSoftmax(attn.subarray(a, a + N * N), scores, N);
    else softmaxForwardRef(attn.subarray(a, a + N * N), scores, N, N, 1);
    for (let i = 0; i < N; i++) {
      for (let d = 0; d < Dh; d++) {
        // out_id = Σ_j attn_ij·v_jd
        let sum = 0;
        for (let j = 0; j < N; j++) sum += attn[a + i * N + j] * v[o + j * Dh + d];
        out[o + i * Dh + d] = sum;
      }
    }
  }
}

/**
 * Oracle, accumulating into gradQ, gradK, gradV [B,H,N,Dh], from gradOut and the saved attn:
 *   gradV += attnᵀ·gradOut
 *   gradAttn = gradOut·vᵀ
 *   gradScores = attn ⊙ (gradAttn − rowsum(gradAttn ⊙ attn))   (softmax backward)
 *   gradQ += gradScores·k·scale,  gradK += gradScoresᵀ·q·scale
 */
export function attentionBackwardRef(
  gradQ: FloatArray, gradK: FloatArray, gradV: FloatArray, gradOut: FloatArray, q: FloatArray, k: FloatArray, v: FloatArray, attn: FloatArray,
  B: number, H: number, N: number, Dh: number, scale: number, bugs: Bugs = NO_BUGS,
): void {
  checkBackwardArgs(gradQ, gradK, gradV, gradOut, q, k, v, attn, B, H, N, Dh, scale);
  if (bugs.has("attention.no_scale")) scale = 1;
  const wrongAxis = bugs.has("attention.softmax_wrong_axis");
  const gradAttn = new Float64Array(N);
  const gradScores = new Float64Array(N * N); // already multiplied by scale
  for (let bh = 0; bh < B * H; bh++) {
    const o = bh * N * Dh;
    const a = bh * N * N;
    if (wrongAxis) {
      columnSoftmaxScoreGradients(gradScores, gradOut, v, attn, o, a, N, Dh, scale);
    } else {
      for (let i = 0; i < N; i++) {
        // gradAttn_ij = gradOut_i · v_j
        for (let j = 0; j < N; j++) {
          let dot = 0;
          for (let d = 0; d < Dh; d++) dot += gradOut[o + i * Dh + d] * v[o + j * Dh + d];
          gradAttn[j] = dot;
        }
        // rowsum_i = Σ_j gradAttn_ij·attn_ij
        let rowsum = 0;
        for (let j = 0; j < N; j++) rowsum += gradAttn[j] * attn[a + i * N + j];
        // gradScores_ij = attn_ij·(gradAttn_ij − rowsum_i), times scale (the gradient of (q·kᵀ)·scale)
        for (let j = 0; j < N; j++) gradScores[i * N + j] = attn[a + i * N + j] * (gradAttn[j] - rowsum) * scale;
      }
    }
    for (let i = 0; i < N; i++) {
      for (let d = 0; d < Dh; d++) {
        // gradQ_id += Σ_j gradScores_ij·k_jd;  gradK_id += Σ_j gradScores_ji·q_jd;  gradV_id += Σ_j attn_ji·gradOut_jd
        let gq = 0;
        let gk = 0;
        let gv = 0;
        for (let j = 0; j < N; j++) {
          gq += gradScores[i * N + j] * k[o + j * Dh + d];
          gk += gradScores[j * N + i] * q[o + j * Dh + d];
          gv += attn[a + j * N + i] * gradOut[o + j * Dh + d];
        }
        gradQ[o + i * Dh + d] += gq;
        gradK[o + i * Dh + d] += gk;
        gradV[o + i * Dh + d] += gv;
      }
    }
  }
}

/** attention.softmax_wrong_axis (diagnosis only): attn [N,N] = softmax of `scores` down each column j (over the queries i). */
function columnSoftmax(attn: FloatArray, scores: FloatArray, N: number): void {
  const column = new Float64Array(N);
  const probs = attn instanceof Float64Array ? new Float64Array(N) : new Float32Array(N);
  for (let j = 0; j < N; j++) {
    for (let i = 0; i < N; i++) column[i] = scores[i * N + j];
    softmaxForwardRef(probs, column, 1, N, 1);
    for (let i = 0; i < N; i++) attn[i * N + j] = probs[i];
  }
}

/**
 * The backward of the column softmax into gradScores [N,N] (times scale) for one (b, h) slab at
 * offsets o (q, k, v) and a (attn): gradScores_ij = attn_ij·(gradAttn_ij − Σ_i' gradAttn_i'j·attn_i'j).
 */
function columnSoftmaxScoreGradients(
  gradScores: Float64Array, gradOut: FloatArray, v: FloatArray, attn: FloatArray, o: number, a: number, N: number, Dh: number, scale: number,
): void {
  const gradAttn = new Float64Array(N * N);
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < N; j++) {
      // gradAttn_ij = gradOut_i · v_j
      let dot = 0;
      for (let d = 0; d < Dh; d++) dot += gradOut[o + i * Dh + d] * v[o + j * Dh + d];
      gradAttn[i * N + j] = dot;
    }
  }
  for (let j = 0; j < N; j++) {
    // colsum_j = Σ_i gradAttn_ij·attn_ij
    let colsum = 0;
    for (let i = 0; i < N; i++) colsum += gradAttn[i * N + j] * attn[a + i * N + j];
    for (let i = 0; i < N; i++) gradScores[i * N + j] = attn[a + i * N + j] * (gradAttn[i * N + j] - colsum) * scale;
  }
}

/** Floats of wasm workspace: kᵀ (or vᵀ) padded to a multiple of 8 columns, 4 score rows, and for the backward gradScores [N,N]. */
export function attentionWorkFloats(N: number, Dh: number, backward: boolean): number {
  const Np = Math.ceil(N / 8) * 8;
  return (Dh + 4) * Np + (backward ? N * N : 0);
}

/** SIMD wasm kernel, same contract as `attentionForwardRef`. */
export function attentionForward(
  out: Float32Array, attn: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, B: number, H: number, N: number, Dh: number, scale: number,
): void {
  checkForwardArgs(out, attn, q, k, v, B, H, N, Dh, scale);
  const kern = wasmKernels() as unknown as AttentionAbi;
  callWithArrays([out, attn, q, k, v], [0, 1], (po, pa, pq, pk, pv) =>
    withScratch((a) => runSlabs(kern, a, "attentionForwardPart", [po, pa, pq, pk, pv, B, H, N, Dh, scale], B * H, N, Dh, attentionWorkFloats(N, Dh, false))),
  );
}

/** SIMD wasm kernel, same contract as `attentionBackwardRef`. */
export function attentionBackward(
  gradQ: Float32Array, gradK: Float32Array, gradV: Float32Array, gradOut: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array,
  attn: Float32Array, B: number, H: number, N: number, Dh: number, scale: number,
): void {
  checkBackwardArgs(gradQ, gradK, gradV, gradOut, q, k, v, attn, B, H, N, Dh, scale);
  const kern = wasmKernels() as unknown as AttentionAbi;
  callWithArrays([gradQ, gradK, gradV, gradOut, q, k, v, attn], [0, 1, 2], (pgq, pgk, pgv, pgo, pq, pk, pv, pa) =>
    withScratch((a) =>
      runSlabs(kern, a, "attentionBackwardPart", [pgq, pgk, pgv, pgo, pq, pk, pv, pa, B, H, N, Dh, scale], B * H, N, Dh, attentionWorkFloats(N, Dh, true)),
    ),
  );
}

function checkSizes(fn: string, B: number, H: number, N: number, Dh: number, scale: number): void {
  for (const [name, value, meaning] of [["B", B, "batch"], ["H", H, "heads"], ["N", N, "tokens"], ["Dh", Dh, "head width"]] as const) {
    check(Number.isInteger(value) && value > 0, () => `${fn}: ${name} (${meaning}) must be a positive integer, got ${value}`);
  }
  check(Number.isFinite(scale), () => `${fn}: scale must be a finite number, got ${scale}`);
}

function checkLengths(fn: string, B: number, H: number, N: number, Dh: number, perHead: [string, FloatArray][], perScore: [string, FloatArray][]): void {
  const nt = B * H * N * Dh;
  const na = B * H * N * N;
  for (const [name, a] of perHead) check(a.length === nt, () => `${fn}: ${name} has ${a.length} elements, expected B·H·N·Dh = ${B}·${H}·${N}·${Dh} = ${nt}`);
  for (const [name, a] of perScore) check(a.length === na, () => `${fn}: ${name} has ${a.length} elements, expected B·H·N·N = ${B}·${H}·${N}·${N} = ${na}`);
}

function checkForwardArgs(
  out: FloatArray, attn: FloatArray, q: FloatArray, k: FloatArray, v: FloatArray, B: number, H: number, N: number, Dh: number, scale: number,
): void {
  checkSizes("attentionForward", B, H, N, Dh, scale);
  checkLengths("attentionForward", B, H, N, Dh, [["q", q], ["k", k], ["v", v], ["out", out]], [["attn", attn]]);
}

function checkBackwardArgs(
  gradQ: FloatArray, gradK: FloatArray, gradV: FloatArray, gradOut: FloatArray, q: FloatArray, k: FloatArray, v: FloatArray, attn: FloatArray,
  B: number, H: number, N: number, Dh: number, scale: number,
): void {
  checkSizes("attentionBackward", B, H, N, Dh, scale);
  checkLengths(
    "attentionBackward", B, H, N, Dh,
    [["gradQ", gradQ], ["gradK", gradK], ["gradV", gradV], ["gradOut", gradOut], ["q", q], ["k", k], ["v", v]],
    [["attn", attn]],
  );
}
