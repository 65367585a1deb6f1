// nn.Linear: y = x·Wᵀ + b, with W [out, in] as PyTorch stores it. x [R, in], y [R, out]; with a
// residual r [R, out] (a skip connection), y = r + (x·Wᵀ + b) in the same pass.
// Backward accumulates: gradX += gradY·W (or writes it), gradW += gradYᵀ·x, gradB += Σ_rows gradY.

import type { Backend, Tensor } from "../kernels/backend.js";

/** y [R, out] = x [R, in]·Wᵀ + b (b may be null), plus `residual` [R, out] when given (not y itself). Overwrites y. */
export function linearForward(
  be: Backend, y: Tensor, x: Tensor, weight: Tensor, bias: Tensor | null, R: number, dIn: number, dOut: number, residual: Tensor | null = null,
): void {
  // y = residual + (x·Wᵀ + b)
  be.matmul(y.data, x.data, weight.data, bias === null ? null : bias.data, R, dIn, dOut, "NT", false, residual === null ? null : residual.data);
}

/**
 * Accumulates the gradients of linearForward; a null gradient target is skipped. With
 * `accumulateGradX` false, ∂L/∂x is written instead of added (a fresh buffer needs no zero fill).
 */
export function linearBackward(
  be: Backend,
  gradX: Tensor | null,
  gradWeight: Tensor | null,
  gradBias: Tensor | null,
  gradY: Tensor,
  x: Tensor,
  weight: Tensor,
  R: number,
  dIn: number,
  dOut: number,
  accumulateGradX = true,
): void {
  // ∂L/∂x [R, in] (+)= ∂L/∂y [R, out]·W [out, in]
  if (gradX !== null) be.matmul(gradX.data, gradY.data, weight.data, null, R, dOut, dIn, "NN", accumulateGradX);
  // ∂L/∂W [out, in] += (∂L/∂y)ᵀ [out, R]·x [R, in]
  if (gradWeight !== null) be.matmul(gradWeight.data, gradY.data, x.data, null, dOut, R, dIn, "TN", true);
  // ∂L/∂b [out] += Σ_rows ∂L/∂y
  if (gradBias !== null) be.matmulBiasGrad(gradBias.data, gradY.data, R, dOut);
}
