// One AdamW step over one flat parameter tensor, in PyTorch's order (torch.optim.AdamW, `_single_tensor_adamw` in 1.13). The scalars
// (decay factor, 1 − β, √(1 − β2^step), step size) are derived in float64 by the TypeScript
// wrapper (src/kernels/adamw.ts) and passed rounded to f32; every operation here is one f32 op.

import { ld, st, ld4, st4, simdLimit } from "./lanes";

/**
 * param, grad, expAvg, expAvgSq: [n] f32. decay = f32(1 − lr·wd) (1 when wd = 0),
 * sqrtBc2 = f32(√(1 − β2^step)), stepSize = f32(lr / (1 − β1^step)).
 */
export function adamwUpdate(
  param: usize, grad: usize, expAvg: usize, expAvgSq: usize, n: i32,
  decay: f32, beta1: f32, oneMinusBeta1: f32, beta2: f32, oneMinusBeta2: f32,
  sqrtBc2: f32, eps: f32, stepSize: f32,
): void {
  const vDecay = f32x4.splat(decay);
  const vB1 = f32x4.splat(beta1);
  const vW1 = f32x4.splat(oneMinusBeta1);
  const vB2 = f32x4.splat(beta2);
  const vW2 = f32x4.splat(oneMinusBeta2);
  const vBc2 = f32x4.splat(sqrtBc2);
  const vEps = f32x4.splat(eps);
  const vStep = f32x4.splat(stepSize);
  const n4 = simdLimit(n);
  let i = 0;
  for (; i < n4; i += 4) {
    const g = ld4(grad, i);
    // p ← p·(1 − lr·wd)
    const p = f32x4.mul(ld4(param, i), vDecay);
    // m ← β1·m + (1 − β1)·g
    const m = f32x4.add(f32x4.mul(ld4(expAvg, i), vB1), f32x4.mul(g, vW1));
    // v ← β2·v + ((1 − β2)·g)·g
    const v = f32x4.add(f32x4.mul(ld4(expAvgSq, i), vB2), f32x4.mul(f32x4.mul(vW2, g), g));
    // denom = √v / √(1 − β2^step) + eps
    const denom = f32x4.add(f32x4.div(f32x4.sqrt(v), vBc2), vEps);
    // p ← p − ((lr / (1 − β1^step))·m) / denom
    st4(param, i, f32x4.sub(p, f32x4.div(f32x4.mul(vStep, m), denom)));
    st4(expAvg, i, m);
    st4(expAvgSq, i, v);
  }
  for (; i < n; i++) {
    const g = ld(grad, i);
    const p = ld(param, i) * decay;
    const m = ld(expAvg, i) * beta1 + g * oneMinusBeta1;
    const v = ld(expAvgSq, i) * beta2 + (oneMinusBeta2 * g) * g;
    const denom = Mathf.sqrt(v) / sqrtBc2 + eps;
    st(param, i, p - (stepSize * m) / denom);
    st(expAvg, i, m);
    st(expAvgSq, i, v);
  }
}
