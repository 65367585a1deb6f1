// `dino-ref bench [--json] [--filter TEXT] [--min-time SECONDS]`: kernel throughput, each
// wasm-simd case beside the TypeScript oracle measured in the same run.

import { DinoRefError } from "../tensor/errors.js";
import { allBenchCases } from "../bench/index.js";
import { runBenchCase, type BenchResult } from "../bench/run.js";
import { formatTable } from "./report.js";
import { threadCount } from "../kernels/threads.js";
import type { Io } from "./main.js";

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
  for (const c of cases) {
    const r = runBenchCase(c, minSeconds);
    results.push(r);
    if (opts.json) io.out(JSON.stringify(r));
  }
  if (!opts.json) {
    const rows = results.map((r) => {
      const ts = results.find((o) => o.name === r.name && o.impl === "ts");
      const ratio = r.impl !== "ts" && ts ? `${(r.gflops / ts.gflops).toFixed(1)}x` : "";
      return [r.name, r.impl, r.gflops.toFixed(2), (r.seconds * 1000).toFixed(2), r.images_per_s === undefined ? "" : r.images_per_s.toFixed(2), ratio, r.note ?? ""];
    });
    io.out(formatTable(rows, ["benchmark", "impl", "GFLOP/s", "ms/call", "images/s", "vs ts", "note"]));
    io.out(`\n${results[0].node} on ${results[0].cpu}; matmul rows name their threads (x2: ${threadCount()}); the model rows run their matmuls on ${threadCount()} thread(s), everything else on one (DINO_REF_THREADS)`);
  }
  return 0;
}
