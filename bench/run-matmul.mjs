// Measures the matmul bench cases (not a test; timings never go in tests).
// Usage: npx asc assembly/index.ts --target release && npx tsc -p tsconfig.build.json \
//        && node bench/run-matmul.mjs [name filter] [repetitions]
// Prints, per case, the best and median GFLOP/s over the repetitions after one warm-up run.
import { matmulBenchCases } from "../dist/bench/matmul.js";

const filter = process.argv[2] ?? "";
const reps = Number(process.argv[3] ?? "5");
for (const c of matmulBenchCases()) {
  if (!c.name.includes(filter)) continue;
  c.run(); // warm-up: tiers the wasm up to TurboFan and sizes the arena
  const times = [];
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    c.run();
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  times.sort((x, y) => x - y);
  const gf = (t) => (c.flops / t / 1e9).toFixed(2);
  console.log(`${c.name.padEnd(28)} ${c.impl.padEnd(9)} best ${gf(times[0]).padStart(6)} median ${gf(times[times.length >> 1]).padStart(6)} GFLOP/s${c.note ? `  (${c.note})` : ""}`);
}
