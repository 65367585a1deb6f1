// The collapse study (paper Sec. 5.3, Fig. 7): three short trainings from the same initial weights
// and the same batches, full DINO, centering only (no sharpening: the teacher temperature equals
// the student's) and sharpening only (no centering: the centre stays zero). Per iteration it
// records the teacher entropy h(Pt), KL(Pt‖Ps) and the loss H(Pt, Ps) = h + KL, and gives each run
// a verdict (src/train/collapse.ts): centering alone ends uniform (h = ln K, KL → 0), sharpening
// alone ends one-hot (h → 0, one prototype for every image), both together stay in between.

import { join } from "node:path";
import { mkdirSync } from "node:fs";
import { runTraining } from "../train/run.js";
import { type TrainConfig } from "../train/config.js";
import { validateConfig } from "../train/configCheck.js";
import { collapseState, UNIFORM_ENTROPY_FRACTION, UNIFORM_KL_FRACTION, ONE_HOT_ENTROPY_FRACTION, type CollapseSignals, type CollapseState } from "../train/collapse.js";
import { writeFileAtomic } from "../io/writeFileAtomic.js";
import { figurePng, type Figure, type LinePoint } from "../plot/lineChart.js";

/** The three runs, in the order they are trained, written and plotted. */
export const COLLAPSE_RUNS = ["full", "centering_only", "sharpening_only"] as const;
export type CollapseRun = (typeof COLLAPSE_RUNS)[number];

/** What the paper reports for each run (Fig. 7). */
export const EXPECTED_STATE: Record<CollapseRun, CollapseState> = { full: "healthy", centering_only: "uniform", sharpening_only: "one-hot" };

/** The config of one run: the preset as is, without sharpening (τt = τs throughout), or without centering. */
export function ablationConfig(c: TrainConfig, run: CollapseRun): TrainConfig {
  switch (run) {
    case "full": return { ...c };
    // no sharpening: the teacher softmax at the student's temperature, warm-up included
    case "centering_only": return { ...c, teacherTemp: c.studentTemp, warmupTeacherTemp: c.studentTemp };
    // no centering: c stays 0, Pt = softmax(t / τt)
    case "sharpening_only": return { ...c, centering: false };
  }
}

/** One logged iteration of one run. */
export interface CollapseRecord {
  readonly run: CollapseRun;
  readonly step: number;
  readonly epoch: number;
  readonly lr: number;
  readonly teacherTemp: number;
  readonly loss: number;
  readonly signals: CollapseSignals;
  readonly state: CollapseState;
}

/** summary.json's entry for one run: the values at its last iteration and the verdict on them. */
export interface CollapseRunSummary {
  final_entropy: number;
  final_kl: number;
  final_loss: number;
  ln_k: number;
  max_teacher_prob: number;
  argmax_prototypes: number;
  verdict: CollapseState;
  expected: CollapseState;
  steps: number;
}

export interface CollapseStudy {
  readonly records: CollapseRecord[];
  readonly summary: Record<CollapseRun, CollapseRunSummary>;
}

export type StudyEvent =
  | { kind: "run-start"; run: CollapseRun; iterations: number; params: number }
  | { kind: "step"; run: CollapseRun; iteration: number; iterations: number; entropy: number; kl: number }
  | { kind: "run-end"; run: CollapseRun; seconds: number };

export interface StudyOptions {
  /** Iterations per run (default: the config's own length). */
  steps?: number;
  report?: (e: StudyEvent) => void;
}

/**
 * Trains the three runs (each a normal training run in outDir/<run>: checkpoint, metrics.jsonl,
 * summary.json, without the k-NN evaluation) and returns every iteration's signals.
 */
export function runCollapseStudy(c: TrainConfig, outDir: string, opts: StudyOptions = {}): CollapseStudy {
  for (const run of COLLAPSE_RUNS) validateConfig(ablationConfig(c, run));
  const records: CollapseRecord[] = [];
  for (const run of COLLAPSE_RUNS) {
    const start = performance.now();
    let iterations = 0;
    runTraining(ablationConfig(c, run), {
      outDir: join(outDir, run),
      steps: opts.steps,
      logEvery: 1,
      skipEval: true,
      report: (e) => {
        if (e.kind === "start") {
          iterations = e.iterations;
          opts.report?.({ kind: "run-start", run, iterations, params: e.params });
        } else if (e.kind === "step") {
          records.push({ run, step: e.iteration, epoch: e.epoch, lr: e.lr, teacherTemp: e.teacherTemp, loss: e.loss, signals: e.signals, state: collapseState(e.signals) });
          opts.report?.({ kind: "step", run, iteration: e.iteration, iterations, entropy: e.signals.teacherEntropy, kl: e.signals.kl });
        }
      },
    });
    opts.report?.({ kind: "run-end", run, seconds: (performance.now() - start) / 1000 });
  }
  return { records, summary: summarize(records) };
}

/** Each run's last iteration and its verdict. */
export function summarize(records: readonly CollapseRecord[]): Record<CollapseRun, CollapseRunSummary> {
  const out = {} as Record<CollapseRun, CollapseRunSummary>;
  for (const run of COLLAPSE_RUNS) {
    const mine = records.filter((r) => r.run === run);
    if (mine.length === 0) continue;
    const last = mine[mine.length - 1];
    const s = last.signals;
    out[run] = {
      final_entropy: s.teacherEntropy, final_kl: s.kl, final_loss: last.loss, ln_k: s.lnK,
      max_teacher_prob: s.maxTeacherProb, argmax_prototypes: s.argmaxPrototypes,
      verdict: last.state, expected: EXPECTED_STATE[run], steps: last.step,
    };
  }
  return out;
}

/** Two lines per run: the verdict with the numbers behind it, then the rule that gave it. */
export function verdictLine(run: CollapseRun, s: CollapseRunSummary): string {
  const pct = (x: number) => `${((100 * x) / s.ln_k).toFixed(1)}% of ln K`;
  const num = (x: number) => (x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential(2) : x.toFixed(4));
  const numbers = `after ${s.steps} iteration${s.steps === 1 ? "" : "s"}: entropy ${num(s.final_entropy)} (${pct(s.final_entropy)} = ${s.ln_k.toFixed(4)}), KL ${num(s.final_kl)}, loss ${s.final_loss.toFixed(4)}, max teacher prob ${s.max_teacher_prob.toFixed(4)}, ${s.argmax_prototypes} prototype${s.argmax_prototypes === 1 ? " wins" : "s win"} the batch`;
  const why = {
    uniform: `entropy ≥ ${UNIFORM_ENTROPY_FRACTION}·ln K and KL < ${UNIFORM_KL_FRACTION}·ln K = ${num(UNIFORM_KL_FRACTION * s.ln_k)}`,
    "one-hot": `entropy ≤ ${ONE_HOT_ENTROPY_FRACTION}·ln K and one prototype wins every row`,
    healthy: `neither uniform (entropy ≥ ${UNIFORM_ENTROPY_FRACTION}·ln K with KL < ${num(UNIFORM_KL_FRACTION * s.ln_k)}) nor one-hot (entropy ≤ ${ONE_HOT_ENTROPY_FRACTION}·ln K with one prototype)`,
  }[s.verdict];
  const paper = s.verdict === s.expected ? "as in the paper" : `the paper has ${s.expected} here`;
  return `${run.padEnd(16)} ${s.verdict.padEnd(8)} ${numbers}\n${" ".repeat(26)}${why}; ${paper}`;
}

/** CSV header (column names as in metrics.jsonl). */
export const CSV_COLUMNS = ["run", "step", "epoch", "lr", "teacher_temp", "loss", "entropy", "kl", "ln_k", "max_teacher_prob", "argmax_prototypes", "state"] as const;

/** All records as CSV, one row per (run, iteration); numbers in full precision (shortest round-trip form). */
export function collapseCsv(records: readonly CollapseRecord[]): string {
  const rows = records.map((r) => [r.run, r.step, r.epoch, r.lr, r.teacherTemp, r.loss, r.signals.teacherEntropy, r.signals.kl, r.signals.lnK, r.signals.maxTeacherProb, r.signals.argmaxPrototypes, r.state].join(","));
  return [CSV_COLUMNS.join(","), ...rows].join("\n") + "\n";
}

/** The figure: teacher entropy (ln K marked), KL on a log axis, and the loss (ln K marked), one colour per run. */
export function collapseFigure(records: readonly CollapseRecord[]): Figure {
  const points = (value: (r: CollapseRecord) => number): LinePoint[] => records.map((r) => ({ x: r.step, y: value(r), series: r.run }));
  const lnK = records.length > 0 ? records[0].signals.lnK : NaN;
  const rule = Number.isFinite(lnK) ? [{ y: lnK, label: `ln K = ${lnK.toFixed(4)}` }] : [];
  return {
    title: "Collapse study: full DINO, centering only, sharpening only (same initial weights)",
    xLabel: "iteration",
    seriesLabel: "run",
    panels: [
      { yLabel: "teacher entropy h(Pt) (nats)", points: points((r) => r.signals.teacherEntropy), rules: rule },
      { yLabel: "KL(Pt‖Ps) (nats, log axis)", yScale: "log", points: points((r) => r.signals.kl) },
      { yLabel: "loss H(Pt, Ps) = h + KL", points: points((r) => r.loss), rules: rule },
    ],
  };
}

/** The files the study writes into outDir, and their paths. */
export async function writeCollapseStudy(study: CollapseStudy, outDir: string): Promise<{ csv: string; png: string; summary: string }> {
  mkdirSync(outDir, { recursive: true });
  const paths = { csv: join(outDir, "collapse.csv"), png: join(outDir, "collapse.png"), summary: join(outDir, "summary.json") };
  const text = (s: string) => new TextEncoder().encode(s);
  writeFileAtomic(paths.csv, text(collapseCsv(study.records)));
  writeFileAtomic(paths.summary, text(JSON.stringify(study.summary, null, 2) + "\n"));
  writeFileAtomic(paths.png, await figurePng(collapseFigure(study.records)));
  return paths;
}
