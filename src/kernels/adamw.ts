// One AdamW step over one flat float32 tensor, in PyTorch's order (torch.optim.AdamW, `_single_tensor_adamw` in 1.13):
//   p ← p·(1 − lr·wd);  m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²;
//   denom = √v / √(1 − β2^step) + eps;  p ← p − (lr / (1 − β1^step))·m / denom.
// `adamwUpdateRef` is the readable oracle; `adamwUpdate` runs the SIMD wasm kernel (assembly/adamw.ts).
// The scalars are derived in float64 (as Python does) and applied in float32, one rounding per operation.

import { wasmKernels } from "./wasm.js";
import { callWithArrays } from "./arena.js";
import { check } from "../tensor/errors.js";
import { NO_BUGS, type Bugs } from "../tensor/portingBugs.js";

/** The hyperparameters of one step of one tensor. `step` is 1-based, already incremented. */
export interface AdamWHyper {
  readonly lr: number;
  readonly weightDecay: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly step: number;
}

/** The float32 scalars both implementations use, derived in float64 from `h`. */
export interface AdamWScalars {
  decay: number; beta1: number; oneMinusBeta1: number; beta2: number; oneMinusBeta2: number;
  sqrtBc2: number; eps: number; stepSize: number;
}

interface AdamWAbi {
  adamwUpdate(param: number, grad: number, expAvg: number, expAvgSq: number, n: number,
    decay: number, beta1: number, oneMinusBeta1: number, beta2: number, oneMinusBeta2: number,
    sqrtBc2: number, eps: number, stepSize: number): void;
}

/** Scalars of one step: computed in float64, then each rounded once to float32. */
export function adamwScalars(h: AdamWHyper): AdamWScalars {
  const f = Math.fround;
  // bc1 = 1 − β1^step, bc2 = 1 − β2^step (Python doubles)
  const bc1 = 1 - h.beta1 ** h.step;
  const bc2 = 1 - h.beta2 ** h.step;
  return {
    // 1 − lr·wd (skipped, i.e. 1, when wd = 0, like PyTorch)
    decay: h.weightDecay !== 0 ? f(1 - h.lr * h.weightDecay) : 1,
    beta1: f(h.beta1),
    oneMinusBeta1: f(1 - h.beta1),
    beta2: f(h.beta2),
    oneMinusBeta2: f(1 - h.beta2),
    sqrtBc2: f(Math.sqrt(bc2)),
    eps: f(h.eps),
    // lr / bc1
    stepSize: f(h.lr / bc1),
  };
}

/**
 * Oracle. Updates param, expAvg, expAvgSq [n] in place from grad [n]. `bugs` (diagnosis only):
 * adamw.step_off_by_one corrects the bias with step + 1; adamw.coupled_weight_decay adds wd·p to
 * the gradient (Adam's L2) instead of decaying p; adamw.eps_inside_sqrt takes √(v/bc2 + eps).
 */
export function adamwUpdateRef(param: Float32Array, grad: Float32Array, expAvg: Float32Array, expAvgSq: Float32Array, h: AdamWHyper, bugs: Bugs = NO_BUGS): void {
  checkAdamWArgs(param, grad, expAvg, expAvgSq, h);
  if (bugs.has("adamw.step_off_by_one")) h = { ...h, step: h.step + 1 };
  const f = Math.fround;
  const coupled = bugs.has("adamw.coupled_weight_decay");
  const l2 = f(coupled ? h.weightDecay : 0);
  const s = adamwScalars(coupled ? { ...h, weightDecay: 0 } : h);
  const epsInsideSqrt = bugs.has("adamw.eps_inside_sqrt");
  const bc2 = f(1 - h.beta2 ** h.step);
  for (let i = 0; i < param.length; i++) {
    // g (+ wd·p with adamw.coupled_weight_decay)
    const g = coupled ? f(grad[i] + f(param[i] * l2)) : grad[i];
    // p ← p·(1 − lr·wd)
    const p = f(param[i] * s.decay);
    // m ← β1·m + (1 − β1)·g
    const m = f(f(expAvg[i] * s.beta1) + f(g * s.oneMinusBeta1));
    // v ← β2·v + ((1 − β2)·g)·g
    const v = f(f(expAvgSq[i] * s.beta2) + f(f(s.oneMinusBeta2 * g) * g));
    // denom = √v / √(1 − β2^step) + eps
    const denom = epsInsideSqrt ? f(Math.sqrt(f(f(v / bc2) + s.eps))) : f(f(f(Math.sqrt(v)) / s.sqrtBc2) + s.eps);
    // p ← p − ((lr / (1 − β1^step))·m) / denom
    param[i] = f(p - f(f(s.stepSize * m) / denom));
    expAvg[i] = m;
    expAvgSq[i] = v;
  }
}

/** SIMD wasm kernel, same contract as `adamwUpdateRef`. */
export function adamwUpdate(param: Float32Array, grad: Float32Array, expAvg: Float32Array, expAvgSq: Float32Array, h: AdamWHyper): void {
  checkAdamWArgs(param, grad, expAvg, expAvgSq, h);
  const s = adamwScalars(h);
  const k = wasmKernels() as unknown as AdamWAbi;
  callWithArrays([param, grad, expAvg, expAvgSq], [0, 2, 3], (pp, pg, pm, pv) =>
    k.adamwUpdate(pp, pg, pm, pv, param.length, s.decay, s.beta1, s.oneMinusBeta1, s.beta2, s.oneMinusBeta2, s.sqrtBc2, s.eps, s.stepSize));
}

function checkAdamWArgs(param: Float32Array, grad: Float32Array, expAvg: Float32Array, expAvgSq: Float32Array, h: AdamWHyper): void {
  const n = param.length;
  check(grad.length === n && expAvg.length === n && expAvgSq.length === n,
    () => `adamwUpdate: param has ${n} elements, grad ${grad.length}, expAvg ${expAvg.length}, expAvgSq ${expAvgSq.length}; expected all equal`);
  check(Number.isInteger(h.step) && h.step >= 1, () => `adamwUpdate: step ${h.step}; expected an integer >= 1 (1-based, after the increment)`);
  check(h.beta1 >= 0 && h.beta1 < 1, () => `adamwUpdate: beta1 ${h.beta1}; expected 0 <= beta1 < 1`);
  check(h.beta2 >= 0 && h.beta2 < 1, () => `adamwUpdate: beta2 ${h.beta2}; expected 0 <= beta2 < 1`);
  check(h.eps >= 0, () => `adamwUpdate: eps ${h.eps}; expected >= 0`);
  check(h.lr >= 0 && Number.isFinite(h.lr), () => `adamwUpdate: lr ${h.lr}; expected a finite value >= 0`);
  check(h.weightDecay >= 0 && Number.isFinite(h.weightDecay), () => `adamwUpdate: weightDecay ${h.weightDecay}; expected a finite value >= 0`);
}
