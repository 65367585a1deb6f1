// `dino-ref explain TOPIC [--out DIR]`: the equations on concrete numbers (text), and with --out
// their plots as PNG files; `dino-ref explain collapse --out DIR`: the collapse study (three short
// trainings, a CSV, a plot and a verdict per run).

import { join } from "node:path";
import { prepareOutputFolder } from "../io/outputPath.js";
import { DinoRefError } from "../tensor/errors.js";
import { explain, EXPLAIN_TOPICS, type ExplainTopic } from "../explain/equations.js";
import { topicFigures } from "../explain/figures.js";
import { runCollapseStudy, writeCollapseStudy, verdictLine, COLLAPSE_RUNS } from "../explain/collapse.js";
import { figurePng } from "../plot/lineChart.js";
import { writeFileAtomic } from "../io/writeFileAtomic.js";
import { preset, PRESETS } from "../train/config.js";
import { integerArg, parse } from "./args.js";
import type { Io } from "./io.js";

/** The preset of `explain collapse` when --preset is not given. */
export const COLLAPSE_PRESET = "collapse-tiny";

export async function explainCommand(args: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { out: { type: "string" }, preset: { type: "string" }, seed: { type: "string" }, steps: { type: "string" } });
  const topics = [...EXPLAIN_TOPICS, "collapse"];
  if (positionals.length !== 1 || !topics.includes(positionals[0])) {
    throw new DinoRefError(`explain: expected one topic of ${topics.join(", ")}, got ${positionals.length === 0 ? "none" : `'${positionals.join(" ")}'`}`);
  }
  const topic = positionals[0];
  if (topic === "collapse") return collapseCommand(values, io);
  for (const opt of ["preset", "seed", "steps"] as const) {
    if (values[opt] !== undefined) throw new DinoRefError(`explain ${topic}: --${opt} applies to 'explain collapse' only`);
  }
  if (values.out !== undefined) prepareOutputFolder(values.out, "--out");
  io.out(explain(topic as ExplainTopic));
  if (values.out !== undefined) {
    for (const [name, figure] of Object.entries(topicFigures(topic as ExplainTopic))) {
      const path = join(values.out, `${name}.png`);
      writeFileAtomic(path, await figurePng(figure));
      io.out(`plot: ${path}`);
    }
  }
  return 0;
}

async function collapseCommand(a: { out?: string; preset?: string; seed?: string; steps?: string }, io: Io): Promise<number> {
  if (a.out === undefined) throw new DinoRefError("explain collapse: --out DIR is required (collapse.csv, collapse.png, summary.json and one folder per run go there)");
  const name = a.preset ?? COLLAPSE_PRESET;
  if (!Object.hasOwn(PRESETS, name)) throw new DinoRefError(`explain collapse: unknown preset '${name}' (known: ${Object.keys(PRESETS).join(", ")})`);
  const seed = integerArg("seed", a.seed, 0);
  const steps = integerArg("steps", a.steps, 1);
  const c = { ...preset(name), ...(seed !== undefined ? { seed } : {}) };
  prepareOutputFolder(a.out, "--out");
  const start = performance.now();
  const tty = process.stderr.isTTY === true;
  io.out(`dino-ref explain collapse: preset ${name}, seed ${c.seed}, K = ${c.outDim}; three runs from the same initial weights and batches: ${COLLAPSE_RUNS.join(", ")}`);
  const study = runCollapseStudy(c, a.out, {
    steps,
    report: (e) => {
      if (e.kind === "run-start") io.err(`${e.run}: ${e.iterations} iterations, ${e.params.toLocaleString("en-US")} parameters`);
      else if (e.kind === "step" && tty) process.stderr.write(`\r\x1b[K${e.run} step ${e.iteration}/${e.iterations}  entropy ${e.entropy.toFixed(4)}  KL ${e.kl.toExponential(2)}`);
      else if (e.kind === "run-end") io.err(`${tty ? "\r\x1b[K" : ""}${e.run}: done in ${e.seconds.toFixed(1)} s`);
    },
  });
  const paths = await writeCollapseStudy(study, a.out);
  io.out("");
  io.out("verdicts (at the last iteration):");
  for (const run of COLLAPSE_RUNS) io.out(verdictLine(run, study.summary[run]));
  const reproduced = COLLAPSE_RUNS.every((run) => study.summary[run].verdict === study.summary[run].expected);
  io.out("");
  io.out(reproduced ? "The three regimes of the paper (Sec. 5.3, Fig. 7) are reproduced." : "NOT every regime of the paper (Sec. 5.3, Fig. 7) is reproduced with these settings (see the lines above).");
  io.out(`${paths.csv}, ${paths.png}, ${paths.summary}; runs in ${COLLAPSE_RUNS.map((r) => join(a.out!, r)).join(", ")} (${((performance.now() - start) / 1000).toFixed(1)} s)`);
  return 0;
}
