// The training schedules (official `utils.cosine_scheduler` and the teacher temperature of
// `DINOLoss`) in float64 like numpy: as arrays (the golden cases, the playground's plots), and per
// iteration for training (`scheduleAt`: the same numbers, never stored for the whole run). The learning rate warms up linearly (large
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
  return Float64Array.from({ length: num }, (_, i) => linspaceAt(start, stop, num, i, endpoint));
}

/** Element i of linspace(start, stop, num, endpoint), computed alone (numpy's evaluation order). */
export function linspaceAt(start: number, stop: number, num: number, i: number, endpoint = true): number {
  if (num === 1) return start;
  if (endpoint && i === num - 1) return stop;
  const div = endpoint ? num - 1 : num;
  const delta = stop - start;
  const step = delta / div;
  // y_i = start + i·(stop − start)/(num − 1)  (step 0 handled as numpy)
  return (step === 0 ? (i / div) * delta : i * step) + start;
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
  return Float64Array.from({ length: epochs * nitersPerEpoch }, (_, it) => cosineAt(baseValue, finalValue, epochs, nitersPerEpoch, warmupEpochs, startWarmupValue, it, bugs));
}

/** Element `it` of cosineSchedule(...) computed alone, bit for bit (arguments as checked there). */
function cosineAt(baseValue: number, finalValue: number, epochs: number, nitersPerEpoch: number, warmupEpochs: number, startWarmupValue: number, it: number, bugs: Bugs = NO_BUGS): number {
  const warmupIters = warmupEpochs * nitersPerEpoch;
  // warm-up: linspace(startWarmupValue, baseValue, warmupIters)
  if (it < warmupIters) return linspaceAt(startWarmupValue, baseValue, warmupIters, it, !bugs.has("schedule.warmup_excludes_end"));
  const T = epochs * nitersPerEpoch - warmupIters;
  const cosineLength = bugs.has("schedule.cosine_reaches_final") ? T - 1 : T;
  const i = it - warmupIters;
  const half = 0.5 * (baseValue - finalValue);
  // v_i = final + ½(base − final)·(1 + cos(π·i/T))
  return finalValue + half * (1 + Math.cos((Math.PI * i) / cosineLength));
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
  return Float64Array.from({ length: nepochs }, (_, epoch) => teacherTempAt(warmupTeacherTemp, teacherTemp, warmupTeacherTempEpochs, epoch));
}

// τt(epoch) = linspace(warm-up τt, τt, warm-up epochs)[epoch], then constant τt
function teacherTempAt(warmupTeacherTemp: number, teacherTemp: number, warmupTeacherTempEpochs: number, epoch: number): number {
  return epoch < warmupTeacherTempEpochs ? linspaceAt(warmupTeacherTemp, teacherTemp, warmupTeacherTempEpochs, epoch) : teacherTemp;
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

/** The hyperparameters of one iteration. */
export interface Hyperparams {
  readonly epoch: number;
  readonly lr: number;
  readonly wd: number;
  readonly momentum: number;
  readonly teacherTemp: number;
}

/** The hyperparameters of global iteration `it`: lr, wd, momentum at `it`; teacher temperature at its EPOCH. */
export function hyperparamsAt(s: DinoSchedules, it: number): Hyperparams {
  check(Number.isInteger(it) && it >= 0 && it < s.lr.length, () => `hyperparamsAt: iteration ${it}; expected an integer in [0, ${s.lr.length})`);
  // epoch = ⌊it / nitersPerEpoch⌋
  const epoch = Math.floor(it / s.nitersPerEpoch);
  return { epoch, lr: s.lr[it], wd: s.wd[it], momentum: s.momentum[it], teacherTemp: s.teacherTemp[epoch] };
}

/**
 * The four schedules of dinoSchedules(a) computed per iteration instead of stored: the same
 * numbers bit for bit, in constant memory however long the run (a training run of a million
 * epochs starts at once). The arguments are checked once, here.
 */
export function scheduleAt(a: ScheduleArgs): (it: number) => Hyperparams {
  const peakLr = (a.lr * a.totalBatchSize) / 256;
  // the checks of cosineSchedule and teacherTempSchedule
  checkCount("scheduleAt", "epochs", a.epochs, 0);
  checkCount("scheduleAt", "nitersPerEpoch", a.nitersPerEpoch, 1);
  checkCount("scheduleAt", "warmupEpochs", a.warmupEpochs, 0);
  checkCount("scheduleAt", "warmupTeacherTempEpochs", a.warmupTeacherTempEpochs, 0);
  check(a.warmupEpochs <= a.epochs, () => `scheduleAt: warmupEpochs ${a.warmupEpochs} is longer than training (epochs ${a.epochs})`);
  check(a.warmupTeacherTempEpochs <= a.epochs, () => `scheduleAt: warmupTeacherTempEpochs ${a.warmupTeacherTempEpochs} is longer than training (epochs ${a.epochs})`);
  for (const [name, v] of [["lr", peakLr], ["minLr", a.minLr], ["weightDecay", a.weightDecay], ["weightDecayEnd", a.weightDecayEnd], ["momentumTeacher", a.momentumTeacher]] as const) {
    check(Number.isFinite(v), () => `scheduleAt: ${name} ${v}; expected a finite number`);
  }
  for (const [name, v] of [["warmupTeacherTemp", a.warmupTeacherTemp], ["teacherTemp", a.teacherTemp]] as const) {
    check(v > 0 && Number.isFinite(v), () => `scheduleAt: ${name} ${v}; expected a finite value > 0`);
  }
  const total = a.epochs * a.nitersPerEpoch;
  const n = a.nitersPerEpoch;
  return (it) => {
    check(Number.isInteger(it) && it >= 0 && it < total, () => `scheduleAt: iteration ${it}; expected an integer in [0, ${total})`);
    const epoch = Math.floor(it / n);
    return {
      epoch,
      lr: cosineAt(peakLr, a.minLr, a.epochs, n, a.warmupEpochs, 0, it),
      wd: cosineAt(a.weightDecay, a.weightDecayEnd, a.epochs, n, 0, 0, it),
      momentum: cosineAt(a.momentumTeacher, 1, a.epochs, n, 0, 0, it),
      teacherTemp: teacherTempAt(a.warmupTeacherTemp, a.teacherTemp, a.warmupTeacherTempEpochs, epoch),
    };
  };
}

function checkCount(fn: string, name: string, v: number, min: number): void {
  check(Number.isInteger(v) && v >= min, () => `${fn}: ${name} ${v}; expected an integer >= ${min}`);
}
