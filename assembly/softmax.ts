// Row softmax and log-softmax with a temperature over R rows of K logits (src/kernels/softmax.ts
// holds the oracles with the same arithmetic, in the same order): bit-identical to them. SIMD for
// the division, the max, exp (exp64x2: two f64 lanes, lane for lane the oracle's exp64) and the
// final normalisation; the row sum of the f32-rounded exps is accumulated in f64 left to right, as
// the oracle does (out-of-order execution overlaps that chain with the exps); log is log64.

import { exp64, exp64x2 } from "./exp";
import { log64 } from "./log";
import { ld, st, ld4, st4, simdLimit } from "./lanes";

/**
 * e = f32(exp(f64(f32(z − max)))) for four z at once (exp64x2 on each half), as one f32x4.
 */
// @ts-ignore: decorator
@inline function exp4(z: v128, vmax: v128): v128 {
  const d = f32x4.sub(z, vmax);
  const e0 = exp64x2(f64x2.promote_low_f32x4(d));
  const e1 = exp64x2(f64x2.promote_low_f32x4(i32x4.shuffle(d, d, 2, 3, 2, 3)));
  return i32x4.shuffle(f32x4.demote_f64x2_zero(e0), f32x4.demote_f64x2_zero(e1), 0, 1, 4, 5);
}

/** sum + e[0] + e[1] + e[2] + e[3] in f64, left to right. */
// @ts-ignore: decorator
@inline function addLanes(sum: f64, e: v128): f64 {
  sum += <f64>f32x4.extract_lane(e, 0);
  sum += <f64>f32x4.extract_lane(e, 1);
  sum += <f64>f32x4.extract_lane(e, 2);
  return sum + <f64>f32x4.extract_lane(e, 3);
}

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
    const vmax = f32x4.splat(max);
    let sum: f64 = 0;
    let k = 0;
    for (; k < K4; k += 4) {
      const e = exp4(ld4(out, k), vmax);
      st4(out, k, e);
      sum = addLanes(sum, e);
    }
    for (; k < K; k++) {
      const e = <f32>exp64(<f64>(ld(out, k) - max));
      st(out, k, e);
      sum += <f64>e;
    }
    // p_k = e_k / f32(Σ_j e_j)
    const s = <f32>sum;
    const vs = f32x4.splat(s);
    k = 0;
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
    const vmax = f32x4.splat(max);
    let sum: f64 = 0;
    let k = 0;
    for (; k < K4; k += 4) sum = addLanes(sum, exp4(ld4(out, k), vmax));
    for (; k < K; k++) sum += <f64>(<f32>exp64(<f64>(ld(out, k) - max)));
    // log p_k = f32(z_k − max) − f32(log Σ_j e_j)
    const lse = <f32>log64(sum);
    const vlse = f32x4.splat(lse);
    k = 0;
    for (; k < K4; k += 4) st4(out, k, f32x4.sub(f32x4.sub(ld4(out, k), vmax), vlse));
    for (; k < K; k++) st(out, k, (ld(out, k) - max) - lse);
  }
}
