// The core of multi-head self-attention on per-head tensors q, k, v [B,H,N,Dh]:
//   attn [B,H,N,N] = softmax((q·kᵀ)·scale) along each row (scale applied AFTER the dot product),
//   out [B,H,N,Dh] = attn·v,
// and its backward. `attentionForwardRef`/`attentionBackwardRef` are the readable oracles
// (float64 arithmetic, rounded on store); `attentionForward`/`attentionBackward` run the SIMD wasm
// kernels (f32 dot products in index order, float64 softmax exps; scale rounded to f32 as PyTorch does).

import type { FloatArray } from "./floatArray.js";
import { softmaxForwardRef } from "./softmax.js";
import { wasmKernels } from "./wasm.js";
import { callWithArrays, withScratch } from "./arena.js";
import { check } from "../tensor/errors.js";

export interface AttentionAbi {
  attentionForward(out: number, attn: number, q: number, k: number, v: number, B: number, H: number, N: number, Dh: number, scale: number, work: number): void;
  attentionBackward(
    gradQ: number, gradK: number, gradV: number, gradOut: number, q: number, k: number, v: number, attn: number,
    B: number, H: number, N: number, Dh: number, scale: number, work: number,
  ): void;
}

/** Oracle. attn = softmax((q·kᵀ)·scale) per row, out = attn·v, slab by slab over (b, h). */
export function attentionForwardRef(
  out: FloatArray, attn: FloatArray, q: FloatArray, k: FloatArray, v: FloatArray, B: number, H: number, N: number, Dh: number, scale: number,
): void {
  checkForwardArgs(out, attn, q, k, v, B, H, N, Dh, scale);
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
    softmaxForwardRef(attn.subarray(a, a + N * N), scores, N, N, 1);
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
  B: number, H: number, N: number, Dh: number, scale: number,
): void {
  checkBackwardArgs(gradQ, gradK, gradV, gradOut, q, k, v, attn, B, H, N, Dh, scale);
  const gradAttn = new Float64Array(N);
  const gradScores = new Float64Array(N * N); // already multiplied by scale
  for (let bh = 0; bh < B * H; bh++) {
    const o = bh * N * Dh;
    const a = bh * N * N;
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
    withScratch((a) => kern.attentionForward(po, pa, pq, pk, pv, B, H, N, Dh, scale, a.allocF32(attentionWorkFloats(N, Dh, false)))),
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
      kern.attentionBackward(pgq, pgk, pgv, pgo, pq, pk, pv, pa, B, H, N, Dh, scale, a.allocF32(attentionWorkFloats(N, Dh, true))),
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
