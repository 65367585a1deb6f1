// Exact GELU (nn.GELU(), approximate='none') forward and backward, elementwise, in float64 rounded
// to float32: bit-identical to geluForwardRef / geluBackwardRef in src/kernels/gelu.ts.

import { erfc64, exp64 } from "./erf";
import { ld, st } from "./lanes";

const SQRT1_2: f64 = 0.7071067811865476; // 1/√2
const INV_SQRT_2PI: f64 = 0.3989422804014327; // 1/√(2π)

/** y [n] = x·Φ(x) = 0.5·x·(1 + erf(x/√2)), with Φ(x) = 0.5·erfc(−x/√2) (no cancellation for x < 0). */
export function geluForward(y: usize, x: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const xi = <f64>ld(x, i);
    // y = x·Φ(x)
    st(y, i, <f32>(xi * (0.5 * erfc64(-xi * SQRT1_2))));
  }
}

/** gradX [n] += gradY·(Φ(x) + x·φ(x)), φ(x) = exp(−x²/2)/√(2π). */
export function geluBackward(gradX: usize, gradY: usize, x: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const xi = <f64>ld(x, i);
    // dy/dx = Φ(x) + x·φ(x)
    const dydx = 0.5 * erfc64(-xi * SQRT1_2) + xi * (exp64(-0.5 * xi * xi) * INV_SQRT_2PI);
    st(gradX, i, <f32>(<f64>ld(gradX, i) + <f64>ld(gradY, i) * dydx));
  }
}
