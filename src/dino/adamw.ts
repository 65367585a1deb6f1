// AdamW over named parameters (PyTorch's torch.optim.AdamW as `main_dino.py train_dino` builds it).
// Adam scales each weight's step by a running estimate of its gradient's size, which suits
// transformers; the decay is decoupled (applied to the weights directly, scaled by the scheduled
// lr), and only the regularized group (paramGroups.ts) gets it. lr comes from the schedule for
// both groups, weight decay from the wd schedule for group 0 only.
//
// A parameter with no gradient this step (dropped by cancelLastLayerGradients) is skipped
// entirely: no decay, no moment update, no step increment, as PyTorch does for grad None.

import type { NamedTensor } from "../tensor/named.js";
import { shapeString } from "../tensor/named.js";
import { check } from "../tensor/errors.js";
import type { Backend } from "../kernels/backend.js";
import { isRegularized } from "./paramGroups.js";
import { NO_BUGS, type Bugs } from "../tensor/portingBugs.js";

/** Per-tensor optimizer state, created at the tensor's first step (PyTorch creates it lazily too). */
export interface AdamWTensorState {
  step: number;
  readonly expAvg: Float32Array;
  readonly expAvgSq: Float32Array;
}

/** State of all tensors, keyed by parameter name. Starts empty. */
export type AdamWState = Map<string, AdamWTensorState>;

export interface AdamWOptions {
  /** lr_schedule[it], for every group. */
  readonly lr: number;
  /** wd_schedule[it], for the regularized group only. */
  readonly weightDecay: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly eps?: number;
  /**
   * Which parameters get weight decay: the regularized group of paramGroups.ts by default; a
   * golden adamw_step case states it per tensor instead.
   */
  readonly decays?: (name: string, shape: readonly number[]) => boolean;
}

/**
 * One optimizer step: updates params and `state` in place. `grads` holds the gradients that exist
 * this step (any order, names matching params); a param without one is left untouched.
 */
export function adamwStep(be: Backend, params: readonly NamedTensor[], grads: readonly NamedTensor[], state: AdamWState, opts: AdamWOptions, bugs: Bugs = NO_BUGS): void {
  const { lr, weightDecay, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, decays = isRegularized } = opts;
  const byName = new Map<string, NamedTensor>();
  const paramNames = new Set(params.map((p) => p.name));
  for (const g of grads) {
    check(paramNames.has(g.name), () => `adamwStep: gradient ${g.name} has no parameter of that name`);
    byName.set(g.name, g);
  }
  for (const p of params) {
    const g = byName.get(p.name);
    // grad None: skipped entirely
    if (g === undefined) continue;
    check(g.data.length === p.data.length, () => `adamwStep: gradient ${g.name} has shape ${shapeString(g.shape)}; expected ${shapeString(p.shape)} like its parameter`);
    let s = state.get(p.name);
    if (s === undefined) {
      s = { step: 0, expAvg: new Float32Array(p.data.length), expAvgSq: new Float32Array(p.data.length) };
      state.set(p.name, s);
    }
    // step ← step + 1 (per tensor)
    s.step += 1;
    // wd only for the regularized group (adamw.decay_all_params, diagnosis only: for every parameter)
    const wd = decays(p.name, p.shape) || bugs.has("adamw.decay_all_params") ? weightDecay : 0;
    be.adamwUpdate(p.data, g.data, s.expAvg, s.expAvgSq, { lr, weightDecay: wd, beta1, beta2, eps, step: s.step });
  }
}
