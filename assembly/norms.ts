// Norms and scaling for per-parameter gradient clipping (src/dino/clipGradients.ts).
// l2Norm accumulates the squares in f64 (two f64x2 accumulators, then the scalar tail), so its
// result differs from the left-to-right oracle only in the f64 summation order.

import { ld, st, ld4, st4, simdLimit } from "./lanes";

/** f32(√(Σ_i x_i²)) over x [n], squares and sum in f64. NaN propagates; ±Inf gives +Inf. */
export function l2Norm(x: usize, n: i32): f32 {
  let acc0 = f64x2.splat(0);
  let acc1 = f64x2.splat(0);
  const n4 = simdLimit(n);
  let i = 0;
  for (; i < n4; i += 4) {
    const v = ld4(x, i);
    // lanes 0,1 and 2,3 widened to f64
    const lo = f64x2.promote_low_f32x4(v);
    const hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
    // Σ x²
    acc0 = f64x2.add(acc0, f64x2.mul(lo, lo));
    acc1 = f64x2.add(acc1, f64x2.mul(hi, hi));
  }
  const acc = f64x2.add(acc0, acc1);
  let sum = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  for (; i < n; i++) {
    const v = <f64>ld(x, i);
    sum += v * v;
  }
  // ‖x‖₂ = √Σ x², rounded to f32
  return <f32>Math.sqrt(sum);
}

/** x [n] ← x·s, one f32 multiplication per element. */
export function scaleInPlace(x: usize, n: i32, s: f32): void {
  const vs = f32x4.splat(s);
  const n4 = simdLimit(n);
  let i = 0;
  for (; i < n4; i += 4) st4(x, i, f32x4.mul(ld4(x, i), vs));
  for (; i < n; i++) st(x, i, ld(x, i) * s);
}
