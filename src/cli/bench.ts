// `dino-ref bench [--json] [--filter TEXT] [--min-time SECONDS]`: kernel throughput, each
// wasm-simd case beside the TypeScript oracle measured in the same run.

import { DinoRefError } from "../tensor/errors.js";
import { allBenchCases } from "../bench/index.js";
import { runBenchCase, type BenchResult } from "../bench/run.js";
import { formatTable } from "./report.js";
import { threadCount } from "../kernels/threads.js";
import type { Io } from "./io.js";

export interface BenchOptions {
  json: boolean;
  filter?: string;
  minTime?: string;
}

export async function benchCommand(opts: BenchOptions, io: Io): Promise<number> {
  const minSeconds = opts.minTime === undefined ? 1 : Number(opts.minTime);
  if (!(minSeconds > 0)) throw new DinoRefError(`bench: --min-time must be a positive number of seconds, got '${opts.minTime}'`);
  const cases = allBenchCases().filter((c) => opts.filter === undefined || c.name.includes(opts.filter));
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
      // the ratio against the same benchmark's TypeScript oracle, or its PyTorch run, measured in this run
      const base = r.impl.startsWith("wasm") ? results.find((o) => o.name === r.name && (o.impl === "ts" || o.impl.startsWith("torch"))) : undefined;
      const ratio = base ? `${(r.gflops / base.gflops).toFixed(2)}x ${base.impl.split(" ")[0]}` : "";
      return [r.name, r.impl, r.gflops.toFixed(2), (r.seconds * 1000).toFixed(2), r.images_per_s === undefined ? "" : r.images_per_s.toFixed(2), ratio, r.note ?? ""];
    });
    if (rows.length > 0) io.out(formatTable(rows, ["benchmark", "impl", "GFLOP/s", "ms/call", "images/s", "ratio", "note"]));
    if (results.length > 0) {
      io.out(`\n${results[0].node} on ${results[0].cpu}; "xN" rows run on N threads (DINO_REF_THREADS, now ${threadCount()}): matmul, attention and GELU split across them, everything else runs on one`);
    }
  }
  for (const why of skipped) io.err(`bench: skipped ${why}`);
  return 0;
}
