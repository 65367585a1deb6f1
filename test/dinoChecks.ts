// Checks of the DINO equations written as functions of the implementation under test, so the same
// check runs on the real code (src/dino/*.test.ts: no violations) and on deliberately wrong variants
// (src/dino/wrongVariants.test.ts: at least one violation). Each returns a list of violations.

import type { FloatArray } from "../src/tensor/floatArray.js";
import type { NamedTensor, Tensor } from "../src/tensor/named.js";
import { ulp32 } from "./floatCompare.js";

/** A deterministic generator of values in [-1, 1) (mulberry32), for concrete inputs. */
export function seededUniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

export interface LossCase {
  readonly ncrops: number;
  readonly B: number;
  readonly K: number;
  readonly student: Float64Array; // [ncrops*B, K]
  readonly teacher: Float64Array; // [2*B, K]
  readonly center: Float64Array; // [K]
  readonly studentTemp: number;
  readonly teacherTemp: number;
}

/** A loss case with head-like outputs (cosines in [-1, 1]) and a centre of the same scale. */
export function lossCase(seed: number, ncrops = 4, B = 2, K = 7, studentTemp = 0.1, teacherTemp = 0.04): LossCase {
  const u = seededUniform(seed);
  const fill = (n: number, scale: number) => Float64Array.from({ length: n }, () => Math.fround(u() * scale));
  return { ncrops, B, K, student: fill(ncrops * B * K, 1), teacher: fill(2 * B * K, 1), center: fill(K, 0.5), studentTemp, teacherTemp };
}

/** The loss interface the checks need (the real dinoLoss has it). */
export type LossFn = (
  student: Tensor<Float64Array>,
  teacher: Tensor<Float64Array>,
  center: Float64Array,
  p: { studentTemp: number; teacherTemp: number; ncrops: number },
) => { loss: number; gradStudent: Tensor<FloatArray> };

function callLoss(fn: LossFn, c: LossCase, teacher = c.teacher, center = c.center, student = c.student) {
  return fn(
    { shape: [c.ncrops * c.B, c.K], data: student },
    { shape: [2 * c.B, c.K], data: teacher },
    center,
    { studentTemp: c.studentTemp, teacherTemp: c.teacherTemp, ncrops: c.ncrops },
  );
}

/** Softmax of one row /τ, float64 (independent of the code under test). */
export function softmaxRow(row: ArrayLike<number>, tau: number): Float64Array {
  let max = -Infinity;
  for (let k = 0; k < row.length; k++) max = Math.max(max, row[k] / tau);
  const e = Float64Array.from(row, (x) => Math.exp(x / tau - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/** Mean over the 2B teacher rows of h(softmax((t − c)/τt)). */
export function teacherMeanEntropy(c: LossCase): number {
  let h = 0;
  for (let r = 0; r < 2 * c.B; r++) {
    const row = Array.from({ length: c.K }, (_, k) => c.teacher[r * c.K + k] - c.center[k]);
    for (const q of softmaxRow(row, c.teacherTemp)) if (q > 0) h -= q * Math.log(q);
  }
  return h / (2 * c.B);
}

/**
 * Centring must be a SUBTRACTION inside the teacher softmax: shifting every teacher row and the
 * centre by the same vector d leaves (t − c), hence the loss and the gradient, unchanged.
 */
export function checkCentreShiftInvariance(fn: LossFn, c: LossCase): string[] {
  const u = seededUniform(99);
  const d = Float64Array.from({ length: c.K }, () => u());
  const t2 = c.teacher.map((x, i) => x + d[i % c.K]);
  const c2 = c.center.map((x, k) => x + d[k]);
  const a = callLoss(fn, c).loss;
  const b = callLoss(fn, c, t2, c2).loss;
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a)) ? [] : [`loss changed from ${a} to ${b} when teacher rows and centre were shifted by the same vector`];
}

/**
 * Same-view pairs are skipped: changing teacher chunk iq must not change the gradient of student
 * chunk iq, and must change the gradient of every other chunk (K > 1).
 */
export function checkSameViewSkipped(fn: LossFn, c: LossCase): string[] {
  const out: string[] = [];
  const base = callLoss(fn, c).gradStudent.data;
  for (let iq = 0; iq < 2; iq++) {
    // in every row of teacher chunk iq, the least likely dimension becomes the most likely one
    // (+5 exceeds the range of t − c), so that even a saturated, sharpened teacher changes
    const t2 = c.teacher.slice();
    for (let r = iq * c.B; r < (iq + 1) * c.B; r++) {
      let argmin = 0;
      for (let k = 1; k < c.K; k++) if (t2[r * c.K + k] - c.center[k] < t2[r * c.K + argmin] - c.center[argmin]) argmin = k;
      t2[r * c.K + argmin] += 5;
    }
    const g = callLoss(fn, c, t2).gradStudent.data;
    for (let v = 0; v < c.ncrops; v++) {
      let changed = false;
      for (let i = v * c.B * c.K; i < (v + 1) * c.B * c.K; i++) if (g[i] !== base[i]) changed = true;
      if (v === iq && changed) out.push(`changing teacher chunk ${iq} changed the gradient of student chunk ${v} (the same view)`);
      // (with K = 1 every softmax is 1 and nothing can change)
      if (v !== iq && !changed && c.K > 1) out.push(`changing teacher chunk ${iq} did not change the gradient of student chunk ${v}`);
    }
  }
  return out;
}

/** H(Pt, Ps) = h(Pt) + KL(Pt‖Ps) >= h(Pt): the loss is never below the teachers' mean entropy. */
export function checkEntropyLowerBound(fn: LossFn, c: LossCase): string[] {
  const loss = callLoss(fn, c).loss;
  const h = teacherMeanEntropy(c);
  return loss >= h - 1e-12 ? [] : [`loss ${loss} is below the teachers' mean entropy ${h}`];
}

/** Central differences in float64 on every student logit agree with the returned gradient. */
export function checkFiniteDifferences(fn: LossFn, c: LossCase, h = 1e-6): string[] {
  const out: string[] = [];
  const g = callLoss(fn, c).gradStudent.data;
  for (let i = 0; i < c.student.length; i++) {
    const plus = c.student.slice();
    const minus = c.student.slice();
    plus[i] += h;
    minus[i] -= h;
    const fd = (callLoss(fn, c, c.teacher, c.center, plus).loss - callLoss(fn, c, c.teacher, c.center, minus).loss) / (2 * h);
    // truncation ~h²·|L'''| (L''' ~ 1/τs³ = 1e3) plus cancellation ~1e-16·|L|/h: both < 1e-8
    if (Math.abs(fd - g[i]) > 1e-7 + 1e-6 * Math.abs(fd)) out.push(`d loss/d student[${i}]: finite difference ${fd}, gradient ${g[i]}`);
  }
  return out;
}

/** All loss checks together. */
export function lossViolations(fn: LossFn, c: LossCase): string[] {
  return [...checkCentreShiftInvariance(fn, c), ...checkSameViewSkipped(fn, c), ...checkEntropyLowerBound(fn, c), ...checkFiniteDifferences(fn, c)];
}

/** The step (loss with the centre update) as the checks see it. */
export type LossStepFn = (
  student: Tensor<Float32Array>,
  teacher: Tensor<Float32Array>,
  center: Float32Array,
  p: { studentTemp: number; teacherTemp: number; ncrops: number; centerMomentum: number },
) => { loss: number; center: Float32Array };

/**
 * The loss uses the OLD centre (the update comes after it): so the loss of a step cannot depend
 * on the centre momentum, while the returned centre must.
 */
export function checkLossUsesOldCentre(fn: LossStepFn, c: LossCase): string[] {
  const s = { shape: [c.ncrops * c.B, c.K], data: Float32Array.from(c.student) };
  const t = { shape: [2 * c.B, c.K], data: Float32Array.from(c.teacher) };
  const p = { studentTemp: c.studentTemp, teacherTemp: c.teacherTemp, ncrops: c.ncrops };
  const a = fn(s, t, Float32Array.from(c.center), { ...p, centerMomentum: 0.9 });
  const b = fn(s, t, Float32Array.from(c.center), { ...p, centerMomentum: 0.2 });
  const out: string[] = [];
  if (a.loss !== b.loss) out.push(`the loss depends on the centre momentum (${a.loss} at m = 0.9, ${b.loss} at m = 0.2): the centre was updated before the loss`);
  if (a.center.every((x, i) => x === b.center[i])) out.push("the returned centre does not depend on the centre momentum");
  return out;
}

/** A per-parameter clipping implementation as the checks see it. */
export type ClipFn = (grads: readonly NamedTensor[], clip: number) => { name: string; norm: number }[];

function norm64(x: Float32Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s);
}

/**
 * After clipping each tensor's norm is <= clip (plus float32 slack), tensors at or below the
 * clip are bit-identical, the norms returned are each tensor's own pre-clip norm, and a clipped
 * tensor ends at norm ≈ clip.
 */
export function clipViolations(fn: ClipFn, grads: readonly NamedTensor[], clip: number): string[] {
  const out: string[] = [];
  const before = grads.map((g) => ({ ...g, data: g.data.slice() }));
  const norms = fn(grads, clip);
  grads.forEach((g, i) => {
    const pre = norm64(before[i].data);
    const post = norm64(g.data);
    // the returned norm is a float32: within one float32 ulp of the exact norm
    // coef and each scaled element carry a few float32 roundings: relative slack 2⁻²⁰
    if (post > clip * (1 + 2 ** -20)) out.push(`${g.name}: norm ${post} after clipping to ${clip}`);
    // coef = clip/(norm + 1e-6) < 1 exactly when norm > clip − 1e-6
    if (pre + 1e-6 <= clip * (1 - 1e-5) && !g.data.every((v, j) => Object.is(v, before[i].data[j]))) out.push(`${g.name}: norm ${pre} <= clip ${clip} but the gradient changed`);
    const target = (clip * pre) / (pre + 1e-6);
    if (pre + 1e-6 > clip * (1 + 1e-5) && Math.abs(post - target) > 1e-5 * clip) out.push(`${g.name}: clipped from ${pre} to ${post}; expected ${target} = clip·norm/(norm + 1e-6)`);
    if (norms[i] === undefined || norms[i].name !== g.name || Math.abs(norms[i].norm - pre) > ulp32(pre)) out.push(`${g.name}: returned norm ${norms[i]?.norm}; expected its own pre-clip norm ${pre}`);
  });
  return out;
}

/** The weight-decay rule of `utils.py get_params_groups` on its examples. */
export const PARAM_GROUP_EXAMPLES: readonly { name: string; shape: number[]; regularized: boolean }[] = [
  { name: "backbone.cls_token", shape: [1, 1, 8], regularized: true },
  { name: "backbone.pos_embed", shape: [1, 5, 8], regularized: true },
  { name: "backbone.patch_embed.proj.weight", shape: [8, 3, 4, 4], regularized: true },
  { name: "backbone.patch_embed.proj.bias", shape: [8], regularized: false },
  { name: "backbone.blocks.0.norm1.weight", shape: [8], regularized: false },
  { name: "backbone.blocks.0.norm1.bias", shape: [8], regularized: false },
  { name: "backbone.blocks.0.attn.qkv.weight", shape: [24, 8], regularized: true },
  { name: "backbone.blocks.0.attn.qkv.bias", shape: [24], regularized: false },
  { name: "head.mlp.0.weight", shape: [16, 8], regularized: true },
  { name: "head.last_layer.weight_g", shape: [10, 1], regularized: true },
  { name: "head.last_layer.weight_v", shape: [10, 4], regularized: true },
];

export function paramGroupViolations(isRegularized: (name: string, shape: readonly number[]) => boolean): string[] {
  return PARAM_GROUP_EXAMPLES.filter((e) => isRegularized(e.name, e.shape) !== e.regularized).map(
    (e) => `${e.name} [${e.shape.join(", ")}]: regularized ${!e.regularized}; expected ${e.regularized}`,
  );
}

/** The teacher temperature at each iteration of the first epochs must be the EPOCH's value. */
export function teacherTempIndexViolations(
  at: (it: number) => number,
  perEpoch: Float64Array,
  nitersPerEpoch: number,
  epochs: number,
): string[] {
  const out: string[] = [];
  for (let it = 0; it < epochs * nitersPerEpoch; it++) {
    const e = Math.floor(it / nitersPerEpoch);
    if (at(it) !== perEpoch[e]) out.push(`iteration ${it} (epoch ${e}): teacher temp ${at(it)}; expected ${perEpoch[e]}`);
  }
  return out;
}

/** Endpoint facts of a cosine schedule with warm-up (`utils.py cosine_scheduler`). */
export function cosineScheduleViolations(
  sched: Float64Array,
  base: number,
  final: number,
  epochs: number,
  niter: number,
  warmupEpochs: number,
  start: number,
): string[] {
  const out: string[] = [];
  const w = warmupEpochs * niter;
  if (sched.length !== epochs * niter) out.push(`length ${sched.length}; expected ${epochs * niter}`);
  if (w > 0 && sched[0] !== start) out.push(`first value ${sched[0]}; expected the warm-up start ${start}`);
  // (a 1-iteration warm-up is linspace(start, base, 1) = [start]: it never reaches base)
  if (w > 1 && sched[w - 1] !== base) out.push(`last warm-up value ${sched[w - 1]}; expected base ${base}`);
  // final + ½(base − final)·2 equals base up to float64 rounding (wd[0] = 0.03999999999999998 for base 0.04)
  const slack = 4 * Number.EPSILON * Math.max(Math.abs(base), Math.abs(final));
  if (!(Math.abs(sched[w] - base) <= slack)) out.push(`first cosine value ${sched[w]}; expected base ${base}`);
  const last = sched[sched.length - 1];
  // the cosine divides by T, not T − 1: the last value stops just short of `final`, on base's side
  const T = epochs * niter - w;
  const expectedLast = final + 0.5 * (base - final) * (1 + Math.cos((Math.PI * (T - 1)) / T));
  if (!(last !== final && Math.abs(last - expectedLast) <= slack)) out.push(`last value ${last}; expected just short of final ${final} (on the side of base ${base})`);
  return out;
}

/** An optimizer step as the checks see it. */
export type AdamWStepFn = (
  params: readonly NamedTensor[],
  grads: readonly NamedTensor[],
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each optimizer has its own state type; the checks read `step`
  state: Map<string, any>,
  opts: { lr: number; weightDecay: number },
) => void;

function smallModel(): NamedTensor[] {
  const u = seededUniform(5);
  const t = (name: string, shape: number[]): NamedTensor => {
    const n = shape.reduce((a, b) => a * b, 1);
    return { name, shape, data: Float32Array.from({ length: n }, () => u()) };
  };
  return [t("backbone.cls_token", [1, 1, 3]), t("backbone.blocks.0.norm1.bias", [3]), t("backbone.blocks.0.norm1.weight", [3]), t("head.mlp.0.weight", [2, 3]), t("head.last_layer.weight_v", [4, 2])];
}

/** With zero gradients and wd > 0, biases and 1-D parameters stay put and the others decay. */
export function decayGroupViolations(step: AdamWStepFn): string[] {
  const params = smallModel();
  const before = params.map((p) => p.data.slice());
  step(params, params.map((p) => ({ ...p, data: new Float32Array(p.data.length) })), new Map(), { lr: 0.1, weightDecay: 0.5 });
  const out: string[] = [];
  params.forEach((p, i) => {
    const moved = p.data.some((v, j) => v !== before[i][j]);
    const shouldDecay = !p.name.endsWith(".bias") && p.shape.length !== 1;
    if (moved !== shouldDecay) out.push(`${p.name} [${p.shape.join(", ")}]: ${moved ? "decayed" : "not decayed"}; expected ${shouldDecay ? "decayed" : "not decayed"}`);
  });
  return out;
}

/**
 * During the freeze the last layer must not move at all (no decay either) and must get no
 * optimizer state, so its step count starts at 1 when it unfreezes.
 */
export function frozenLastLayerViolations(
  cancel: (epoch: number, freezeLastLayer: number, grads: readonly NamedTensor[]) => NamedTensor[],
  step: AdamWStepFn,
): string[] {
  const params = smallModel();
  const before = params.map((p) => p.data.slice());
  const u = seededUniform(8);
  const grads = params.map((p) => ({ ...p, data: p.data.map(() => u()) }));
  const state = new Map<string, { step: number }>();
  step(params, cancel(0, 1, grads), state, { lr: 1e-2, weightDecay: 0.04 });
  const out: string[] = [];
  params.forEach((p, i) => {
    const frozen = p.name.includes("last_layer");
    if (frozen && p.data.some((v, j) => v !== before[i][j])) out.push(`${p.name} changed during the freeze`);
    if (frozen && state.has(p.name)) out.push(`${p.name} got optimizer state (step ${state.get(p.name)!.step}) during the freeze`);
    if (!frozen && state.get(p.name)?.step !== 1) out.push(`${p.name} did not take its first step`);
  });
  return out;
}

/** λ = 1 keeps the teacher, λ = 0 copies the student, λ = ½ averages (up to float32 rounding). */
export function emaEndpointViolations(update: (teacher: readonly NamedTensor[], student: readonly NamedTensor[], momentum: number) => void): string[] {
  const out: string[] = [];
  const t = { name: "w", shape: [5], data: Float32Array.from([1, -2, 3.5, 0.25, 8]) };
  const s = { name: "w", shape: [5], data: Float32Array.from([4, 4, -1, 0.75, 0]) };
  for (const m of [1, 0, 0.5]) {
    const tt = { ...t, data: t.data.slice() };
    update([tt], [s], m);
    tt.data.forEach((v, j) => {
      const expected = m * t.data[j] + (1 - m) * s.data[j];
      if (Math.abs(v - expected) > 1e-6 * Math.abs(expected)) out.push(`λ = ${m}: teacher[${j}] = ${v}; expected ${expected}`);
    });
  }
  return out;
}
