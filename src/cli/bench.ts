// `dino-ref bench [--json] [--filter TEXT[|TEXT...]] [--min-time SECONDS]`: kernel throughput, each
// wasm-simd case beside the TypeScript oracle (or PyTorch) measured in the same run.
// `dino-ref bench --profile [--steps N]`: where a mnist-tiny training step's time goes, beside PyTorch's.

import { DinoRefError } from "../tensor/errors.js";
import { allBenchCases } from "../bench/index.js";
import { runBenchCase, type BenchResult } from "../bench/run.js";
import { formatTable } from "./report.js";
import { threadCount } from "../kernels/threads.js";
import type { Io } from "./io.js";
import { integerArg } from "./args.js";
import { opRows, phaseRows, profileTrainStep } from "../bench/profile.js";
import { runTorchScript, TRAIN_SCRIPT } from "../bench/torch.js";

export interface BenchOptions {
  json: boolean;
  filter?: string;
  minTime?: string;
  profile?: boolean;
  steps?: string;
  /** --profile: the process's CPU time instead of wall time. */
  cpuTime?: boolean;
}

export async function benchCommand(opts: BenchOptions, io: Io): Promise<number> {
  if (opts.profile) return profileCommand(opts, io);
  if (opts.steps !== undefined || opts.cpuTime) throw new DinoRefError("bench: --steps and --cpu-time go with --profile");
  const minSeconds = opts.minTime === undefined ? 1 : Number(opts.minTime);
  if (!(minSeconds > 0)) throw new DinoRefError(`bench: --min-time must be a positive number of seconds, got '${opts.minTime}'`);
  // --filter "a|b": the cases whose name contains any of the texts
  const wanted = opts.filter?.split("|").filter((t) => t !== "");
  const cases = allBenchCases().filter((c) => wanted === undefined || wanted.some((t) => c.name.includes(t)));
  if (cases.length === 0) throw new DinoRefError(`bench: no benchmark matches '${opts.filter}'`);
  const results: BenchResult[] = [];
  const skipped: string[] = [];
  for (const c of cases) {
    const r = runBenchCase(c, minSeconds, (why) => skipped.push(why));
    if (r === null) continue;
    results.push(r);
    if (opts.json) io.out(JSON.stringify(r));
  }
  if (!opts.json) {
    const rows = results.map((r) => {
      // the ratio against PyTorch on as many threads, or the same benchmark's TypeScript oracle, measured in this run
      const base = r.impl.startsWith("wasm") ? (results.find((o) => o.name === r.name && o.impl === `torch x${threadsOf(r.impl)}`) ?? results.find((o) => o.name === r.name && o.impl === "ts")) : undefined;
      const ratio = base ? `${(r.gflops / base.gflops).toFixed(2)}x ${base.impl}` : "";
      const peak = r.peak_bytes === undefined ? "" : (r.peak_bytes / 2 ** 20).toFixed(0);
      return [r.name, r.impl, r.gflops.toFixed(2), (r.seconds * 1000).toFixed(2), r.images_per_s === undefined ? "" : r.images_per_s.toFixed(2), peak, ratio, r.note ?? ""];
    });
    if (rows.length > 0) io.out(formatTable(rows, ["benchmark", "impl", "GFLOP/s", "ms/call", "images/s", "peak MiB", "ratio", "note"]));
    for (const line of peerSummary(results)) io.out(line);
    if (results.length > 0) {
      io.out(`\n${results[0].node} on ${results[0].cpu}; "wasm-simd" rows run on 1 thread, "xN" rows on N (other rows: DINO_REF_THREADS, now ${threadCount()}); peak MiB: wasm memory held at once`);
    }
  }
  for (const why of skipped) io.err(`bench: skipped ${why}`);
  return 0;
}

/** Threads of a row's impl: "wasm-simd" 1, "wasm-simd x2" 2, "torch x1" 1. */
function threadsOf(impl: string): number {
  const m = /x(\d+)$/.exec(impl);
  return m === null ? 1 : Number(m[1]);
}

/** For each benchmark PyTorch ran in: dino-ref on each thread count against PyTorch on as many threads and at its best. */
function peerSummary(results: readonly BenchResult[]): string[] {
  const lines: string[] = [];
  for (const name of new Set(results.filter((r) => r.impl.startsWith("torch")).map((r) => r.name))) {
    const torch = results.filter((r) => r.name === name && r.impl.startsWith("torch"));
    const best = torch.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const parts = results
      .filter((r) => r.name === name && r.impl.startsWith("wasm"))
      .map((r) => {
        const same = torch.find((t) => threadsOf(t.impl) === threadsOf(r.impl));
        const vsSame = same ? `${(same.seconds / r.seconds).toFixed(2)}x PyTorch ${same.impl.slice(6)}` : "";
        return `dino-ref ${r.impl.slice(10) || "x1"}: ${vsSame}${vsSame ? ", " : ""}${(best.seconds / r.seconds).toFixed(2)}x PyTorch's best (${best.impl.slice(6)})`;
      });
    if (parts.length > 0) lines.push(`\n${name}: ${parts.join("; ")}`);
  }
  return lines;
}

interface TorchProfile {
  steps: number;
  step_ms: number;
  data_ms: number;
  phases: { phase: string; ms: number }[];
  ops: { op: string; calls: number; ms: number }[];
}

/** The process's CPU time (user + system, all threads) in ms. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** `bench --profile`: our step's phases and kernels, then PyTorch's profiler on the same step. */
function profileCommand(opts: BenchOptions, io: Io): number {
  if (opts.filter !== undefined || opts.minTime !== undefined) throw new DinoRefError("bench --profile: --filter and --min-time do not apply (use --steps N)");
  const steps = integerArg("steps", opts.steps, 1, 1000) ?? 5;
  const clock = opts.cpuTime ? "CPU time" : "wall time";
  const p = profileTrainStep(steps, opts.cpuTime ? cpuMs : undefined);
  if (opts.json) {
    io.out(JSON.stringify({ impl: `wasm-simd x${p.threads}`, profile: p }));
  } else {
    io.out(`dino-ref, mnist-tiny training step (batch ${p.images}), ${p.threads} thread${p.threads > 1 ? "s" : ""}: ${(1000 * p.stepSeconds).toFixed(1)} ms/step, ${(p.images / p.stepSeconds).toFixed(1)} images/s (mean of ${steps} steps, ${clock})\n`);
    io.out(formatTable(phaseRows(p), ["phase", "ms", "% of step", "in kernels", "glue (TypeScript)"]));
    io.out("");
    io.out(formatTable(opRows(p), ["kernel", "calls", "ms", "% of step", "GFLOP/s"]));
  }
  const ran = runTorchScript(TRAIN_SCRIPT, ["--preset", "mnist-tiny", "--threads", String(p.threads), "--profile-steps", String(steps), ...(opts.cpuTime ? ["--cpu-time"] : [])]);
  if ("skipped" in ran) {
    io.err(`bench: skipped PyTorch's profile: ${ran.skipped}`);
    return 0;
  }
  const torch = ran.lines[ran.lines.length - 1];
  if (opts.json) {
    io.out(JSON.stringify(torch));
    return 0;
  }
  const t = torch.profile as TorchProfile;
  const pct = (x: number) => `${((100 * x) / t.step_ms).toFixed(1)}%`;
  io.out(`\nPyTorch ${String(torch.torch)} (reference-tests/train_torch.py --profile-steps ${steps}), ${String(torch.threads)} thread(s), OpenBLAS ${String(torch.openblas_core)} kernels: ${t.step_ms.toFixed(1)} ms/step, ${(p.images / (t.step_ms / 1000)).toFixed(1)} images/s (${clock} of the steps under torch.profiler; phases and ops: the profiler's times, wall clock)\n`);
  const rows = t.phases.map((x) => [x.phase, x.ms.toFixed(1), pct(x.ms)]);
  rows.push(["whole step", t.step_ms.toFixed(1), "100%"], ["data (outside the step)", t.data_ms.toFixed(1), pct(t.data_ms)]);
  io.out(formatTable(rows, ["phase", "ms", "% of step"]));
  io.out("");
  io.out(formatTable(t.ops.map((o) => [o.op, String(Math.round(o.calls)), o.ms.toFixed(1), pct(o.ms)]), ["op (self CPU time)", "calls", "ms", "% of step"]));
  io.out(`\nratio of the steps: dino-ref ${(t.step_ms / (1000 * p.stepSeconds)).toFixed(2)}× PyTorch's speed (both profiled: timings include the profilers' overhead)`);
  return 0;
}
