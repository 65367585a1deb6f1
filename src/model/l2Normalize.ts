// The head's L2 bottleneck, F.normalize(z, p=2, dim=-1, eps=1e-12) (as `vision_transformer.py DINOHead.forward` calls it), forward and backward
// over rows: u = z / max(‖z‖₂, eps). Written once over FloatArray so float32 and float64 share it;
// sums run in float64 and every stored value is rounded by the array it lands in.

import type { FloatArray } from "../tensor/floatArray.js";

/** F.normalize's eps, as the array's precision holds it (PyTorch compares in the tensor's dtype). */
export function l2NormalizeEps(like: FloatArray): number {
  return like instanceof Float32Array ? Math.fround(1e-12) : 1e-12;
}

/**
 * u [R,D] = z / max(‖z‖₂, eps) row by row; norm [R] receives ‖z‖₂ (unclamped, for the backward).
 * Zero rows stay zero. Overwrites u and norm.
 */
export function l2NormalizeRowsForward(u: FloatArray, norm: FloatArray, z: FloatArray, R: number, D: number): void {
  const eps = l2NormalizeEps(norm);
  for (let r = 0; r < R; r++) {
    const o = r * D;
    let ss = 0;
    // ‖z_r‖₂ = √Σ_d z²
    for (let d = 0; d < D; d++) ss += z[o + d] * z[o + d];
    norm[r] = Math.sqrt(ss);
    // u = z / max(‖z‖, eps)
    const denom = Math.max(norm[r], eps);
    for (let d = 0; d < D; d++) u[o + d] = z[o + d] / denom;
  }
}

/**
 * Accumulates ∂L/∂z [R,D] from ∂L/∂u, given the forward's u and norm (n = ‖z‖):
 *   n ≥ eps: u = z/n, ∂u/∂z = (I − u·uᵀ)/n, so ∂L/∂z = (∂L/∂u − u·(u·∂L/∂u)) / n;
 *   n < eps: u = z/eps with eps constant (the clamp's branch), so ∂L/∂z = ∂L/∂u / eps.
 * (PyTorch's clamp_min passes the gradient where n ≥ eps; the norm's gradient at n = 0 is 0.)
 */
export function l2NormalizeRowsBackward(gradZ: FloatArray, gradU: FloatArray, u: FloatArray, norm: FloatArray, R: number, D: number): void {
  const eps = l2NormalizeEps(norm);
  for (let r = 0; r < R; r++) {
    const o = r * D;
    const n = norm[r];
    if (n >= eps) {
      let dot = 0;
      // u·∂L/∂u
      for (let d = 0; d < D; d++) dot += u[o + d] * gradU[o + d];
      // ∂L/∂z += (∂L/∂u − u·(u·∂L/∂u)) / n
      for (let d = 0; d < D; d++) gradZ[o + d] += (gradU[o + d] - u[o + d] * dot) / n;
    } else {
      // ∂L/∂z += ∂L/∂u / eps
      for (let d = 0; d < D; d++) gradZ[o + d] += gradU[o + d] / eps;
    }
  }
}
