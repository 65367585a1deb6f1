// Line charts as PNG files for `dino-ref explain`: a declarative vega-lite spec, compiled to vega,
// rendered to SVG headless (renderer "none": no canvas, no browser), then rasterised by resvg with
// the system fonts. One figure is one or more panels stacked vertically over a shared x axis and a
// shared colour legend (one colour per series). Same data → same bytes.
//
// The plotting libraries are loaded on first use only, so commands that draw nothing never load them.

import { DinoRefError } from "../tensor/errors.js";

/** One point of a line: x, y and the series (line) it belongs to. */
export interface LinePoint {
  readonly x: number;
  readonly y: number;
  readonly series: string;
}

/** A horizontal reference line, e.g. ln K on an entropy axis. */
export interface RuleMark {
  readonly y: number;
  readonly label: string;
}

/** A vertical reference line, e.g. the end of a warm-up. */
export interface XRuleMark {
  readonly x: number;
  readonly label: string;
}

export interface Panel {
  readonly yLabel: string;
  readonly points: readonly LinePoint[];
  /** "log" draws y on a log axis; points with y ≤ 0 cannot be drawn there and are left out. */
  readonly yScale?: "linear" | "log";
  readonly rules?: readonly RuleMark[];
  readonly xRules?: readonly XRuleMark[];
}

export interface Figure {
  readonly title: string;
  readonly xLabel: string;
  /** "log" draws x on a log axis (x must be > 0). */
  readonly xScale?: "linear" | "log";
  readonly panels: readonly Panel[];
  /** Plot area of one panel in CSS pixels (the PNG is drawn at `scale` times this). */
  readonly width?: number;
  readonly height?: number;
  readonly scale?: number;
  /** Legend title (the meaning of the series). */
  readonly seriesLabel?: string;
}

/** The vega-lite spec of a figure (exported for tests and for anyone who wants the spec itself). */
export function figureSpec(f: Figure): Record<string, unknown> {
  if (f.panels.length === 0) throw new DinoRefError(`plot '${f.title}': no panels to draw`);
  const width = f.width ?? 560;
  const height = f.height ?? 220;
  // series in first-appearance order, so colours follow the caller's order
  const order: string[] = [];
  for (const p of f.panels) for (const pt of p.points) if (!order.includes(pt.series)) order.push(pt.series);
  const panel = (p: Panel): Record<string, unknown> => {
    const log = p.yScale === "log";
    const values = p.points.filter((pt) => Number.isFinite(pt.x) && Number.isFinite(pt.y) && (!log || pt.y > 0) && (f.xScale !== "log" || pt.x > 0));
    const line = {
      data: { values: values.map((pt) => ({ x: pt.x, y: pt.y, series: pt.series })) },
      mark: { type: "line", strokeWidth: 2, clip: true },
      encoding: {
        x: { field: "x", type: "quantitative", title: f.xLabel, scale: f.xScale === "log" ? { type: "log", nice: false } : { nice: false, domainMin: 0 } },
        y: { field: "y", type: "quantitative", title: p.yLabel, scale: log ? { type: "log" } : { zero: false } },
        color: { field: "series", type: "nominal", title: f.seriesLabel ?? null, scale: { domain: order }, sort: order },
      },
    };
    const rules = (p.rules ?? []).map((r) => ({
      data: { values: [{ y: r.y, label: r.label }] },
      layer: [
        { mark: { type: "rule", strokeDash: [6, 4], color: "#555" }, encoding: { y: { field: "y", type: "quantitative" } } },
        { mark: { type: "text", align: "right", baseline: "bottom", dx: -4, dy: -2, color: "#333", fontSize: 12 }, encoding: { y: { field: "y", type: "quantitative" }, x: { value: width }, text: { field: "label" } } },
      ],
    }));
    const xRules = (p.xRules ?? []).map((r) => ({
      data: { values: [{ x: r.x, label: r.label }] },
      layer: [
        { mark: { type: "rule", strokeDash: [2, 3], color: "#555" }, encoding: { x: { field: "x", type: "quantitative" } } },
        { mark: { type: "text", align: "left", baseline: "top", dx: 4, dy: 4, color: "#333", fontSize: 12 }, encoding: { x: { field: "x", type: "quantitative" }, y: { value: 0 }, text: { field: "label" } } },
      ],
    }));
    return { width, height, layer: [line, ...rules, ...xRules] };
  };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: f.title, fontSize: 15 },
    background: "white",
    padding: 12,
    config: { font: "DejaVu Sans", axis: { labelFontSize: 12, titleFontSize: 13 }, legend: { labelFontSize: 12, titleFontSize: 13, labelLimit: 0 } },
    vconcat: f.panels.map(panel),
    resolve: { scale: { color: "shared" } },
  };
}

/** import(name), or a DinoRefError naming the missing plotting package. */
async function load<T>(name: string, importer: () => Promise<T>): Promise<T> {
  try {
    return await importer();
  } catch (e) {
    if ((e as { code?: string }).code === "ERR_MODULE_NOT_FOUND") throw new DinoRefError(`plots need the package ${name}, which is not installed (npm install vega vega-lite @resvg/resvg-js)`);
    throw e;
  }
}

/** The figure as an SVG document. */
export async function figureSvg(f: Figure): Promise<string> {
  const [vl, vega] = await Promise.all([load("vega-lite", () => import("vega-lite")), load("vega", () => import("vega"))]);
  const compiled = vl.compile(figureSpec(f) as unknown as Parameters<typeof vl.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** The figure as PNG bytes (drawn at `scale`×, 2 by default, with the system fonts). */
export async function figurePng(f: Figure): Promise<Uint8Array> {
  const svg = await figureSvg(f);
  const { Resvg } = await load("@resvg/resvg-js", () => import("@resvg/resvg-js"));
  const png = new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" }, fitTo: { mode: "zoom", value: f.scale ?? 2 } }).render().asPng();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}
