// Times benchmark cases: one warm-up call, then repeated calls until `minSeconds` have passed
// (at least 3). GFLOP/s uses the median time per call. Ratios are only ever formed between cases
// measured in the same run.

import { cpus } from "node:os";
import type { BenchCase } from "./types.js";

export interface BenchResult {
  name: string;
  impl: BenchCase["impl"];
  gflops: number;
  /** Median seconds per call. */
  seconds: number;
  reps: number;
  /** For model benchmarks: images per second. */
  images_per_s?: number;
  note?: string;
  node: string;
  cpu: string;
}

/** Times a case; null when an external case could not run (the reason goes to `skipped`). */
export function runBenchCase(c: BenchCase, minSeconds: number, skipped: (why: string) => void = () => {}): BenchResult | null {
  let median: number, reps: number;
  let note = c.note;
  if (c.external) {
    const r = c.external();
    if ("skipped" in r) {
      skipped(`${c.name} (${c.impl}): ${r.skipped}`);
      return null;
    }
    [median, reps] = [r.seconds, r.reps];
    note = r.note ?? note;
  } else {
    c.run(); // warm-up: JIT, page faults, lazy wasm instantiation
    const times: number[] = [];
    const start = performance.now();
    while (times.length < 3 || (performance.now() - start) / 1000 < minSeconds) {
      const t0 = performance.now();
      c.run();
      times.push((performance.now() - t0) / 1000);
    }
    times.sort((a, b) => a - b);
    [median, reps] = [times[Math.floor(times.length / 2)], times.length];
  }
  return {
    name: c.name,
    impl: c.impl,
    gflops: c.flops / median / 1e9,
    seconds: median,
    reps,
    ...(c.images ? { images_per_s: c.images / median } : {}),
    ...(note ? { note } : {}),
    node: process.version,
    cpu: cpus()[0]?.model ?? "unknown",
  };
}
