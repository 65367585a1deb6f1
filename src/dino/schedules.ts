// The training schedules (official `utils.cosine_scheduler` and the teacher temperature of
// `DINOLoss`), precomputed as float64 arrays like numpy. The learning rate warms up linearly (large
// early steps would wreck a randomly initialised ViT), then lr and weight decay follow a cosine;
// the teacher momentum rises on a cosine from 0.996 towards 1, so the teacher changes ever more
// slowly and acts as an ensemble of past students. The teacher temperature may warm up from 0.04
// to its final value: a too sharp-then-soft teacher early on can make training unstable.
//
// Indexing (`main_dino.py train_one_epoch` and `DINOLoss.forward`): lr, wd, momentum by GLOBAL ITERATION (epoch·nitersPerEpoch + i);
// teacher temperature by EPOCH. numpy's linspace includes both ends, so lr[0] = start value and
// the peak appears twice; the cosine divides by its length T (not T − 1), so the last value sits
// slightly above `finalValue`. Paper recipe vs code defaults: `main_dino.py get_args_parser` holds the code's.

import { check } from "../tensor/errors.js";
import { NO_BUGS, type Bugs } from "../tensor/portingBugs.js";

/** numpy.linspace(start, stop, num, endpoint) (endpoint true by default), bit for bit (1 point gives `start`). */
export function linspace(start: number, stop: number, num: number, endpoint = true): Float64Array {
  const y = new Float64Array(num);
  if (num === 0) return y;
  if (num === 1) {
    y[0] = start;
    return y;
  }
  const div = endpoint ? num - 1 : num;
  const delta = stop - start;
  const step = delta / div;
  // y_i = start + i·(stop − start)/(num − 1)  (numpy's evaluation order; step 0 handled as numpy)
  for (let i = 0; i < num; i++) y[i] = (step === 0 ? (i / div) * delta : i * step) + start;
  if (endpoint) y[num - 1] = stop;
  return y;
}

/**
 * Per-iteration schedule of length epochs·nitersPerEpoch: a linear warm-up from startWarmupValue
 * to baseValue over warmupEpochs epochs (both ends included), then a cosine from baseValue
 * towards finalValue. `bugs` (diagnosis only): schedule.warmup_excludes_end (linspace without its
 * end point), schedule.cosine_reaches_final (the cosine over i/(T − 1)).
 */
export function cosineSchedule(
  baseValue: number,
  finalValue: number,
  epochs: number,
  nitersPerEpoch: number,
  warmupEpochs = 0,
  startWarmupValue = 0,
  bugs: Bugs = NO_BUGS,
): Float64Array {
  checkCount("cosineSchedule", "epochs", epochs, 0);
  checkCount("cosineSchedule", "nitersPerEpoch", nitersPerEpoch, 1);
  checkCount("cosineSchedule", "warmupEpochs", warmupEpochs, 0);
  check(warmupEpochs <= epochs, () => `cosineSchedule: warmupEpochs ${warmupEpochs} is longer than training (epochs ${epochs})`);
  for (const [name, v] of [["baseValue", baseValue], ["finalValue", finalValue], ["startWarmupValue", startWarmupValue]] as const) {
    check(Number.isFinite(v), () => `cosineSchedule: ${name} ${v}; expected a finite number`);
  }
  const warmupIters = warmupEpochs * nitersPerEpoch;
  const total = epochs * nitersPerEpoch;
  const out = new Float64Array(total);
  // warm-up: linspace(startWarmupValue, baseValue, warmupIters)
  out.set(linspace(startWarmupValue, baseValue, warmupIters, !bugs.has("schedule.warmup_excludes_end")));
  const T = total - warmupIters;
  const cosineLength = bugs.has("schedule.cosine_reaches_final") ? T - 1 : T;
  const half = 0.5 * (baseValue - finalValue);
  for (let i = 0; i < T; i++) {
    // v_i = final + ½(base − final)·(1 + cos(π·i/T))
    out[warmupIters + i] = finalValue + half * (1 + Math.cos((Math.PI * i) / cosineLength));
  }
  return out;
}

/**
 * Per-epoch teacher temperature, length nepochs: linspace(warmupTeacherTemp, teacherTemp,
 * warmupTeacherTempEpochs) (both ends), then teacherTemp for the remaining epochs.
 */
export function teacherTempSchedule(warmupTeacherTemp: number, teacherTemp: number, warmupTeacherTempEpochs: number, nepochs: number): Float64Array {
  checkCount("teacherTempSchedule", "nepochs", nepochs, 0);
  checkCount("teacherTempSchedule", "warmupTeacherTempEpochs", warmupTeacherTempEpochs, 0);
  check(warmupTeacherTempEpochs <= nepochs,
    () => `teacherTempSchedule: warmupTeacherTempEpochs ${warmupTeacherTempEpochs} is longer than training (nepochs ${nepochs})`);
  check(warmupTeacherTemp > 0 && Number.isFinite(warmupTeacherTemp), () => `teacherTempSchedule: warmupTeacherTemp ${warmupTeacherTemp}; expected a finite value > 0`);
  check(teacherTemp > 0 && Number.isFinite(teacherTemp), () => `teacherTempSchedule: teacherTemp ${teacherTemp}; expected a finite value > 0`);
  const out = new Float64Array(nepochs).fill(teacherTemp);
  // τt(epoch) = linspace(warm-up τt, τt, warm-up epochs)[epoch], then constant τt
  out.set(linspace(warmupTeacherTemp, teacherTemp, warmupTeacherTempEpochs));
  return out;
}

/** The four schedules of a run. */
export interface DinoSchedules {
  readonly nitersPerEpoch: number;
  /** per iteration */ readonly lr: Float64Array;
  /** per iteration */ readonly wd: Float64Array;
  /** per iteration */ readonly momentum: Float64Array;
  /** per EPOCH */ readonly teacherTemp: Float64Array;
}

/** The arguments of main_dino.py that shape the schedules. */
export interface ScheduleArgs {
  readonly epochs: number;
  readonly nitersPerEpoch: number;
  /** lr for a total batch of 256; scaled linearly by totalBatchSize / 256. */
  readonly lr: number;
  readonly totalBatchSize: number;
  readonly minLr: number;
  readonly warmupEpochs: number;
  readonly weightDecay: number;
  readonly weightDecayEnd: number;
  readonly momentumTeacher: number;
  readonly warmupTeacherTemp: number;
  readonly teacherTemp: number;
  readonly warmupTeacherTempEpochs: number;
}

/** main_dino.py's defaults (`get_args_parser`), for 8 GPUs × 64 images (the README's vanilla ViT-S/16 run). */
export const DEFAULT_SCHEDULE_ARGS: ScheduleArgs = {
  epochs: 100,
  nitersPerEpoch: Math.floor(1281167 / 512), // ImageNet train set, drop_last
  lr: 0.0005,
  totalBatchSize: 512,
  minLr: 1e-6,
  warmupEpochs: 10,
  weightDecay: 0.04,
  weightDecayEnd: 0.4,
  momentumTeacher: 0.996,
  warmupTeacherTemp: 0.04,
  teacherTemp: 0.04,
  warmupTeacherTempEpochs: 0,
};

/** The four schedules, as main_dino.py builds them. */
export function dinoSchedules(a: ScheduleArgs): DinoSchedules {
  return {
    nitersPerEpoch: a.nitersPerEpoch,
    // lr: linear scaling rule lr·(batch/256), warm-up from 0, cosine to minLr
    lr: cosineSchedule((a.lr * a.totalBatchSize) / 256, a.minLr, a.epochs, a.nitersPerEpoch, a.warmupEpochs),
    // wd: cosine from weightDecay up to weightDecayEnd
    wd: cosineSchedule(a.weightDecay, a.weightDecayEnd, a.epochs, a.nitersPerEpoch),
    // λ: cosine from momentumTeacher up to 1
    momentum: cosineSchedule(a.momentumTeacher, 1, a.epochs, a.nitersPerEpoch),
    teacherTemp: teacherTempSchedule(a.warmupTeacherTemp, a.teacherTemp, a.warmupTeacherTempEpochs, a.epochs),
  };
}

/** The hyperparameters of global iteration `it`: lr, wd, momentum at `it`; teacher temperature at its EPOCH. */
export function hyperparamsAt(s: DinoSchedules, it: number): { epoch: number; lr: number; wd: number; momentum: number; teacherTemp: number } {
  check(Number.isInteger(it) && it >= 0 && it < s.lr.length, () => `hyperparamsAt: iteration ${it}; expected an integer in [0, ${s.lr.length})`);
  // epoch = ⌊it / nitersPerEpoch⌋
  const epoch = Math.floor(it / s.nitersPerEpoch);
  return { epoch, lr: s.lr[it], wd: s.wd[it], momentum: s.momentum[it], teacherTemp: s.teacherTemp[epoch] };
}

function checkCount(fn: string, name: string, v: number, min: number): void {
  check(Number.isInteger(v) && v >= min, () => `${fn}: ${name} ${v}; expected an integer >= ${min}`);
}
