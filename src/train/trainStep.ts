// One DINO training iteration, top to bottom like the paper's Algorithm 1 (and the official
// train_one_epoch): teacher on the two global crops, student on all crops, the loss, backward,
// per-parameter clipping, the last-layer freeze, AdamW with the scheduled lr and weight decay,
// the teacher EMA, then the centre. Every equation lives in src/dino/; this file only orders them.

import type { Backend, Tensor } from "../kernels/backend.js";
import { multiCropForward, multiCropBackward, isTrainable, type DinoModelConfig } from "../model/dino.js";
import { dinoLoss } from "../dino/loss.js";
import { updateCenter } from "../dino/center.js";
import { clipGradients, type GradNorm } from "../dino/clipGradients.js";
import { cancelLastLayerGradients } from "../dino/freezeLastLayer.js";
import { adamwStep, type AdamWState } from "../dino/adamw.js";
import { updateTeacher } from "../dino/ema.js";
import { collapseSignals, type CollapseSignals } from "./collapse.js";
import type { TrainState } from "./trainState.js";
import { DinoRefError } from "../tensor/errors.js";
import type { Rng } from "../tensor/rng.js";
import type { NamedTensor } from "../tensor/named.js";
import { NO_BUGS, type Bugs } from "../tensor/portingBugs.js";

/** The scheduled values of this iteration. */
export interface StepSchedule {
  readonly epoch: number;
  readonly lr: number;
  readonly weightDecay: number;
  /** λ of the teacher EMA. */
  readonly momentum: number;
  readonly teacherTemp: number;
}

/** Fixed settings of the recipe. */
export interface StepSettings {
  readonly studentTemp: number;
  readonly centerMomentum: number;
  /** Update the centre (default true); false keeps it as it is (zero from the start: "sharpening only"). */
  readonly centering?: boolean;
  /** Per-parameter gradient norm cap; 0 disables. */
  readonly clipGrad: number;
  /** Epochs during which the last layer's gradients are dropped. */
  readonly freezeLastLayer: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly eps?: number;
}

/** The phases of one step, in order (a profiler's labels; `dino-ref bench --profile`). */
export type StepPhase = "teacher forward" | "student forward" | "loss" | "backward" | "clipping" | "AdamW" | "EMA" | "centre";

/** Told when each phase of a step begins and when the step ends (profiling only; changes nothing). */
export interface StepPhases {
  begin(phase: StepPhase): void;
  end(): void;
}

export interface StepResult {
  readonly loss: number;
  readonly signals: CollapseSignals;
  /** Pre-clip gradient norms of the trainable parameters. */
  readonly gradNorms: readonly GradNorm[];
}

/**
 * One iteration on `crops` (ncrops tensors [B, 3, h, w]; crops 0 and 1 are the global ones).
 * Updates the state in place and returns the loss and the collapse signals. `step` numbers the
 * iteration in error messages (from 1, as the progress lines). `bugs`: known porting mistakes
 * switched on, only when `dino-ref compare` diagnoses a dino_train_steps case. `phases`, when
 * given, is told where each phase begins (a profiler); it changes nothing in the step.
 */
export function trainStep(
  be: Backend, state: TrainState, crops: readonly Tensor[], s: StepSchedule, settings: StepSettings, dropPathRng?: Rng, step = 1, bugs: Bugs = NO_BUGS, phases?: StepPhases,
): StepResult {
  const cfg = state.model;
  const ncrops = crops.length;
  const B = crops[0].shape[0];
  const K = state.center.length;
  const mark = be.mark();
  try {
    // ---- teacher: the two global crops only, no gradients ----
    phases?.begin("teacher forward");
    const { out: teacherOut } = multiCropForward(be, state.teacher, cfg, crops.slice(0, 2), { cache: false, bugs });

    // ---- student: every crop, one backbone pass per resolution, drop path on ----
    phases?.begin("student forward");
    const { out: studentOut, cache } = multiCropForward(be, state.student, cfg, crops, { cache: true, dropPathRng, bugs });

    // centre updated before the loss (center.updated_before_loss, diagnosis only)
    const centerFirst = bugs.has("center.updated_before_loss") && settings.centering !== false;
    if (centerFirst) state.center = updateCenter(be, state.center, teacherOut as { shape: number[]; data: Float32Array }, settings.centerMomentum, bugs);

    // ---- loss: H(Pt, Ps) over the 2·ncrops − 2 (teacher crop, other student crop) pairs ----
    phases?.begin("loss");
    const result = dinoLoss(studentOut as { shape: number[]; data: Float32Array }, teacherOut, state.center, {
      studentTemp: settings.studentTemp,
      teacherTemp: s.teacherTemp,
      ncrops,
    }, bugs);
    if (!Number.isFinite(result.loss)) throw new DinoRefError(`step ${step}: the loss is ${result.loss}; stopping (the last checkpoint is intact)`);

    // ---- backward into the student ----
    phases?.begin("backward");
    state.student.zeroGrads();
    const gradOut = be.empty([ncrops * B, K]);
    gradOut.data.set(result.gradStudent.data);
    multiCropBackward(be, state.student, cfg, cache!, gradOut);

    // ---- per-parameter clipping, then the last layer frozen in the first epochs ----
    phases?.begin("clipping");
    const params = state.student.params.filter((p) => isTrainable(p.name, cfg));
    let grads: NamedTensor[] = state.student.grads.filter((g) => isTrainable(g.name, cfg));
    const gradNorms = clipGradients(be, grads, settings.clipGrad, bugs);
    const bad = gradNorms.find((g) => !Number.isFinite(g.norm));
    if (bad !== undefined) throw new DinoRefError(`step ${step}: the gradient of ${bad.name} is not finite (norm ${bad.norm}); stopping (the last checkpoint is intact)`);
    grads = cancelLastLayerGradients(s.epoch, settings.freezeLastLayer, grads, bugs);

    // ---- AdamW: lr for every parameter, weight decay for the regularized group ----
    phases?.begin("AdamW");
    adamwStep(be, params, grads, state.optimizer, { lr: s.lr, weightDecay: s.weightDecay, beta1: settings.beta1, beta2: settings.beta2, eps: settings.eps }, bugs);

    // ---- teacher EMA: θt ← λ·θt + (1 − λ)·θs ----
    phases?.begin("EMA");
    updateTeacher(be, state.teacher.params, state.student.params, s.momentum, bugs);

    // ---- centre: c ← m·c + (1 − m)·mean of the teacher outputs (after the loss used the old one) ----
    phases?.begin("centre");
    if (settings.centering !== false && !centerFirst) state.center = updateCenter(be, state.center, teacherOut as { shape: number[]; data: Float32Array }, settings.centerMomentum, bugs);

    const signals = collapseSignals(result.teacherProbs, 2 * B, K, result.teacherEntropy, result.kl);
    return { loss: result.loss, signals, gradNorms };
  } finally {
    be.release(mark);
    phases?.end();
  }
}
