// Row softmax and log-softmax with a temperature over R rows of K logits (src/kernels/softmax.ts
// holds the oracles with the same arithmetic). SIMD for the division, the max and the final
// normalisation; exp and log run per element in f64 (no SIMD exp), rounded to f32.

import { ld, st, ld4, st4, simdLimit } from "./lanes";

/**
 * z[k] = f32(logits[k] / temperature) into `out` (one row), returning max_k z[k].
 * A NaN anywhere makes the max NaN (f32x4.max and the scalar test both propagate it).
 */
// @ts-ignore: decorator
@inline function scaleRowAndMax(out: usize, logits: usize, K: i32, temperature: f32): f32 {
  const vt = f32x4.splat(temperature);
  let vmax = f32x4.splat(-Infinity);
  const K4 = simdLimit(K);
  let k = 0;
  for (; k < K4; k += 4) {
    // z = logit / τ (true division, as PyTorch divides by a scalar)
    const z = f32x4.div(ld4(logits, k), vt);
    st4(out, k, z);
    vmax = f32x4.max(vmax, z);
  }
  let max = maxOrNaN(maxOrNaN(f32x4.extract_lane(vmax, 0), f32x4.extract_lane(vmax, 1)),
    maxOrNaN(f32x4.extract_lane(vmax, 2), f32x4.extract_lane(vmax, 3)));
  for (; k < K; k++) {
    const z = ld(logits, k) / temperature;
    st(out, k, z);
    max = maxOrNaN(max, z);
  }
  return max;
}

/** max(a, b), NaN if either is NaN (like f32x4.max). */
// @ts-ignore: decorator
@inline function maxOrNaN(a: f32, b: f32): f32 {
  return isNaN(a) || isNaN(b) ? NaN : (b > a ? b : a);
}

/** probs [R,K] = softmax(logits [R,K] / temperature) per row; probs may alias logits. */
export function softmaxForward(probs: usize, logits: usize, R: i32, K: i32, temperature: f32): void {
  const K4 = simdLimit(K);
  for (let r = 0; r < R; r++) {
    const out = probs + (<usize>r * <usize>K << 2);
    const inp = logits + (<usize>r * <usize>K << 2);
    const max = scaleRowAndMax(out, inp, K, temperature);
    // e_k = f32(exp(f32(z_k − max))), Σ_j e_j accumulated in f64, left to right
    let sum: f64 = 0;
    for (let k = 0; k < K; k++) {
      const e = <f32>Math.exp(<f64>(ld(out, k) - max));
      st(out, k, e);
      sum += <f64>e;
    }
    // p_k = e_k / f32(Σ_j e_j)
    const s = <f32>sum;
    const vs = f32x4.splat(s);
    let k = 0;
    for (; k < K4; k += 4) st4(out, k, f32x4.div(ld4(out, k), vs));
    for (; k < K; k++) st(out, k, ld(out, k) / s);
  }
}

/** logProbs [R,K] = log_softmax(logits [R,K] / temperature) per row; may alias logits. */
export function logSoftmaxForward(logProbs: usize, logits: usize, R: i32, K: i32, temperature: f32): void {
  const K4 = simdLimit(K);
  for (let r = 0; r < R; r++) {
    const out = logProbs + (<usize>r * <usize>K << 2);
    const inp = logits + (<usize>r * <usize>K << 2);
    const max = scaleRowAndMax(out, inp, K, temperature);
    // Σ_j f32(exp(f32(z_j − max))) in f64, left to right (the same terms as softmaxForward)
    let sum: f64 = 0;
    for (let k = 0; k < K; k++) sum += <f64>(<f32>Math.exp(<f64>(ld(out, k) - max)));
    // log p_k = f32(z_k − max) − f32(log Σ_j e_j)
    const lse = <f32>Math.log(sum);
    const vmax = f32x4.splat(max);
    const vlse = f32x4.splat(lse);
    let k = 0;
    for (; k < K4; k += 4) st4(out, k, f32x4.sub(f32x4.sub(ld4(out, k), vmax), vlse));
    for (; k < K; k++) st(out, k, (ld(out, k) - max) - lse);
  }
}
