// Times benchmark cases: one warm-up call, then repeated calls until `minSeconds` have passed
// (at least 3). GFLOP/s uses the median time per call. Ratios are only ever formed between cases
// measured in the same run.

import { cpus } from "node:os";
import type { BenchCase } from "./types.js";
import { withThreadSettings } from "../kernels/threads.js";
import { arena } from "../kernels/arena.js";

export interface BenchResult {
  name: string;
  impl: BenchCase["impl"];
  gflops: number;
  /** Median seconds per call. */
  seconds: number;
  reps: number;
  /** For model benchmarks: images per second. */
  images_per_s?: number;
  /** With BenchCase.peakMemory: the most wasm memory the case held at once (bytes, its setup included). */
  peak_bytes?: number;
  note?: string;
  node: string;
  cpu: string;
}

/** Times a case; null when an external case could not run (the reason goes to `skipped`). */
export function runBenchCase(c: BenchCase, minSeconds: number, skipped: (why: string) => void = () => {}): BenchResult | null {
  let median: number, reps: number;
  let note = c.note;
  let peak: number | undefined;
  if (c.external) {
    const r = c.external();
    if ("skipped" in r) {
      skipped(`${c.name} (${c.impl}): ${r.skipped}`);
      return null;
    }
    [median, reps] = [r.seconds, r.reps];
    note = r.note ?? note;
  } else {
    const a = c.peakMemory ? arena() : null;
    const before = a?.used ?? 0;
    a?.resetPeak();
    const run = c.threads === undefined ? () => c.run() : () => withThreadSettings({ threads: c.threads }, () => c.run());
    const times: number[] = [];
    // warm-up: JIT (a function called once per run needs a few calls to be optimised), page faults, lazy setup
    if (!c.once) for (let i = 0; i < (c.warmups ?? 1); i++) run();
    const start = performance.now();
    while (times.length < (c.once ? 1 : 3) || (!c.once && (performance.now() - start) / 1000 < minSeconds)) {
      const t0 = performance.now();
      run();
      times.push((performance.now() - t0) / 1000);
    }
    times.sort((x, y) => x - y);
    [median, reps] = [times[Math.floor(times.length / 2)], times.length];
    if (a !== null) peak = a.peakUsed - before;
  }
  return {
    name: c.name,
    impl: c.impl,
    gflops: c.flops / median / 1e9,
    seconds: median,
    reps,
    ...(c.images ? { images_per_s: c.images / median } : {}),
    ...(peak !== undefined ? { peak_bytes: peak } : {}),
    ...(note ? { note } : {}),
    node: process.version,
    cpu: cpus()[0]?.model ?? "unknown",
  };
}
