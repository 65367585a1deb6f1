// The plots of `dino-ref explain TOPIC --out DIR`: what each curve must show, and the CLI writing
// them next to the unchanged text.
import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";
import { topicFigures, temperatureFigure, centeringFigure, lossFigure, schedulesFigure } from "./figures.js";
import { EXPLAIN_TOPICS, explain, EXAMPLES } from "./equations.js";
import { DEFAULT_SCHEDULE_ARGS } from "../dino/schedules.js";
import type { LinePoint } from "../plot/lineChart.js";
import { runCli } from "../../test/runCli.js";

const ys = (points: readonly LinePoint[], series: string) => points.filter((p) => p.series === series).map((p) => p.y);

const run = runCli;

describe("explain figures", () => {
  it("every topic has a figure with finite points", () => {
    for (const t of EXPLAIN_TOPICS) {
      const figs = Object.values(topicFigures(t));
      expect(figs.length).toBeGreaterThan(0);
      for (const f of figs) for (const p of f.panels) {
        expect(p.points.length).toBeGreaterThan(0);
        expect(p.points.every((pt) => Number.isFinite(pt.x) && Number.isFinite(pt.y))).toBe(true);
      }
    }
  });

  it("temperature: entropy rises with τ from ~0 to ln K, and the largest logit's probability falls", () => {
    const [probs, entropy] = temperatureFigure().panels;
    const h = ys(entropy.points, "entropy h(p)");
    for (let i = 1; i < h.length; i++) expect(h[i]).toBeGreaterThan(h[i - 1]);
    expect(h[0]).toBeLessThan(1e-6);
    expect(Math.log(EXAMPLES.temperatureLogits.length) - h.at(-1)!).toBeLessThan(0.01);
    const p0 = ys(probs.points, "p0 (z = 0.9)");
    expect(p0[0]).toBeCloseTo(1, 6);
    expect(p0.at(-1)!).toBeLessThan(0.25);
  });

  it("centering: the dominant dimension's mass falls from near 1 to a share like the others'", () => {
    const [mass] = centeringFigure().panels;
    const d0 = ys(mass.points, "dimension 0");
    expect(d0).toHaveLength(EXAMPLES.centering.updates + 1);
    expect(d0[0]).toBeGreaterThan(0.9);
    expect(d0.at(-1)!).toBeLessThan(0.5);
  });

  it("loss: H = h + KL at every point, h fixed, KL → 0 when the student reaches the teacher", () => {
    const pts = lossFigure().panels[0].points;
    const [H, h, kl] = [ys(pts, "loss H(Pt, Ps)"), ys(pts, "teacher entropy h(Pt)"), ys(pts, "KL(Pt‖Ps)")];
    for (let i = 0; i < H.length; i++) {
      expect(Math.abs(H[i] - (h[i] + kl[i]))).toBeLessThan(1e-4 * H[i]);
      expect(h[i]).toBe(h[0]);
    }
    expect(kl[0]).toBeGreaterThan(0.05);
    expect(kl.at(-1)!).toBeLessThan(1e-5);
  });

  it("schedules: lr from 0 to its peak at the end of warm-up, momentum rising towards 1", () => {
    const [lr, , momentum] = schedulesFigure().panels;
    const a = DEFAULT_SCHEDULE_ARGS;
    const peak = (a.lr * a.totalBatchSize) / 256;
    expect(lr.points[0].y).toBe(0);
    expect(Math.max(...lr.points.map((p) => p.y))).toBeLessThanOrEqual(peak);
    expect(Math.max(...lr.points.map((p) => p.y))).toBeGreaterThan(0.99 * peak);
    expect(lr.points.at(-1)!.x).toBeCloseTo(a.epochs, 2);
    expect(momentum.points[0].y).toBe(a.momentumTeacher);
    expect(momentum.points.at(-1)!.y).toBeGreaterThan(0.9999);
  });
});

describe("dino-ref explain --out", () => {
  it("prints the same text as without --out, then writes the topic's PNG", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dino-ref-explain-"));
    const r = await run("explain", "temperature", "--out", dir);
    expect(r.code).toBe(0);
    expect(r.out).toBe(`${explain("temperature")}\nplot: ${join(dir, "temperature.png")}`);
    const png = PNG.sync.read(readFileSync(join(dir, "temperature.png")));
    expect(png.width).toBeGreaterThan(500);
    const plain = await run("explain", "centering");
    expect(plain.out).toBe(explain("centering"));
  });

  it("rejects options and topics that do not apply, in one line", async () => {
    expect(await run("explain", "loss", "--seed", "1")).toMatchObject({ code: 2, err: "dino-ref: explain loss: --seed applies to 'explain collapse' only" });
    expect((await run("explain", "entropy")).err).toMatch(/^dino-ref: explain: expected one topic of temperature, centering, loss, schedules, collapse, got 'entropy'$/);
    expect((await run("explain", "collapse")).err).toMatch(/^dino-ref: explain collapse: --out DIR is required/);
    const dir = mkdtempSync(join(tmpdir(), "dino-ref-explain-"));
    expect((await run("explain", "collapse", "--out", dir, "--preset", "nope")).err).toMatch(/^dino-ref: explain collapse: unknown preset 'nope' \(known: mnist-tiny, .*collapse-tiny/);
    expect((await run("explain", "collapse", "--out", dir, "--steps", "0")).err).toBe("dino-ref: --steps 0: expected an integer ≥ 1");
    expect(existsSync(join(dir, "collapse.csv"))).toBe(false);
  });

  it("explain collapse prints a verdict per run with its numbers and writes its files", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dino-ref-explain-"));
    const r = await run("explain", "collapse", "--out", dir, "--steps", "1", "--seed", "2");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/preset collapse-tiny, seed 2, K = 1024/);
    for (const run of ["full", "centering_only", "sharpening_only"]) {
      expect(r.out).toMatch(new RegExp(`\\n${run} +(healthy|uniform|one-hot) +after 1 iteration: entropy [0-9.e-]+ \\([0-9.]+% of ln K = 6\\.9315\\), KL`));
    }
    for (const f of ["collapse.csv", "collapse.png", "summary.json", "full/metrics.jsonl"]) expect(existsSync(join(dir, f))).toBe(true);
  });
});
