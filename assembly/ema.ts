// The teacher EMA over one flat parameter tensor (student and teacher share the layout).

import { ld, st, ld4, st4, simdLimit } from "./lanes";

/**
 * Teacher EMA, as the official code evaluates it: t <- f32(f32(t * m) + f32(oneMinusM * s)).
 * `oneMinusM` is computed by the caller in float64 (1 - m) and rounded to f32, like PyTorch.
 */
export function emaUpdate(teacher: usize, student: usize, n: i32, m: f32, oneMinusM: f32): void {
  const vm = f32x4.splat(m);
  const vw = f32x4.splat(oneMinusM);
  const n4 = simdLimit(n);
  let i = 0;
  for (; i < n4; i += 4) {
    // t * m + (1 - m) * s, rounded after each operation (no fused multiply-add)
    st4(teacher, i, f32x4.add(f32x4.mul(ld4(teacher, i), vm), f32x4.mul(vw, ld4(student, i))));
  }
  for (; i < n; i++) {
    st(teacher, i, ld(teacher, i) * m + oneMinusM * ld(student, i));
  }
}
