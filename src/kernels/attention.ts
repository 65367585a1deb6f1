// The core of multi-head self-attention on per-head tensors q, k, v [B,H,N,Dh]:
//   attn [B,H,N,N] = softmax((q·kᵀ)·scale) along each row (scale applied AFTER the dot product),
//   out [B,H,N,Dh] = attn·v,
// and its backward; and the same on the model's row layout (`...Rows`): q, k, v read straight from
// the qkv Linear's output [B·N, 3D] and out written as the merged heads [B·N, D], so a block never
// copies heads apart or back together; there, only the first `queries` tokens of each sample may
// be queries (1: the CLS token, all the DINO head reads of the last block), out [B·queries, D]. `attentionForwardRef`/`attentionBackwardRef` are the
// readable oracles (float64 arithmetic, rounded on store; the row-layout oracles split the heads,
// call them, and merge); the others run the SIMD wasm kernels (f32 dot products in index order, a
// float32 exp in the softmax, scale rounded to f32 as PyTorch does), within the error bounds
// derived in attention.test.ts. The wasm forward writes attn only when it is given one (null: the
// teacher and inference, which never read it).

import type { FloatArray } from "../tensor/floatArray.js";
import { softmaxForwardRef } from "./softmax.js";
import { wasmKernels } from "./wasm.js";
import { callWithArrays, withScratch, type Arena } from "./arena.js";
import { parallelMinWork, runChunks, threadCount } from "./threads.js";
import type { KernelExports } from "./wasm.js";
import { check } from "../tensor/errors.js";
import { NO_BUGS, type Bugs } from "../tensor/portingBugs.js";

/** Layout codes of the wasm kernels: per-head tensors, or the model's qkv rows and merged heads. */
const HEADS = 0;
const ROWS = 1;

export interface AttentionAbi {
  attentionForwardWorkFloats(N: number, Dh: number): number;
  attentionBackwardWorkFloats(N: number, Dh: number): number;
  attentionForward(
    out: number, attn: number, q: number, k: number, v: number, B: number, H: number, N: number, Dh: number, scale: number, work: number, layout: number, NQ: number,
  ): void;
  attentionBackward(
    gradQ: number, gradK: number, gradV: number, gradOut: number, q: number, k: number, v: number, attn: number,
    B: number, H: number, N: number, Dh: number, scale: number, work: number, layout: number, accumulate: number, NQ: number,
  ): void;
  attentionForwardPart(
    out: number, attn: number, q: number, k: number, v: number, B: number, H: number, N: number, Dh: number, scale: number, work: number,
    bh0: number, bh1: number, layout: number, NQ: number,
  ): void;
  attentionBackwardPart(
    gradQ: number, gradK: number, gradV: number, gradOut: number, q: number, k: number, v: number, attn: number,
    B: number, H: number, N: number, Dh: number, scale: number, work: number, bh0: number, bh1: number, layout: number, accumulate: number, NQ: number,
  ): void;
}

/**
 * Runs a slab-range kernel (`attentionForwardPart` / `attentionBackwardPart`: args end with work,
 * bh0, bh1, then `tail`) on B·H (batch, head) slabs: one call, or chunks of slabs on the threads,
 * each with its own workspace of `workFloats`. Slabs are independent, so the result does not
 * depend on the split.
 */
function runSlabs(
  kern: AttentionAbi, arena: Arena, kernel: "attentionForwardPart" | "attentionBackwardPart", args: number[], tail: number[],
  BH: number, NQ: number, N: number, Dh: number, workFloats: number,
): void {
  const threads = Math.min(threadCount(), BH);
  const workSlot = args.length;
  if (threads < 2 || BH * NQ * N * Dh < parallelMinWork()) {
    (kern[kernel] as (...a: number[]) => void)(...args, arena.allocF32(workFloats), 0, BH, ...tail);
    return;
  }
  // every workspace is allocated before any thread starts: memory does not grow while they run
  const works = Array.from({ length: threads }, () => arena.allocF32(workFloats));
  const step = Math.max(1, Math.ceil(BH / (4 * threads)));
  runChunks(kern as unknown as KernelExports, { kernel, args: [...args, 0, 0, BH, ...tail], workSlot, loSlot: workSlot + 1, hiSlot: workSlot + 2, len: BH, step, works });
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

/** The wasm forward on pointers (attn 0: not written), `layout` HEADS or ROWS, NQ queries per sample. */
function runForward(
  a: Arena, po: number, pa: number, pq: number, pk: number, pv: number, B: number, H: number, N: number, Dh: number, scale: number, layout: number, NQ: number,
): void {
  const kern = wasmKernels() as unknown as AttentionAbi;
  runSlabs(kern, a, "attentionForwardPart", [po, pa, pq, pk, pv, B, H, N, Dh, scale], [layout, NQ], B * H, NQ, N, Dh, kern.attentionForwardWorkFloats(N, Dh));
}

/** The wasm backward on pointers, accumulating (1) or overwriting (0) the gradients. */
function runBackward(
  a: Arena, pgq: number, pgk: number, pgv: number, pgo: number, pq: number, pk: number, pv: number, pa: number,
  B: number, H: number, N: number, Dh: number, scale: number, layout: number, accumulate: number, NQ: number,
): void {
  const kern = wasmKernels() as unknown as AttentionAbi;
  runSlabs(kern, a, "attentionBackwardPart", [pgq, pgk, pgv, pgo, pq, pk, pv, pa, B, H, N, Dh, scale], [layout, accumulate, NQ], B * H, NQ, N, Dh, kern.attentionBackwardWorkFloats(N, Dh));
}

/** SIMD wasm kernel, same contract as `attentionForwardRef`. */
export function attentionForward(
  out: Float32Array, attn: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, B: number, H: number, N: number, Dh: number, scale: number,
): void {
  checkForwardArgs(out, attn, q, k, v, B, H, N, Dh, scale);
  callWithArrays([out, attn, q, k, v], [0, 1], (po, pa, pq, pk, pv) => withScratch((a) => runForward(a, po, pa, pq, pk, pv, B, H, N, Dh, scale, HEADS, N)));
}

/** SIMD wasm kernel, same contract as `attentionBackwardRef`. */
export function attentionBackward(
  gradQ: Float32Array, gradK: Float32Array, gradV: Float32Array, gradOut: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array,
  attn: Float32Array, B: number, H: number, N: number, Dh: number, scale: number,
): void {
  checkBackwardArgs(gradQ, gradK, gradV, gradOut, q, k, v, attn, B, H, N, Dh, scale);
  callWithArrays([gradQ, gradK, gradV, gradOut, q, k, v, attn], [0, 1, 2], (pgq, pgk, pgv, pgo, pq, pk, pv, pa) =>
    withScratch((a) => runBackward(a, pgq, pgk, pgv, pgo, pq, pk, pv, pa, B, H, N, Dh, scale, HEADS, 1, N)),
  );
}

/**
 * rows [B·N, S·D] ↔ heads: S tensors [B,H,N,Dh], where row (b·N + n) holds, for slot s and head h,
 * heads[s][b, h, n, :] at columns s·D + h·Dh .. (the [q | k | v] layout of qkv for S = 3, the
 * merged heads for S = 1). `toHeads` copies rows → heads, otherwise heads → rows.
 */
function permuteHeads(rows: FloatArray, heads: FloatArray[], B: number, N: number, H: number, Dh: number, toHeads: boolean): void {
  const S = heads.length;
  const D = H * Dh;
  for (let b = 0; b < B; b++) {
    for (let n = 0; n < N; n++) {
      const row = (b * N + n) * S * D;
      for (let s = 0; s < S; s++) {
        for (let h = 0; h < H; h++) {
          const r0 = row + s * D + h * Dh;
          const h0 = ((b * H + h) * N + n) * Dh;
          for (let d = 0; d < Dh; d++) {
            if (toHeads) heads[s][h0 + d] = rows[r0 + d];
            else rows[r0 + d] = heads[s][h0 + d];
          }
        }
      }
    }
  }
}

/** A new array of the same type as `like`, of length n. */
function like(x: FloatArray, n: number): FloatArray {
  return x instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
}

/** Rows of every sample's first NQ tokens: x [B·N, W] → [B·NQ, W] (NQ = N: a copy). */
function firstTokens(x: FloatArray, B: number, N: number, NQ: number, W: number): FloatArray {
  const out = like(x, B * NQ * W);
  for (let b = 0; b < B; b++) out.set(x.subarray(b * N * W, (b * N + NQ) * W), b * NQ * W);
  return out;
}

/** x [B·NQ, W] into the first NQ token rows of every sample of a zeroed [B·N, W]. */
function padTokens(x: FloatArray, B: number, N: number, NQ: number, W: number): FloatArray {
  const out = like(x, B * N * W);
  for (let b = 0; b < B; b++) out.set(x.subarray(b * NQ * W, (b + 1) * NQ * W), b * N * W);
  return out;
}

/** attn [B,H,N,N] → the first NQ query rows of each slab [B,H,NQ,N]. */
function firstQueryRows(attn: FloatArray, BH: number, N: number, NQ: number): FloatArray {
  return firstTokens(attn, BH, N, NQ, N);
}

/**
 * Oracle of the row layout. out [B·NQ, D] = the merged heads of softmax((q·kᵀ)·scale)·v for
 * [q | k | v] = qkv [B·N, 3D] split into H heads each, the first NQ = `queries` tokens of each
 * sample as queries (the rows full attention gives them); attn [B,H,NQ,N] (or null: not kept).
 */
export function attentionForwardRowsRef(
  out: FloatArray, attn: FloatArray | null, qkv: FloatArray, B: number, H: number, N: number, Dh: number, scale: number, queries = N, bugs: Bugs = NO_BUGS,
): void {
  checkRowsArgs("attentionForwardRows", out, null, qkv, attn, B, H, N, Dh, scale, queries);
  const n = B * H * N * Dh;
  const [q, k, v, o] = [0, 1, 2, 3].map(() => like(qkv, n));
  // q | k | v = the three D-wide thirds of qkv, each split into H heads of Dh
  permuteHeads(qkv, [q, k, v], B, N, H, Dh, true);
  const full = like(qkv, B * H * N * N);
  attentionForwardRef(o, full, q, k, v, B, H, N, Dh, scale, bugs);
  // out = the heads concatenated in order, the query rows of each sample
  const merged = like(qkv, B * N * H * Dh);
  permuteHeads(merged, [o], B, N, H, Dh, false);
  out.set(firstTokens(merged, B, N, queries, H * Dh));
  if (attn !== null) attn.set(firstQueryRows(full, B * H, N, queries));
}

/**
 * Oracle of the row layout's backward: gradQkv [B·N, 3D] = [∂L/∂q | ∂L/∂k | ∂L/∂v] merged back
 * into qkv's layout, from gradOut [B·NQ, D] (the merged heads' gradient at the NQ = `queries` query
 * rows; the other rows' outputs have none). OVERWRITES gradQkv (every element of it is written:
 * qkv is one Linear's output, its gradient has no other source).
 */
export function attentionBackwardRowsRef(
  gradQkv: FloatArray, gradOut: FloatArray, qkv: FloatArray, attn: FloatArray, B: number, H: number, N: number, Dh: number, scale: number, queries = N, bugs: Bugs = NO_BUGS,
): void {
  checkRowsArgs("attentionBackwardRows", gradOut, gradQkv, qkv, attn, B, H, N, Dh, scale, queries);
  const n = B * H * N * Dh;
  const [q, k, v, go, gq, gk, gv] = [0, 1, 2, 3, 4, 5, 6].map(() => like(qkv, n));
  permuteHeads(qkv, [q, k, v], B, N, H, Dh, true);
  permuteHeads(padTokens(gradOut, B, N, queries, H * Dh), [go], B, N, H, Dh, true);
  // the rows that are no queries: zero probabilities' gradient (their outputs have no gradient)
  attentionBackwardRef(gq, gk, gv, go, q, k, v, padTokens(attn, B * H, N, queries, N), B, H, N, Dh, scale, bugs);
  permuteHeads(gradQkv, [gq, gk, gv], B, N, H, Dh, false);
}

/** SIMD wasm kernel, same contract as `attentionForwardRowsRef` (attn null: the probabilities are not written). */
export function attentionForwardRows(
  out: Float32Array, attn: Float32Array | null, qkv: Float32Array, B: number, H: number, N: number, Dh: number, scale: number, queries = N,
): void {
  checkRowsArgs("attentionForwardRows", out, null, qkv, attn, B, H, N, Dh, scale, queries);
  const D = H * Dh;
  callWithArrays([out, attn, qkv], [0, 1], (po, pa, pqkv) =>
    // q, k, v: qkv's columns 0, D, 2D
    withScratch((a) => runForward(a, po, pa, pqkv, pqkv + 4 * D, pqkv + 8 * D, B, H, N, Dh, scale, ROWS, queries)),
  );
}

/** SIMD wasm kernel, same contract as `attentionBackwardRowsRef` (overwrites gradQkv). */
export function attentionBackwardRows(
  gradQkv: Float32Array, gradOut: Float32Array, qkv: Float32Array, attn: Float32Array, B: number, H: number, N: number, Dh: number, scale: number, queries = N,
): void {
  checkRowsArgs("attentionBackwardRows", gradOut, gradQkv, qkv, attn, B, H, N, Dh, scale, queries);
  const D = H * Dh;
  callWithArrays([gradQkv, gradOut, qkv, attn], [0], (pg, pgo, pqkv, pa) =>
    withScratch((a) => runBackward(a, pg, pg + 4 * D, pg + 8 * D, pgo, pqkv, pqkv + 4 * D, pqkv + 8 * D, pa, B, H, N, Dh, scale, ROWS, 0, queries)),
  );
}

function checkRowsArgs(
  fn: string, merged: FloatArray, gradQkv: FloatArray | null, qkv: FloatArray, attn: FloatArray | null,
  B: number, H: number, N: number, Dh: number, scale: number, NQ: number,
): void {
  checkSizes(fn, B, H, N, Dh, scale);
  check(Number.isInteger(NQ) && NQ >= 1 && NQ <= N, () => `${fn}: queries = ${NQ}; expected an integer from 1 to N = ${N}`);
  const D = H * Dh;
  const rows: [string, FloatArray | null, number, string][] = [
    [gradQkv === null ? "out" : "gradOut", merged, B * NQ * D, `[B·queries, H·Dh] = [${B}·${NQ}, ${D}]`],
    ["qkv", qkv, B * N * 3 * D, `[B·N, 3·H·Dh] = [${B}·${N}, 3·${D}]`],
    ["gradQkv", gradQkv, B * N * 3 * D, `[B·N, 3·H·Dh] = [${B}·${N}, 3·${D}]`],
    ["attn", attn, B * H * NQ * N, `[B, H, queries, N] = [${B}, ${H}, ${NQ}, ${N}]`],
  ];
  for (const [name, a, n, shape] of rows) {
    if (a !== null) check(a.length === n, () => `${fn}: ${name} has ${a.length} elements, expected ${shape} = ${n}`);
  }
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
