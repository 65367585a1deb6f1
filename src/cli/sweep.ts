// `dino-ref sweep`: train a preset at every point of a grid of config values with one budget per
// run, and write the table of what each run learned and cost (sweep.md, sweep.json).

import { DinoRefError } from "../tensor/errors.js";
import { parseGridAxis, runSweep, sweepMarkdown, type SweepBudget, type SweepEvent } from "../train/sweep.js";
import { trainConfigFrom } from "./train.js";
import { integerArg, numberArg } from "./args.js";
import type { Io } from "./io.js";

export interface SweepArgs {
  preset?: string;
  out?: string;
  seed?: string;
  set?: string[];
  config?: string;
  grid?: string[];
  steps?: string;
  seconds?: string;
  "eval-limit"?: string;
  "segment-count"?: string;
  "no-eval"?: boolean;
}

export function sweepCommand(a: SweepArgs, argv: readonly string[], io: Io): number {
  if (a.out === undefined) throw new DinoRefError("sweep: --out DIR is required (one folder per run, sweep.md and sweep.json go there)");
  const base = trainConfigFrom({ preset: a.preset, seed: a.seed, set: a.set, config: a.config });
  const axes = (a.grid ?? []).map(parseGridAxis);
  const budget: SweepBudget = {
    steps: integerArg("steps", a.steps, 1),
    seconds: numberArg("seconds", a.seconds, (x) => x > 0, "a number of seconds > 0"),
    evalLimit: integerArg("eval-limit", a["eval-limit"], 1),
    skipEval: a["no-eval"] === true,
    segmentCount: integerArg("segment-count", a["segment-count"], 1),
  };
  if (budget.skipEval && budget.evalLimit !== undefined) throw new DinoRefError("give --eval-limit or --no-eval, not both");
  const command = ["dino-ref sweep", ...argv].join(" ");
  const report = (e: SweepEvent) => {
    switch (e.kind) {
      case "note":
        io.err(`note: ${e.text}`);
        break;
      case "run":
        io.err(`run ${e.index + 1}/${e.count}: ${e.name}${e.reused ? " (finished before: reused)" : ""}`);
        break;
      case "train":
        if (e.event.kind === "start") for (const w of e.event.warnings) io.err(`  warning: ${w}`);
        if (e.event.kind === "step" && e.event.warning) io.err(`  warning: step ${e.event.iteration}: ${e.event.warning}`);
        if (e.event.kind === "eval") io.err(`  evaluating: ${e.event.what}`);
        break;
      case "row": {
        const r = e.row;
        const gain = r.gainTeacher === null ? "no k-NN" : `teacher ${r.teacher?.toFixed(2)}% (${r.gainTeacher >= 0 ? "+" : ""}${r.gainTeacher.toFixed(2)} over init)`;
        const seg = r.segmentation === null ? "" : `, best attention head ${r.segmentation.best.toFixed(3)} (chance ${r.segmentation.chance.toFixed(3)})`;
        io.err(`  ${r.steps} steps in ${r.trainSeconds.toFixed(0)} s: ${gain}${seg}, final loss ${r.finalLoss.toFixed(3)}`);
        break;
      }
    }
  };
  const rows = runSweep(base, axes, budget, a.out, report, command);
  io.out(sweepMarkdown(rows, budget, command));
  io.out(`${a.out}/sweep.md, ${a.out}/sweep.json; one folder per run (summary.json, metrics.jsonl, checkpoint.safetensors)`);
  return 0;
}
