// Per-parameter gradient clipping (official `utils.py clip_gradients`, called by `main_dino.py train_one_epoch`). Each
// gradient tensor whose L2 norm exceeds `clip` is scaled down to norm ≈ clip, independently of the
// others: one exploding tensor (often in the head, early in training) is tamed without shrinking
// every other tensor's step, as a GLOBAL norm clip would. Not in the paper's text; code default 3.0.
//
// Float32 semantics of the code: norm = ‖g‖₂ as a float32; `clip / (norm + 1e-6)` is evaluated
// by PyTorch on a 0-d float32 tensor as reciprocal(norm + f32(1e-6))·f32(clip); g ← g·coef only
// when coef < 1. clip = 0 disables clipping (the official loop then does not call it at all).

import type { NamedTensor } from "../tensor/named.js";
import { check } from "../tensor/errors.js";
import type { Backend } from "../kernels/backend.js";
import { NO_BUGS, type Bugs } from "../tensor/portingBugs.js";

/** A gradient's norm before clipping (a float32 value). */
export interface GradNorm {
  readonly name: string;
  readonly norm: number;
}

/** The clip coefficient for a float32 norm: f32(f32(1 / f32(norm + f32(1e-6)))·f32(clip)). */
export function clipCoefficient(norm: number, clip: number): number {
  const f = Math.fround;
  // coef = clip / (‖g‖₂ + 1e-6)
  return f(f(1 / f(norm + f(1e-6))) * f(clip));
}

/**
 * Clips each gradient in place to norm ≈ clip and returns the pre-clip norms in input order
 * (golden files list them with keys sorted by bytes: see compareNamesByBytes).
 * clip.global_norm (diagnosis only): one coefficient from the norm of all gradients together.
 */
export function clipGradients(be: Backend, grads: readonly NamedTensor[], clip: number, bugs: Bugs = NO_BUGS): GradNorm[] {
  check(Number.isFinite(clip) && clip >= 0, () => `clipGradients: clip ${clip}; expected a finite value >= 0 (0 disables clipping)`);
  if (bugs.has("clip.global_norm")) return clipGlobalNorm(be, grads, clip);
  const norms: GradNorm[] = [];
  for (const g of grads) {
    // ‖g‖₂, per tensor (not a global norm over all gradients)
    const norm = be.l2Norm(g.data);
    norms.push({ name: g.name, norm });
    if (clip === 0) continue;
    const coef = clipCoefficient(norm, clip);
    // g ← g·coef, only when coef < 1
    if (coef < 1) be.scaleInPlace(g.data, coef);
  }
  return norms;
}

/**
 * The catalogue's clip.global_norm, as torch.nn.utils.clip_grad_norm_ computes it: total =
 * ‖(‖g_1‖, …, ‖g_n‖)‖₂, coef = min(clip/(total + 1e-6), 1), every gradient times coef. Returns
 * the per-tensor norms, like clipGradients.
 */
function clipGlobalNorm(be: Backend, grads: readonly NamedTensor[], clip: number): GradNorm[] {
  const f = Math.fround;
  const norms = grads.map((g) => ({ name: g.name, norm: be.l2Norm(g.data) }));
  if (clip === 0) return norms;
  const total = be.l2Norm(Float32Array.from(norms, (n) => n.norm));
  const coef = clipCoefficient(total, clip);
  // g ← g·min(coef, 1)
  for (const g of grads) be.scaleInPlace(g.data, f(Math.min(coef, 1)));
  return norms;
}
