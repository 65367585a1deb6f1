// The bench driver: timed cases report the median, external (PyTorch) cases report what the other
// program measured, or are skipped with the reason.
import { describe, expect, it } from "vitest";
import { runBenchCase } from "./run.js";

describe("runBenchCase", () => {
  it("times a case at least 3 times after a warm-up and reports images/s from the median", () => {
    let calls = 0;
    const r = runBenchCase({ name: "n", impl: "wasm-simd", flops: 1e6, images: 8, run: () => void calls++ }, 0.001);
    expect(calls).toBeGreaterThanOrEqual(4);
    expect(r!.reps).toBe(calls - 1);
    expect(r!.images_per_s).toBeCloseTo(8 / r!.seconds, 6);
  });

  it("takes an external case's own median, and skips it with the reason when it cannot run", () => {
    const base = { name: "train", impl: "torch x2" as const, flops: 2e9, images: 64, run: () => { throw new Error("not called"); } };
    const r = runBenchCase({ ...base, external: () => ({ seconds: 0.5, reps: 10 }) }, 1);
    expect(r).toMatchObject({ seconds: 0.5, reps: 10, images_per_s: 128, gflops: 4 });
    const why: string[] = [];
    expect(runBenchCase({ ...base, external: () => ({ skipped: "no torch" }) }, 1, (w) => why.push(w))).toBeNull();
    expect(why).toEqual(["train (torch x2): no torch"]);
  });
});
