// Row softmax and log-softmax with a temperature, over R rows of K logits:
//   probs[r, k] = exp(z[r, k] − max_r) / Σ_j exp(z[r, j] − max_r),  z = logits / temperature
//   logProbs[r, k] = (z[r, k] − max_r) − log Σ_j exp(z[r, j] − max_r)
// The `Ref` functions are the readable oracles. (SIMD wasm versions: added with the kernel work.)

import type { FloatArray } from "./floatArray.js";

/** Oracle. probs [R,K] = softmax(logits [R,K] / temperature) along each row. */
export function softmaxForwardRef(probs: FloatArray, logits: FloatArray, R: number, K: number, temperature: number): void {
  for (let r = 0; r < R; r++) {
    const row = r * K;
    const max = rowMax(logits, row, K, temperature);
    let sum = 0;
    for (let k = 0; k < K; k++) {
      // e_k = exp(z_k − max)
      const e = Math.exp(logits[row + k] / temperature - max);
      probs[row + k] = e;
      sum += e;
    }
    // p_k = e_k / Σ_j e_j
    for (let k = 0; k < K; k++) probs[row + k] /= sum;
  }
}

/** Oracle. logProbs [R,K] = log_softmax(logits [R,K] / temperature) along each row. */
export function logSoftmaxForwardRef(logProbs: FloatArray, logits: FloatArray, R: number, K: number, temperature: number): void {
  for (let r = 0; r < R; r++) {
    const row = r * K;
    const max = rowMax(logits, row, K, temperature);
    let sum = 0;
    for (let k = 0; k < K; k++) sum += Math.exp(logits[row + k] / temperature - max);
    // log p_k = (z_k − max) − log Σ_j exp(z_j − max)
    const logSum = Math.log(sum);
    for (let k = 0; k < K; k++) logProbs[row + k] = logits[row + k] / temperature - max - logSum;
  }
}

/** max_k z[row + k], z = logits / temperature. A row holding +Inf gives NaN probabilities, as in PyTorch. */
function rowMax(logits: FloatArray, row: number, K: number, temperature: number): number {
  let max = -Infinity;
  for (let k = 0; k < K; k++) {
    const z = logits[row + k] / temperature;
    // NaN must win so that it propagates to the whole row
    if (z > max || Number.isNaN(z)) max = z;
  }
  return max;
}
