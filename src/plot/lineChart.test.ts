// The chart module: a vega-lite spec that says what is drawn, and PNG bytes that decode (pngjs) to
// the drawn size, the same bytes for the same data.
import { describe, expect, it } from "vitest";
import { PNG } from "pngjs";
import { figurePng, figureSpec, figureSvg, type Figure } from "./lineChart.js";

const figure: Figure = {
  title: "test",
  xLabel: "x",
  width: 200,
  height: 100,
  scale: 1,
  panels: [
    { yLabel: "a", points: [0, 1, 2, 3].flatMap((x) => [{ x, y: x * x, series: "square" }, { x, y: 3 - x, series: "down" }]), rules: [{ y: 2, label: "two" }] },
    { yLabel: "b", yScale: "log", points: [{ x: 0, y: 0, series: "square" }, { x: 1, y: -1, series: "square" }, { x: 2, y: 1e-3, series: "square" }, { x: 3, y: 10, series: "square" }], xRules: [{ x: 1.5, label: "mid" }] },
  ],
};

describe("line charts", () => {
  it("builds one vertically stacked panel per quantity, series coloured in the caller's order, and leaves y ≤ 0 off a log axis", () => {
    const spec = figureSpec(figure) as { vconcat: { layer: { data: { values: { x: number; y: number; series?: string }[] }; encoding?: { color?: { scale: { domain: string[] } } } }[] }[] };
    expect(spec.vconcat).toHaveLength(2);
    expect(spec.vconcat[0].layer[0].encoding!.color!.scale.domain).toEqual(["square", "down"]);
    expect(spec.vconcat[0].layer[0].data.values).toHaveLength(8);
    expect(spec.vconcat[1].layer[0].data.values.map((v) => v.y)).toEqual([1e-3, 10]);
    expect(spec.vconcat[0].layer).toHaveLength(2); // the line and the "two" rule
    expect(spec.vconcat[1].layer).toHaveLength(2); // the line and the "mid" rule
    expect(() => figureSpec({ ...figure, panels: [] })).toThrow(/plot 'test': no panels/);
  });

  it("renders an SVG with the labels as text", async () => {
    const svg = await figureSvg(figure);
    expect(svg.startsWith("<svg")).toBe(true);
    for (const text of ["test", "square", "down", "two", "mid"]) expect(svg).toContain(`>${text}<`);
  });

  it("returns a PNG that decodes to the SVG's size times the scale, the same bytes every time", async () => {
    const svg = await figureSvg(figure);
    const [w, h] = [Number(/width="(\d+)"/.exec(svg)![1]), Number(/height="(\d+)"/.exec(svg)![1])];
    const png = await figurePng(figure);
    const img = PNG.sync.read(Buffer.from(png));
    expect([img.width, img.height]).toEqual([w, h]);
    expect(w).toBeGreaterThan(200);
    expect(h).toBeGreaterThan(2 * 100);
    const twice = PNG.sync.read(Buffer.from(await figurePng({ ...figure, scale: 2 })));
    expect([twice.width, twice.height]).toEqual([2 * w, 2 * h]);
    // not blank: white background and dark ink both present
    const px = new Set<number>();
    for (let i = 0; i < img.data.length; i += 4) px.add(img.data[i] + img.data[i + 1] + img.data[i + 2]);
    expect(px.has(765)).toBe(true);
    expect([...px].some((v) => v < 200)).toBe(true);
    expect(Buffer.from(await figurePng(figure)).equals(Buffer.from(png))).toBe(true);
  });
});
