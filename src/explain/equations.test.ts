import { describe, expect, it } from "vitest";
import { explain, explainCentering, explainLoss, explainSchedules, explainTemperature, EXPLAIN_TOPICS } from "./equations.js";

/** The numbers of the first line that starts with `label`. */
function numbersOf(text: string, label: string): number[] {
  const line = text.split("\n").find((l) => l.startsWith(label));
  expect(line, `a line starting with "${label}"`).toBeDefined();
  return (line!.slice(label.length).match(/-?\d+(\.\d+)?(e-?\d+)?/g) ?? []).map(Number);
}

describe("explain: plain-text tables computed by the real functions", () => {
  it("has a text for every topic", () => {
    for (const t of EXPLAIN_TOPICS) expect(explain(t).length).toBeGreaterThan(200);
  });

  it("temperature: entropy falls as τ shrinks, from near ln K towards 0", () => {
    const text = explainTemperature();
    const h = ["1 ", "0.1 ", "0.04 ", "0.01 "].map((l) => numbersOf(text, l).at(-1)!);
    for (let i = 1; i < h.length; i++) expect(h[i]).toBeLessThan(h[i - 1]);
    expect(h[0]).toBeLessThan(Math.log(5));
    expect(h[3]).toBeLessThan(1e-6);
  });

  it("centering: moves mass off the dominant dimension", () => {
    const text = explainCentering();
    const [before] = numbersOf(text, "without centering");
    const [after] = numbersOf(text, "with centering");
    expect(before).toBeGreaterThan(0.9);
    expect(after).toBeLessThan(0.5);
  });

  it("loss: each pair's H equals h + KL, and the loss line adds up", () => {
    const text = explainLoss();
    for (const pair of ["(0, 1)", "(1, 0)"]) {
      const [H, h, kl] = numbersOf(text, pair);
      expect(Math.abs(H - (h + kl))).toBeLessThan(2e-3 * H);
    }
    const [, loss, entropy, kl] = numbersOf(text, "loss = mean over");
    expect(Math.abs(loss - (entropy + kl))).toBeLessThan(2e-3 * loss);
  });

  it("schedules: lr is 0 at the start, peaks at the end of warm-up and on the first cosine step, ends near min_lr", () => {
    const text = explainSchedules();
    const start = numbersOf(text, "start");
    const warm = numbersOf(text, "end of warm-up");
    const first = numbersOf(text, "first cosine step");
    const end = numbersOf(text, "end  ");
    expect(start.slice(0, 3)).toEqual([0, 0, 0]); // iteration, epoch, lr
    expect(warm[2]).toBe(0.001);
    expect(first[2]).toBe(0.001);
    expect(end[2]).toBeGreaterThan(1e-6);
    expect(end[2]).toBeLessThan(1.001e-6);
  });
});
