// Panel 3: a live toy DINO run (toyRun.ts) with centering and sharpening as switches, drawn while
// it trains: teacher entropy and KL(Pt‖Ps) per iteration against ln K, a few teacher targets, and
// the verdict of src/train/collapse.ts (uniform / one-hot / healthy).
//
// The status element #run-status carries the state for tests and scripts: data-phase
// (idle | running | done | error), data-state (the verdict of the latest iteration), data-step,
// data-entropy, data-kl, data-lnk. A run is a pure function of (seed, switches): the iterations
// are computed in chunks between frames, which changes when they are drawn, not their numbers.

import { ToyRun, SAMPLE_ROWS, type ToyRunConfig, type ToyStepRecord } from "./toyRun.js";
import { collapseWarning } from "../../src/train/collapse.js";
import { byId, COLORS, drawChart, fmt, renderBars, renderLegend, type LineSeries } from "./draw.js";
import type { SchedulePanel } from "./schedulePanel.js";

/** Milliseconds of training per chunk before the page redraws. */
const CHUNK_MS = 12;

/** A finished run's entropy curve, kept to compare settings. */
interface PastRun {
  readonly label: string;
  readonly entropy: Float64Array;
}

/** The colour of each setting's curve when it is kept for comparison. */
const SETTING_COLORS: Record<string, string> = {
  "centering + sharpening": "#2b8a3e",
  "centering only": "#e67700",
  "sharpening only": "#c92a2a",
  neither: COLORS.reference,
};

function settingLabel(centering: boolean, sharpening: boolean): string {
  if (centering && sharpening) return "centering + sharpening";
  if (centering) return "centering only";
  if (sharpening) return "sharpening only";
  return "neither";
}

export function verdictText(r: ToyStepRecord): string {
  const h = `teacher entropy ${fmt(r.teacherEntropy)} (ln K = ${fmt(r.lnK)}), KL ${fmt(r.kl)}`;
  switch (r.state) {
    case "uniform":
      return `uniform collapse: ${h}; every target is flat`;
    case "one-hot":
      return `one-hot collapse: ${h}; one prototype wins every image`;
    case "healthy":
      return `healthy: ${h}; ${r.argmaxPrototypes} prototypes win images of this batch`;
  }
}

export class LivePanel {
  private run: ToyRun | null = null;
  private records: ToyStepRecord[] = [];
  /** The setting of the run shown in colour (running or last finished). */
  private currentLabel: string | null = null;
  private totalSteps = 2;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly past = new Map<string, PastRun>();
  private readonly status = byId("run-status");
  private readonly centering = byId<HTMLInputElement>("toggle-centering");
  private readonly sharpening = byId<HTMLInputElement>("toggle-sharpening");
  private readonly seed = byId<HTMLInputElement>("run-seed");

  constructor(private readonly schedules: SchedulePanel) {
    byId("run-start").addEventListener("click", () => this.start());
    for (const toggle of [this.centering, this.sharpening]) toggle.addEventListener("change", () => this.schedules.setToy(this.settings()));
    window.addEventListener("resize", () => this.draw());
    this.setStatus("idle", "press Train: a toy DINO run with these switches trains here, on the wasm kernels");
    this.draw();
  }

  /** The switches and seed as a toy run config. */
  settings(): Pick<ToyRunConfig, "centering" | "sharpening" | "seed"> {
    const seed = Number(this.seed.value);
    return { centering: this.centering.checked, sharpening: this.sharpening.checked, seed: Number.isSafeInteger(seed) && seed >= 0 ? seed : 0 };
  }

  /** Starts a run with the current switches (stopping one in progress). */
  start(): void {
    this.stop();
    const cfg = this.settings();
    this.seed.value = String(cfg.seed);
    this.schedules.setToy(cfg);
    try {
      this.run = new ToyRun(cfg);
    } catch (e) {
      this.fail(e);
      return;
    }
    this.records = [];
    this.currentLabel = settingLabel(cfg.centering, cfg.sharpening);
    this.totalSteps = this.run.totalSteps;
    this.status.dataset.step = "0";
    this.setStatus("running", `training (${settingLabel(cfg.centering, cfg.sharpening)}, seed ${cfg.seed})…`);
    this.timer = setTimeout(() => this.tick(), 0);
  }

  private stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.run?.dispose();
    this.run = null;
  }

  private tick(): void {
    const run = this.run;
    if (run === null) return;
    try {
      const t0 = performance.now();
      while (!run.done && performance.now() - t0 < CHUNK_MS) this.records.push(run.next());
    } catch (e) {
      this.fail(e);
      return;
    }
    const last = this.records[this.records.length - 1];
    if (last !== undefined) this.showRecord(last);
    this.schedules.setCursor(run.step - 1);
    this.draw();
    if (run.done) {
      this.finish(last);
    } else {
      this.timer = setTimeout(() => this.tick(), 0);
    }
  }

  private finish(last: ToyStepRecord): void {
    const run = this.run!;
    const { centering, sharpening } = run.config;
    const label = settingLabel(centering, sharpening);
    this.past.set(label, { label, entropy: Float64Array.from(this.records, (r) => r.teacherEntropy) });
    const warning = collapseWarning(last);
    byId("run-explain").textContent = warning ?? "Neither collapse: the targets stay sharp enough to carry information and varied enough not to be all the same.";
    this.setStatus("done", `${label}, seed ${run.config.seed}, ${run.totalSteps} iterations: ${verdictText(last)}`);
    this.stop();
    this.draw();
  }

  private fail(e: unknown): void {
    this.stop();
    this.setStatus("error", `the run stopped: ${e instanceof Error ? e.message : String(e)}`);
  }

  private setStatus(phase: "idle" | "running" | "done" | "error", text: string): void {
    this.status.dataset.phase = phase;
    this.status.textContent = text;
  }

  private showRecord(r: ToyStepRecord): void {
    const s = this.status.dataset;
    s.step = String(r.step + 1);
    s.state = r.state;
    s.entropy = String(r.teacherEntropy);
    s.kl = String(r.kl);
    s.lnk = String(r.lnK);
    byId("run-verdict").textContent = r.state;
    byId("run-verdict").className = `verdict ${r.state}`;
    byId("run-numbers").textContent = `iteration ${r.step + 1}: ${verdictText(r)}, loss ${fmt(r.loss)}`;
    const K = r.lnK === 0 ? 1 : Math.round(Math.exp(r.lnK));
    const host = byId("run-teacher-rows");
    host.replaceChildren();
    for (let row = 0; row < Math.min(SAMPLE_ROWS, r.sampleTeacherProbs.length / K); row++) {
      const cell = document.createElement("div");
      cell.className = "teacher-row";
      renderBars(cell, [{ values: r.sampleTeacherProbs.subarray(row * K, (row + 1) * K), color: COLORS.teacher, label: `Pt image ${row}` }], Array.from({ length: K }, () => ""));
      host.append(cell);
    }
  }

  private draw(): void {
    const canvas = byId<HTMLCanvasElement>("run-chart");
    const entropy = Float64Array.from(this.records, (r) => r.teacherEntropy);
    const kl = Float64Array.from(this.records, (r) => r.kl);
    const lnK = this.records[0]?.lnK ?? Math.log(16);
    // finished runs of the OTHER settings, for comparison
    const pastSeries: LineSeries[] = [...this.past.values()]
      .filter((p) => p.label !== this.currentLabel)
      .map((p) => ({ label: `entropy, ${p.label}`, color: SETTING_COLORS[p.label], values: p.entropy, dashed: true, endLabel: `${p.label} (earlier run)` }));
    const series: LineSeries[] = [...pastSeries, { label: "teacher entropy h(Pt)", color: COLORS.entropy, values: entropy }, { label: "KL(Pt‖Ps)", color: COLORS.kl, values: kl }];
    let yMax = lnK * 1.08;
    for (const v of kl) yMax = Math.max(yMax, v);
    drawChart(canvas, series, { xCount: this.totalSteps, yMin: 0, yMax, xLabel: "iteration", hLines: [{ y: lnK, label: "ln K (uniform)" }] });
    renderLegend(byId("run-legend"), [
      { label: "teacher entropy h(Pt)", color: COLORS.entropy },
      { label: "KL(Pt‖Ps)", color: COLORS.kl },
      ...pastSeries.map((p) => ({ label: `${p.label} (earlier run, dashed)`, color: p.color })),
    ]);
  }
}
