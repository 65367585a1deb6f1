import { describe, expect, it } from "vitest";
import { ToyRun, toyConfig, toySchedules, type ToyRunConfig, type ToyStepRecord } from "./src/toyRun.js";
import { arena } from "../src/kernels/arena.js";
import { DinoRefError } from "../src/tensor/errors.js";

function runToEnd(cfg: Partial<ToyRunConfig>): ToyStepRecord[] {
  const run = new ToyRun(cfg);
  try {
    const records: ToyStepRecord[] = [];
    while (!run.done) records.push(run.next());
    return records;
  } finally {
    run.dispose();
  }
}

describe("toy DINO run (the playground's live training)", () => {
  it("reproduces the paper's collapse study: sharpening only → one-hot, centering only → uniform, both → healthy", () => {
    const oneHot = runToEnd({ centering: false, sharpening: true }).at(-1)!;
    const uniform = runToEnd({ centering: true, sharpening: false }).at(-1)!;
    const healthy = runToEnd({ centering: true, sharpening: true }).at(-1)!;
    expect(oneHot.state).toBe("one-hot");
    expect(oneHot.argmaxPrototypes).toBe(1);
    expect(oneHot.teacherEntropy).toBeLessThan(0.02 * oneHot.lnK);
    expect(uniform.state).toBe("uniform");
    expect(uniform.teacherEntropy).toBeGreaterThan(0.98 * uniform.lnK);
    expect(healthy.state).toBe("healthy");
    // in between, and several prototypes in use
    expect(healthy.teacherEntropy).toBeGreaterThan(0.1 * healthy.lnK);
    expect(healthy.teacherEntropy).toBeLessThan(0.9 * healthy.lnK);
    expect(healthy.argmaxPrototypes).toBeGreaterThan(2);
  });

  it("records loss = teacher entropy + KL at every iteration", () => {
    for (const r of runToEnd({ epochs: 3 })) expect(r.loss).toBeCloseTo(r.teacherEntropy + r.kl, 9);
  });

  it("is a pure function of its config: the same seed gives the same numbers, another seed others", () => {
    const strip = (rs: ToyStepRecord[]) => rs.map((r) => [r.loss, r.teacherEntropy, r.kl, ...r.sampleTeacherProbs]);
    const a = strip(runToEnd({ epochs: 3, seed: 5 }));
    expect(strip(runToEnd({ epochs: 3, seed: 5 }))).toEqual(a);
    expect(strip(runToEnd({ epochs: 3, seed: 6 }))).not.toEqual(a);
  });

  it("frees its parameters from the arena on dispose", () => {
    const before = arena().mark();
    const run = new ToyRun({ epochs: 3 });
    run.next();
    expect(arena().mark()).toBeGreaterThan(before);
    run.dispose();
    expect(arena().mark()).toBe(before);
    expect(() => run.next()).toThrow(DinoRefError);
  });

  it("follows its schedules: lr warm-up then cosine, τt = τs without sharpening", () => {
    const c = toyConfig();
    const s = toySchedules(c);
    expect(s.lr.length).toBe(c.epochs * Math.floor(c.points / c.batchSize));
    expect(s.lr[0]).toBe(0);
    expect(Math.max(...s.lr)).toBeCloseTo((c.lr * c.batchSize) / 256, 12);
    expect([...toySchedules(toyConfig({ sharpening: false })).teacherTemp].every((t) => t === c.studentTemp)).toBe(true);
    expect([...s.teacherTemp].every((t) => t === c.teacherTemp)).toBe(true);
  });

  it("names the field of a bad config", () => {
    expect(() => toyConfig({ batchSize: 0 })).toThrow(/batchSize 0; expected a positive integer/);
    expect(() => toyConfig({ batchSize: 512 })).toThrow(/batchSize 512 is larger than points 256/);
    expect(() => toyConfig({ seed: -1 })).toThrow(DinoRefError);
  });
});
