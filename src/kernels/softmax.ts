// Row softmax and log-softmax with a temperature, over R rows of K logits:
//   probs[r, k] = exp(z[r, k] − max_r) / Σ_j exp(z[r, j] − max_r),  z = logits / temperature
//   logProbs[r, k] = (z[r, k] − max_r) − log Σ_j exp(z[r, j] − max_r)
// `softmaxForwardRef` / `logSoftmaxForwardRef` are the readable oracles; `softmaxForward` /
// `logSoftmaxForward` run the SIMD wasm kernels (assembly/softmax.ts) with the same signature.
//
// Arithmetic (oracle and kernel alike, so they agree bit for bit): z = f32(logit / f32(τ)) (a true
// division, as PyTorch divides a tensor by a Python float in `main_dino.py DINOLoss.forward`); each exp(z − max) is computed in f64 by the project's exp64 (./exp.ts; the
// kernel runs the same operations two lanes at a time) and rounded to f32; the row sum is
// accumulated in f64, left to right, and rounded to f32 once; p = e / f32(sum);
// log p = f32(z − max) − f32(log64(sum)).
// The oracles round each step to the precision of the OUTPUT array, so with a Float64Array output
// they compute plain float64 softmax (used by the DINO loss and finite-difference checks).
// A NaN logit makes its whole row NaN; a row holding +Inf, or only −Inf, gives NaN (as PyTorch).

import type { FloatArray } from "../tensor/floatArray.js";
import { exp64, log64 } from "./exp.js";
import { wasmKernels } from "./wasm.js";
import { callWithArrays } from "./arena.js";
import { check } from "../tensor/errors.js";
import { NO_BUGS, type Bugs } from "../tensor/portingBugs.js";

interface SoftmaxAbi {
  softmaxForward(probs: number, logits: number, R: number, K: number, temperature: number): void;
  logSoftmaxForward(logProbs: number, logits: number, R: number, K: number, temperature: number): void;
}

const identity = (x: number): number => x;

/** Rounding to the precision of `out`: Math.fround for float32, none for float64. */
function rounderFor(out: FloatArray): (x: number) => number {
  return out instanceof Float32Array ? Math.fround : identity;
}

/** Oracle. probs [R,K] = softmax(logits [R,K] / temperature) along each row (softmax.no_temperature, diagnosis only: temperature 1). */
export function softmaxForwardRef(probs: FloatArray, logits: FloatArray, R: number, K: number, temperature: number, bugs: Bugs = NO_BUGS): void {
  checkSoftmaxArgs("softmaxForwardRef", probs, logits, R, K, temperature);
  if (bugs.has("softmax.no_temperature")) temperature = 1;
  const rd = rounderFor(probs);
  const tau = rd(temperature);
  for (let r = 0; r < R; r++) {
    const row = r * K;
    // z_k = logit_k / τ, written into probs as scratch
    const max = scaleRowAndMax(probs, logits, row, K, tau, rd);
    let sum = 0;
    for (let k = 0; k < K; k++) {
      // e_k = exp(z_k − max)
      const e = rd(exp64(rd(probs[row + k] - max)));
      probs[row + k] = e;
      sum += e;
    }
    // p_k = e_k / Σ_j e_j
    const s = rd(sum);
    for (let k = 0; k < K; k++) probs[row + k] = rd(probs[row + k] / s);
  }
}

/** Oracle. logProbs [R,K] = log_softmax(logits [R,K] / temperature) along each row (softmax.no_temperature: temperature 1). */
export function logSoftmaxForwardRef(logProbs: FloatArray, logits: FloatArray, R: number, K: number, temperature: number, bugs: Bugs = NO_BUGS): void {
  checkSoftmaxArgs("logSoftmaxForwardRef", logProbs, logits, R, K, temperature);
  if (bugs.has("softmax.no_temperature")) temperature = 1;
  const rd = rounderFor(logProbs);
  const tau = rd(temperature);
  for (let r = 0; r < R; r++) {
    const row = r * K;
    const max = scaleRowAndMax(logProbs, logits, row, K, tau, rd);
    let sum = 0;
    for (let k = 0; k < K; k++) sum += rd(exp64(rd(logProbs[row + k] - max)));
    // log p_k = (z_k − max) − log Σ_j exp(z_j − max)
    const lse = rd(log64(sum));
    for (let k = 0; k < K; k++) logProbs[row + k] = rd(rd(logProbs[row + k] - max) - lse);
  }
}

/**
 * Oracle, both at once: probs = softmax and logProbs = log_softmax of the same rows, computed from
 * the same exps: the very values `softmaxForwardRef` and `logSoftmaxForwardRef` give, for half
 * their exps (the DINO loss needs both for the student and for the teacher).
 */
export function softmaxAndLogSoftmaxRef(probs: FloatArray, logProbs: FloatArray, logits: FloatArray, R: number, K: number, temperature: number, bugs: Bugs = NO_BUGS): void {
  checkSoftmaxArgs("softmaxAndLogSoftmaxRef", probs, logits, R, K, temperature);
  checkSoftmaxArgs("softmaxAndLogSoftmaxRef", logProbs, logits, R, K, temperature);
  if (bugs.has("softmax.no_temperature")) temperature = 1;
  const rd = rounderFor(probs);
  check(rd === rounderFor(logProbs), "softmaxAndLogSoftmaxRef: probs and logProbs must have the same precision");
  const tau = rd(temperature);
  for (let r = 0; r < R; r++) {
    const row = r * K;
    // z_k = logit_k / τ, kept in logProbs
    const max = scaleRowAndMax(logProbs, logits, row, K, tau, rd);
    let sum = 0;
    for (let k = 0; k < K; k++) {
      // e_k = exp(z_k − max)
      const e = rd(exp64(rd(logProbs[row + k] - max)));
      probs[row + k] = e;
      sum += e;
    }
    // p_k = e_k / Σ_j e_j;  log p_k = (z_k − max) − log Σ_j e_j
    const s = rd(sum);
    const lse = rd(log64(sum));
    for (let k = 0; k < K; k++) {
      probs[row + k] = rd(probs[row + k] / s);
      logProbs[row + k] = rd(rd(logProbs[row + k] - max) - lse);
    }
  }
}

/** SIMD wasm kernel, same contract as `softmaxForwardRef` (float32 arrays only). */
export function softmaxForward(probs: Float32Array, logits: Float32Array, R: number, K: number, temperature: number): void {
  checkSoftmaxArgs("softmaxForward", probs, logits, R, K, temperature);
  const k = wasmKernels() as unknown as SoftmaxAbi;
  callWithArrays([probs, logits], [0], (pp, pl) => k.softmaxForward(pp, pl, R, K, temperature));
}

/** SIMD wasm kernel, same contract as `logSoftmaxForwardRef` (float32 arrays only). */
export function logSoftmaxForward(logProbs: Float32Array, logits: Float32Array, R: number, K: number, temperature: number): void {
  checkSoftmaxArgs("logSoftmaxForward", logProbs, logits, R, K, temperature);
  const k = wasmKernels() as unknown as SoftmaxAbi;
  callWithArrays([logProbs, logits], [0], (pp, pl) => k.logSoftmaxForward(pp, pl, R, K, temperature));
}

/**
 * Writes z_k = logits[row + k] / τ into out[row + k] and returns max_k z_k.
 * NaN wins the max, so that it propagates to the whole row.
 */
function scaleRowAndMax(out: FloatArray, logits: FloatArray, row: number, K: number, tau: number, rd: (x: number) => number): number {
  let max = -Infinity;
  for (let k = 0; k < K; k++) {
    // z_k = logit_k / τ
    const z = rd(logits[row + k] / tau);
    out[row + k] = z;
    if (z > max || Number.isNaN(z)) max = z;
  }
  return max;
}

function checkSoftmaxArgs(fn: string, out: FloatArray, logits: FloatArray, R: number, K: number, temperature: number): void {
  check(Number.isInteger(R) && R >= 0 && Number.isInteger(K) && K >= 1, () => `${fn}: R = ${R}, K = ${K}; expected integers R >= 0, K >= 1`);
  check(logits.length === R * K, () => `${fn}: logits has ${logits.length} elements; expected R*K = ${R}*${K} = ${R * K}`);
  check(out.length === R * K, () => `${fn}: output has ${out.length} elements; expected R*K = ${R}*${K} = ${R * K}`);
  check(temperature > 0 && Number.isFinite(temperature), () => `${fn}: temperature ${temperature}; expected a finite value > 0`);
}
