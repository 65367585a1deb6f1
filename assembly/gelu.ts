// Exact GELU (nn.GELU(), approximate='none') forward and backward, elementwise, in float64 rounded
// to float32: bit-identical to geluForwardRef / geluBackwardRef in src/kernels/gelu.ts. The main
// loops take 4 floats at a time as two f64x2 (erfc64x2 / exp64x2, lane-for-lane the scalar
// erfc64 / exp64); the tail of n mod 4 elements runs the scalar code.

import { erfc64, erfc64x2 } from "./erf";
import { exp64, exp64x2 } from "./exp";
import { ld, st, ld4, st4, simdLimit, lo2, hi2, pack4 } from "./lanes";

const SQRT1_2: f64 = 0.7071067811865476; // 1/√2
const INV_SQRT_2PI: f64 = 0.3989422804014327; // 1/√(2π)

/** y = x·(0.5·erfc(−x/√2)) on two lanes. */
// @ts-ignore: decorator
@inline function gelu2(x: v128): v128 {
  const phi = f64x2.mul(f64x2.splat(0.5), erfc64x2(f64x2.mul(f64x2.neg(x), f64x2.splat(SQRT1_2))));
  return f64x2.mul(x, phi);
}

/** dy/dx = 0.5·erfc(−x/√2) + x·(exp(−0.5·x·x)·(1/√(2π))) on two lanes. */
// @ts-ignore: decorator
@inline function geluGrad2(x: v128): v128 {
  const phi = f64x2.mul(f64x2.splat(0.5), erfc64x2(f64x2.mul(f64x2.neg(x), f64x2.splat(SQRT1_2))));
  const e = exp64x2(f64x2.mul(f64x2.mul(f64x2.splat(-0.5), x), x));
  return f64x2.add(phi, f64x2.mul(x, f64x2.mul(e, f64x2.splat(INV_SQRT_2PI))));
}

/** y [n] = x·Φ(x) = 0.5·x·(1 + erf(x/√2)), with Φ(x) = 0.5·erfc(−x/√2) (no cancellation for x < 0). */
export function geluForward(y: usize, x: usize, n: i32): void {
  geluForwardPart(y, x, 0, n);
}

/** geluForward on elements i0 ≤ i < i1 only (one thread's share; i0 a multiple of 4). */
export function geluForwardPart(y: usize, x: usize, i0: i32, i1: i32): void {
  const n4 = i0 + simdLimit(i1 - i0);
  let i = i0;
  for (; i < n4; i += 4) {
    const v = ld4(x, i);
    // y = x·Φ(x)
    st4(y, i, pack4(gelu2(lo2(v)), gelu2(hi2(v))));
  }
  for (; i < i1; i++) {
    const xi = <f64>ld(x, i);
    // y = x·Φ(x)
    st(y, i, <f32>(xi * (0.5 * erfc64(-xi * SQRT1_2))));
  }
}

/** gradX [n] += gradY·(Φ(x) + x·φ(x)), φ(x) = exp(−x²/2)/√(2π). */
export function geluBackward(gradX: usize, gradY: usize, x: usize, n: i32): void {
  geluBackwardPart(gradX, gradY, x, 0, n);
}

/** geluBackward on elements i0 ≤ i < i1 only (one thread's share; i0 a multiple of 4). */
export function geluBackwardPart(gradX: usize, gradY: usize, x: usize, i0: i32, i1: i32): void {
  const n4 = i0 + simdLimit(i1 - i0);
  let i = i0;
  for (; i < n4; i += 4) {
    const v = ld4(x, i);
    const gy = ld4(gradY, i);
    const gx = ld4(gradX, i);
    // gradX += gradY·dy/dx, dy/dx = Φ(x) + x·φ(x)
    const g0 = f64x2.add(lo2(gx), f64x2.mul(lo2(gy), geluGrad2(lo2(v))));
    const g1 = f64x2.add(hi2(gx), f64x2.mul(hi2(gy), geluGrad2(hi2(v))));
    st4(gradX, i, pack4(g0, g1));
  }
  for (; i < i1; i++) {
    const xi = <f64>ld(x, i);
    // dy/dx = Φ(x) + x·φ(x)
    const dydx = 0.5 * erfc64(-xi * SQRT1_2) + xi * (exp64(-0.5 * xi * xi) * INV_SQRT_2PI);
    st(gradX, i, <f32>(<f64>ld(gradX, i) + <f64>ld(gradY, i) * dydx));
  }
}
