import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { cosineSchedule, dinoSchedules, DEFAULT_SCHEDULE_ARGS, hyperparamsAt, linspace, scheduleAt, teacherTempSchedule } from "./schedules.js";
import { DinoRefError } from "../tensor/errors.js";
import { cosineScheduleViolations, teacherTempIndexViolations } from "../../test/dinoChecks.js";

describe("linspace (numpy, endpoint=True)", () => {
  it("includes both ends; 1 point gives the START value; 0 points nothing", () => {
    expect(Array.from(linspace(0, 1, 5))).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(Array.from(linspace(0.04, 0.07, 1))).toEqual([0.04]);
    expect(linspace(1, 2, 0).length).toBe(0);
    expect(Array.from(linspace(3, 3, 3))).toEqual([3, 3, 3]);
  });
});

// values on a 1e-6 grid: subnormal warm-up steps would make linspace non-monotone (in numpy too)
const value = (max: number) => fc.integer({ min: -max * 1e6, max: max * 1e6 }).map((i) => i / 1e6);
const cosineArgs = fc.record({
  base: value(2),
  final: value(2),
  epochs: fc.integer({ min: 1, max: 12 }),
  niter: fc.integer({ min: 1, max: 9 }),
  warmupFrac: fc.double({ min: 0, max: 1, noNaN: true }),
  start: value(1),
}).map((a) => ({ ...a, warmup: Math.floor(a.warmupFrac * a.epochs) }));

describe("cosineSchedule", () => {
  it("has length epochs·niter, starts at the warm-up start, reaches base twice, and ends just short of final", () => {
    fc.assert(
      fc.property(cosineArgs, (a) => {
        fc.pre(Math.abs(a.base - a.final) > 1e-6 && a.warmup < a.epochs);
        const s = cosineSchedule(a.base, a.final, a.epochs, a.niter, a.warmup, a.start);
        expect(cosineScheduleViolations(s, a.base, a.final, a.epochs, a.niter, a.warmup, a.start)).toEqual([]);
      }),
    );
  });

  it("is monotone on each piece: linear warm-up towards base, cosine from base towards final", () => {
    fc.assert(
      fc.property(cosineArgs, (a) => {
        const s = cosineSchedule(a.base, a.final, a.epochs, a.niter, a.warmup, a.start);
        const w = a.warmup * a.niter;
        const dir = (x: number, y: number) => Math.sign(y - x);
        for (let i = 1; i < w; i++) expect(dir(s[i - 1], s[i]) * dir(a.start, a.base)).toBeGreaterThanOrEqual(0);
        for (let i = w + 1; i < s.length; i++) expect(dir(s[i - 1], s[i]) * dir(a.base, a.final)).toBeGreaterThanOrEqual(0);
      }),
    );
  });

  it("reproduces the official cosine_scheduler's numbers (100 epochs × 1251 iterations)", () => {
    const wd = cosineSchedule(0.04, 0.4, 100, 1251);
    expect(wd[0]).toBe(0.03999999999999998);
    expect(wd[wd.length - 1]).toBeCloseTo(0.3999999999432419, 15);
    const lr = cosineSchedule((0.0005 * 1024) / 256, 1e-6, 100, 1251, 10);
    expect(lr[0]).toBe(0);
    expect(lr[1]).toBeCloseTo(1.5988e-7, 11);
    expect(lr[12509]).toBe(0.002);
    expect(lr[12510]).toBe(0.002);
    expect(lr[lr.length - 1]).toBeCloseTo(1.0000004e-6, 12);
    const m = cosineSchedule(0.996, 1, 100, 1251);
    expect(m[0]).toBe(0.996);
    expect(1 - m[m.length - 1]).toBeCloseTo(6.3e-13, 14);
  });

  it("rejects negative epochs, non-integers and a warm-up longer than training, naming the argument", () => {
    expect(() => cosineSchedule(1, 0, -1, 10)).toThrow(DinoRefError);
    expect(() => cosineSchedule(1, 0, -1, 10)).toThrow(/epochs -1/);
    expect(() => cosineSchedule(1, 0, 10, 2.5)).toThrow(/nitersPerEpoch 2.5/);
    expect(() => cosineSchedule(1, 0, 10, 10, 11)).toThrow(/warmupEpochs 11 is longer than training \(epochs 10\)/);
    expect(() => cosineSchedule(1, 0, 10, 10, 1.5)).toThrow(/warmupEpochs 1.5/);
    expect(() => cosineSchedule(NaN, 0, 10, 10)).toThrow(/baseValue NaN/);
  });
});

describe("teacherTempSchedule (per epoch)", () => {
  it("warms up linearly with both ends included, then stays at teacherTemp", () => {
    const s = teacherTempSchedule(0.04, 0.07, 30, 100);
    expect(s.length).toBe(100);
    expect(s[0]).toBe(0.04);
    expect(s[29]).toBe(0.07);
    expect(s[1] - s[0]).toBeCloseTo(0.03 / 29, 15);
    for (let e = 30; e < 100; e++) expect(s[e]).toBe(0.07);
    for (let e = 1; e < 30; e++) expect(s[e]).toBeGreaterThan(s[e - 1]);
  });

  it("gives [warmupTeacherTemp, ...] for a 1-epoch warm-up and a constant for none", () => {
    expect(Array.from(teacherTempSchedule(0.04, 0.07, 1, 3))).toEqual([0.04, 0.07, 0.07]);
    expect(Array.from(teacherTempSchedule(0.04, 0.07, 0, 3))).toEqual([0.07, 0.07, 0.07]);
  });

  it("rejects a warm-up longer than training and bad counts by name", () => {
    expect(() => teacherTempSchedule(0.04, 0.07, 31, 30)).toThrow(/warmupTeacherTempEpochs 31 is longer than training \(nepochs 30\)/);
    expect(() => teacherTempSchedule(0.04, 0.07, 3, -2)).toThrow(/nepochs -2/);
    expect(() => teacherTempSchedule(0.04, 0, 3, 10)).toThrow(/teacherTemp 0/);
  });
});

describe("hyperparamsAt: iteration-indexed lr, wd, momentum; epoch-indexed teacher temperature", () => {
  const args = { ...DEFAULT_SCHEDULE_ARGS, epochs: 6, nitersPerEpoch: 5, warmupEpochs: 2, warmupTeacherTempEpochs: 4, teacherTemp: 0.07 };
  const s = dinoSchedules(args);
  it("reads the teacher temperature by epoch", () => {
    expect(teacherTempIndexViolations((it) => hyperparamsAt(s, it).teacherTemp, s.teacherTemp, 5, 6)).toEqual([]);
  });
  it("reads lr, wd and momentum by global iteration, with the linear scaling rule", () => {
    const h = hyperparamsAt(s, 13);
    expect(h.epoch).toBe(2);
    expect(h.lr).toBe(s.lr[13]);
    expect(s.lr[9]).toBe((0.0005 * 512) / 256);
    expect(h.wd).toBe(s.wd[13]);
    expect(h.momentum).toBe(s.momentum[13]);
    expect(() => hyperparamsAt(s, 30)).toThrow(/iteration 30; expected an integer in \[0, 30\)/);
  });
});

describe("scheduleAt: the schedules per iteration, never stored", () => {
  it("gives every iteration's values bit for bit as the stored schedules", () => {
    fc.assert(
      fc.property(cosineArgs, fc.integer({ min: 0, max: 12 }), value(1), (a, warmTT, lr) => {
        const args = {
          ...DEFAULT_SCHEDULE_ARGS, epochs: a.epochs, nitersPerEpoch: a.niter, warmupEpochs: a.warmup, lr: Math.abs(lr) + 1e-6, totalBatchSize: 64,
          minLr: Math.abs(a.final), weightDecay: a.base, weightDecayEnd: a.final, momentumTeacher: a.start, warmupTeacherTempEpochs: Math.min(warmTT, a.epochs), teacherTemp: 0.07,
        };
        const stored = dinoSchedules(args);
        const at = scheduleAt(args);
        for (let it = 0; it < a.epochs * a.niter; it++) expect(at(it)).toEqual(hyperparamsAt(stored, it));
      }),
    );
  });
  it("starts a run of a million epochs at once and checks the iteration", () => {
    const at = scheduleAt({ ...DEFAULT_SCHEDULE_ARGS, epochs: 1_000_000, nitersPerEpoch: 1250 });
    expect(at(1_249_999_999).epoch).toBe(999_999);
    expect(() => at(1_250_000_000)).toThrow(/iteration 1250000000; expected an integer in \[0, 1250000000\)/);
    expect(() => scheduleAt({ ...DEFAULT_SCHEDULE_ARGS, warmupEpochs: 101 })).toThrow(/warmupEpochs 101 is longer than training/);
  });
});
