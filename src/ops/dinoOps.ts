// Ops of the contract that are DINO equations: dino_loss, cosine_schedule,
// teacher_temp_schedule, ema_update, clip_gradients, adamw_step. Each only adapts a case's
// tensors to the functions in src/dino/ that the training step calls, on the backend given.

import { tensor, type StTensor } from "../io/safetensors.js";
import type { Backend } from "../kernels/backend.js";
import type { OpImpl } from "./opImpl.js";
import { dinoLossWithCenterUpdate } from "../dino/loss.js";
import { cosineSchedule, teacherTempSchedule } from "../dino/schedules.js";
import { clipGradients } from "../dino/clipGradients.js";
import { updateTeacher } from "../dino/ema.js";
import { adamwStep, type AdamWState } from "../dino/adamw.js";
import { compareNamesByBytes, type NamedTensor } from "../tensor/named.js";
import { f32Out, f64Out, type OpArgs } from "./args.js";
import type { Bugs } from "../tensor/portingBugs.js";

type Op = OpImpl;

/** dino_loss: the loss with the old centre, its gradient w.r.t. the student outputs, then the new centre. */
function dinoLossOp(args: OpArgs, be: Backend, bugs: Bugs): Map<string, StTensor> {
  const ncrops = args.number("ncrops", { integer: true, min: 2 });
  const student = args.f32("student", ["ncrops*B", "K"]);
  const teacher = args.f32("teacher", ["2*B", "K"]);
  const center = args.f32("center", [1, "K"]);
  const [studentRows, teacherRows, K] = [args.dim("ncrops*B"), args.dim("2*B"), args.dim("K")];
  if (studentRows * 2 !== teacherRows * ncrops) {
    args.fail(`tensor in.student has ${studentRows} rows and in.teacher ${teacherRows}; expected ncrops·B = ${ncrops}·B and 2·B rows for the same B`);
  }
  const result = dinoLossWithCenterUpdate(be, { shape: [studentRows, K], data: student }, { shape: [teacherRows, K], data: teacher }, center, {
    studentTemp: args.number("student_temp", { positive: true }),
    teacherTemp: args.number("teacher_temp", { positive: true }),
    ncrops,
    centerMomentum: args.number("center_momentum", { min: 0, max: 1 }),
  }, bugs);
  return new Map([
    ["loss", f32Out([1], Float32Array.of(result.loss))],
    ["grad_student", f32Out([studentRows, K], result.gradStudent.data)],
    ["center", f32Out([1, K], result.center)],
  ]);
}

/** cosine_schedule: per-iteration values with a linear warm-up, as the official utils.cosine_scheduler. */
function cosineScheduleOp(args: OpArgs, _be: Backend, bugs: Bugs): Map<string, StTensor> {
  const epochs = args.number("epochs", { integer: true, min: 0 });
  const nitersPerEpoch = args.number("niter_per_ep", { integer: true, min: 1 });
  args.budget(8 * epochs * nitersPerEpoch, `the ${epochs} × ${nitersPerEpoch} float64 schedule values`);
  const values = cosineSchedule(
    args.number("base_value"),
    args.number("final_value"),
    epochs,
    nitersPerEpoch,
    args.has("warmup_epochs") ? args.number("warmup_epochs", { integer: true, min: 0 }) : 0,
    args.has("start_warmup_value") ? args.number("start_warmup_value") : 0,
    bugs,
  );
  return new Map([["values", f64Out([values.length], values)]]);
}

/** teacher_temp_schedule: per-epoch teacher temperature with its linear warm-up. */
function teacherTempScheduleOp(args: OpArgs): Map<string, StTensor> {
  const nepochs = args.number("nepochs", { integer: true, min: 1 });
  args.budget(8 * nepochs, `the ${nepochs} float64 schedule values`);
  const values = teacherTempSchedule(
    args.number("warmup_teacher_temp", { positive: true }),
    args.number("teacher_temp", { positive: true }),
    args.number("warmup_teacher_temp_epochs", { integer: true, min: 0 }),
    nepochs,
  );
  return new Map([["values", f64Out([values.length], values)]]);
}

/** ema_update: teacher.<key> ← m·teacher.<key> + (1 − m)·student.<key> for every key (updateTeacher, as in training). */
function emaUpdateOp(args: OpArgs, be: Backend, bugs: Bugs): Map<string, StTensor> {
  const momentum = args.number("momentum", { min: 0, max: 1 });
  const teacher = args.prefixed("teacher.");
  const student = args.prefixed("student.");
  for (const key of student.keys()) if (!teacher.has(key)) args.fail(`tensor in.teacher.${key} is missing (in.student.${key} has no teacher)`);
  for (const key of teacher.keys()) if (!student.has(key)) args.fail(`tensor in.student.${key} is missing (in.teacher.${key} has no student)`);
  const keys = [...teacher.keys()];
  const teachers: NamedTensor[] = keys.map((key) => ({ name: key, shape: teacher.get(key)!.shape, data: args.f32(`teacher.${key}`).slice() }));
  const students: NamedTensor[] = keys.map((key, i) => ({ name: key, shape: teachers[i].shape, data: args.f32(`student.${key}`, teachers[i].shape) }));
  updateTeacher(be, teachers, students, momentum, bugs);
  return new Map(teachers.map((t) => [`teacher.${t.name}`, tensor("F32", t.shape, t.data)]));
}

/** clip_gradients: each grad.<key> scaled to norm ≤ clip on its own; norms in byte order of the keys. */
function clipGradientsOp(args: OpArgs, be: Backend, bugs: Bugs): Map<string, StTensor> {
  const clip = args.number("clip", { min: 0 });
  const keys = [...args.prefixed("grad.").keys()].sort(compareNamesByBytes);
  if (keys.length === 0) args.fail("no grad.<key> input tensors");
  const grads: NamedTensor[] = keys.map((key) => {
    const t = args.input(`grad.${key}`, "F32");
    return { name: key, shape: t.shape, data: (t.data as Float32Array).slice() };
  });
  const norms = clipGradients(be, grads, clip, bugs);
  const out = new Map<string, StTensor>(grads.map((g) => [`grad.${g.name}`, tensor("F32", g.shape, g.data)]));
  out.set("norms", f32Out([norms.length], Float32Array.from(norms, (n) => n.norm)));
  return out;
}

/**
 * adamw_step: one AdamW update per key (adamwStep, as in training), from the given moments and
 * step count, with weight decay exactly where decay.<key> is 1.
 */
function adamwStepOp(args: OpArgs, be: Backend, bugs: Bugs): Map<string, StTensor> {
  const step = args.number("step", { integer: true, min: 1 });
  const keys = [...args.prefixed("param.").keys()];
  if (keys.length === 0) args.fail("no param.<key> input tensors");
  const params: NamedTensor[] = [];
  const grads: NamedTensor[] = [];
  const state: AdamWState = new Map();
  const decayed = new Set<string>();
  for (const key of keys) {
    const shape = args.input(`param.${key}`, "F32").shape;
    params.push({ name: key, shape, data: args.f32(`param.${key}`).slice() });
    grads.push({ name: key, shape, data: args.f32(`grad.${key}`, shape) });
    // adamwStep increments the step count first: the case's step is the count after the increment
    state.set(key, { step: step - 1, expAvg: args.f32(`exp_avg.${key}`, shape).slice(), expAvgSq: args.f32(`exp_avg_sq.${key}`, shape).slice() });
    const decay = args.input(`decay.${key}`, "U8", [1]).data[0];
    if (decay !== 0 && decay !== 1) args.fail(`tensor in.decay.${key} is ${decay}; expected 0 or 1`);
    if (decay === 1) decayed.add(key);
  }
  adamwStep(be, params, grads, state, {
    lr: args.number("lr", { min: 0 }),
    weightDecay: args.number("weight_decay", { min: 0 }),
    beta1: args.number("beta1", { min: 0, max: 1 }),
    beta2: args.number("beta2", { min: 0, max: 1 }),
    eps: args.number("eps", { positive: true }),
    decays: (name) => decayed.has(name),
  }, bugs);
  const out = new Map<string, StTensor>();
  for (const p of params) {
    const s = state.get(p.name)!;
    out.set(`param.${p.name}`, tensor("F32", p.shape, p.data));
    out.set(`exp_avg.${p.name}`, tensor("F32", p.shape, s.expAvg));
    out.set(`exp_avg_sq.${p.name}`, tensor("F32", p.shape, s.expAvgSq));
  }
  return out;
}

export const dinoOps: [string, Op][] = [
  ["dino_loss", dinoLossOp],
  ["cosine_schedule", cosineScheduleOp],
  ["teacher_temp_schedule", teacherTempScheduleOp],
  ["ema_update", emaUpdateOp],
  ["clip_gradients", clipGradientsOp],
  ["adamw_step", adamwStepOp],
];
