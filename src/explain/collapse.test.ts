// The collapse study end to end on a very small network and a few iterations: the three runs share
// their initial weights and batches, each ablation changes only what it names, and the study writes
// a CSV, a plot and summary.json with the documented structure.
import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";
import { runCollapseStudy, writeCollapseStudy, ablationConfig, collapseFigure, verdictLine, COLLAPSE_RUNS, CSV_COLUMNS, EXPECTED_STATE } from "./collapse.js";
import { preset, withDefaults, configWarnings, type TrainConfig } from "../train/config.js";
import { validateConfig } from "../train/configCheck.js";
import { collapseState } from "../train/collapse.js";
import { readSafetensors } from "../io/safetensors.js";

const tiny: TrainConfig = {
  ...preset("collapse-tiny"),
  trainLimit: 32,
  batchSize: 8,
  embedDim: 16,
  depth: 1,
  numHeads: 2,
  mlpRatio: 2,
  outDim: 64,
  hiddenDim: 24,
  bottleneckDim: 8,
  localCrops: 1,
  seed: 5,
};
const STEPS = 3;

describe("the collapse study", () => {
  it("ablations change only what they name", () => {
    const c = preset("collapse-tiny");
    expect(ablationConfig(c, "full")).toEqual(c);
    expect(ablationConfig(c, "centering_only")).toEqual({ ...c, teacherTemp: c.studentTemp, warmupTeacherTemp: c.studentTemp });
    expect(ablationConfig(c, "sharpening_only")).toEqual({ ...c, centering: false });
    for (const run of COLLAPSE_RUNS) validateConfig(ablationConfig(c, run));
    expect(configWarnings(ablationConfig(c, "sharpening_only")).join("\n")).toMatch(/centering off/);
    expect(configWarnings(ablationConfig(c, "centering_only")).join("\n")).toMatch(/not below studentTemp/);
  });

  it("old configs without the centering field load with centering on", () => {
    const { centering, ...old } = preset("mnist-tiny");
    expect(centering).toBe(true);
    expect(withDefaults(old).centering).toBe(true);
    expect(() => validateConfig({ ...old, centering: "no" } as unknown as TrainConfig)).toThrow(/config centering = "no"; expected true or false/);
  });

  it("trains three runs from the same weights and writes collapse.csv, collapse.png and summary.json", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dino-ref-collapse-"));
    const study = runCollapseStudy(tiny, dir, { steps: STEPS });
    const paths = await writeCollapseStudy(study, dir);

    // CSV: header, one row per (run, iteration), runs in order, ln K of the head
    const lines = readFileSync(paths.csv, "utf8").trim().split("\n");
    expect(lines[0]).toBe(CSV_COLUMNS.join(","));
    const rows = lines.slice(1).map((l) => Object.fromEntries(l.split(",").map((v, i) => [CSV_COLUMNS[i], v])));
    expect(rows.map((r) => `${r.run}:${r.step}`)).toEqual(COLLAPSE_RUNS.flatMap((run) => [1, 2, 3].map((s) => `${run}:${s}`)));
    for (const r of rows) {
      expect(Number(r.ln_k)).toBeCloseTo(Math.log(64), 12);
      expect(Number(r.loss)).toBeCloseTo(Number(r.entropy) + Number(r.kl), 4);
      expect(["healthy", "uniform", "one-hot"]).toContain(r.state);
    }
    // centering only runs the teacher at the student's temperature; the others at the preset's
    expect(rows.filter((r) => r.run === "centering_only").every((r) => Number(r.teacher_temp) === tiny.studentTemp)).toBe(true);
    expect(rows.filter((r) => r.run !== "centering_only").every((r) => Number(r.teacher_temp) === tiny.teacherTemp)).toBe(true);
    // same initial weights and batches: the first iteration of full and sharpening_only (centre 0 in both) is identical
    const first = (run: string) => rows.find((r) => r.run === run && r.step === "1")!;
    expect(first("sharpening_only").loss).toBe(first("full").loss);
    expect(first("centering_only").loss).not.toBe(first("full").loss);

    // sharpening only never touches the centre; the full run updates it
    const center = (run: string) => readSafetensors(join(dir, run, "checkpoint.safetensors")).tensors.get("center")!.data as Float32Array;
    expect(center("sharpening_only").every((x) => x === 0)).toBe(true);
    expect(center("full").some((x) => x !== 0)).toBe(true);

    // summary.json: per run the last iteration's numbers and the verdict on them
    const summary = JSON.parse(readFileSync(paths.summary, "utf8"));
    expect(Object.keys(summary)).toEqual([...COLLAPSE_RUNS]);
    for (const run of COLLAPSE_RUNS) {
      const s = summary[run];
      expect(Object.keys(s).sort()).toEqual(["argmax_prototypes", "expected", "final_entropy", "final_kl", "final_loss", "ln_k", "max_teacher_prob", "steps", "verdict"]);
      const last = study.records.filter((r) => r.run === run).at(-1)!;
      expect(s.final_entropy).toBe(last.signals.teacherEntropy);
      expect(s.final_kl).toBe(last.signals.kl);
      expect(s.verdict).toBe(collapseState(last.signals));
      expect(s.expected).toBe(EXPECTED_STATE[run]);
      expect(s.steps).toBe(STEPS);
      expect(verdictLine(run, s)).toMatch(new RegExp(`^${run} +${s.verdict} +after 3 iterations: entropy .*% of ln K = 4\\.1589\\), KL .*\\n {26}.*(as in the paper|the paper has)`));
    }

    // the plot: three panels (entropy, KL, loss), ln K marked on entropy and loss
    const fig = collapseFigure(study.records);
    expect(fig.panels.map((p) => p.yScale ?? "linear")).toEqual(["linear", "log", "linear"]);
    expect(fig.panels[0].rules![0].y).toBeCloseTo(Math.log(64), 12);
    expect(fig.panels[0].points).toHaveLength(3 * STEPS);
    const png = PNG.sync.read(readFileSync(paths.png));
    expect(png.width).toBeGreaterThan(600);
    expect(png.height).toBeGreaterThan(3 * 220);
  });

  it("is deterministic: the same seed gives the same CSV bytes", async () => {
    const [a, b] = [mkdtempSync(join(tmpdir(), "dino-ref-collapse-")), mkdtempSync(join(tmpdir(), "dino-ref-collapse-"))];
    await writeCollapseStudy(runCollapseStudy(tiny, a, { steps: 2 }), a);
    await writeCollapseStudy(runCollapseStudy(tiny, b, { steps: 2 }), b);
    for (const f of ["collapse.csv", "summary.json"]) expect(readFileSync(join(a, f)).equals(readFileSync(join(b, f)))).toBe(true);
  });
});
