// Drawing for the playground: probability bars as plain DOM (so a test can read them) and line
// charts on a canvas. Nothing here computes DINO; it only shows numbers computed elsewhere.

/** Colours shared by the panels (teacher, student, entropy, KL, reference lines). */
export const COLORS = {
  teacher: "#d9480f",
  student: "#1971c2",
  entropy: "#2f9e44",
  kl: "#ae3ec9",
  reference: "#868e96",
  grid: "#e9ecef",
  text: "#343a40",
} as const;

/** Formats a number for display: 4 significant digits, exponent form when tiny. */
export function fmt(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return String(x);
  if (x !== 0 && Math.abs(x) < 1e-3) return x.toExponential(2);
  return x.toPrecision(digits).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
}

/**
 * Renders bars for probabilities p [K] into `host` (one div per bar, height ∝ p, its value in
 * data-p), with an optional second series drawn beside each bar.
 */
export function renderBars(host: HTMLElement, series: readonly { values: ArrayLike<number>; color: string; label: string }[], labels?: readonly string[]): void {
  const K = series[0].values.length;
  host.replaceChildren();
  host.classList.add("bars");
  for (let k = 0; k < K; k++) {
    const group = document.createElement("div");
    group.className = "bar-group";
    for (const s of series) {
      const p = s.values[k];
      const bar = document.createElement("div");
      bar.className = "bar";
      bar.style.height = `${Math.max(0, Math.min(1, p)) * 100}%`;
      bar.style.background = s.color;
      bar.dataset.p = String(p);
      bar.title = `${s.label}[${k}] = ${fmt(p)}`;
      group.append(bar);
    }
    const label = document.createElement("div");
    label.className = "bar-label";
    label.textContent = labels?.[k] ?? String(k);
    group.append(label);
    host.append(group);
  }
}

export interface LineSeries {
  readonly label: string;
  readonly color: string;
  /** y per x = 0, 1, …; drawn as a polyline (downsampled to the canvas width). */
  readonly values: ArrayLike<number>;
  readonly dashed?: boolean;
  /** Text written just above the series' last point. */
  readonly endLabel?: string;
}

export interface ChartOptions {
  /** Number of x positions the axis spans (values may fill only part of it, as in a live run). */
  readonly xCount: number;
  readonly yMin: number;
  readonly yMax: number;
  readonly xLabel?: string;
  /** Horizontal reference lines, e.g. ln K. */
  readonly hLines?: readonly { y: number; label: string }[];
  /** A vertical cursor at this x. */
  readonly cursor?: number;
  /** Number format of the y axis ticks. */
  readonly yFormat?: (y: number) => string;
}

/** Draws line series on `canvas` (sized to its CSS box, sharp on high-DPI screens). */
export function drawChart(canvas: HTMLCanvasElement, series: readonly LineSeries[], o: ChartOptions): void {
  const dpr = window.devicePixelRatio || 1;
  const cssW = canvas.clientWidth || 480;
  const cssH = canvas.clientHeight || 200;
  if (canvas.width !== Math.round(cssW * dpr) || canvas.height !== Math.round(cssH * dpr)) {
    canvas.width = Math.round(cssW * dpr);
    canvas.height = Math.round(cssH * dpr);
  }
  const g = canvas.getContext("2d");
  if (g === null) return;
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, cssW, cssH);
  const left = 52;
  const right = 16;
  const top = 8;
  const bottom = o.xLabel ? 34 : 20;
  const w = cssW - left - right;
  const h = cssH - top - bottom;
  const span = o.yMax - o.yMin || 1;
  const X = (x: number) => left + (o.xCount > 1 ? (x / (o.xCount - 1)) * w : 0);
  const Y = (y: number) => top + h - ((Math.min(Math.max(y, o.yMin), o.yMax) - o.yMin) / span) * h;
  const yFormat = o.yFormat ?? ((y: number) => fmt(y, 3));

  // grid and y ticks
  g.font = "11px system-ui, sans-serif";
  g.fillStyle = COLORS.text;
  g.strokeStyle = COLORS.grid;
  g.lineWidth = 1;
  g.textAlign = "right";
  g.textBaseline = "middle";
  for (let i = 0; i <= 4; i++) {
    const y = o.yMin + (span * i) / 4;
    g.beginPath();
    g.moveTo(left, Y(y));
    g.lineTo(left + w, Y(y));
    g.stroke();
    g.fillText(yFormat(y), left - 4, Y(y));
  }
  // x ticks: 0 and the last position
  g.textAlign = "center";
  g.textBaseline = "top";
  g.fillText("0", X(0), top + h + 4);
  g.fillText(String(o.xCount - 1), X(o.xCount - 1), top + h + 4);
  if (o.xLabel) g.fillText(o.xLabel, left + w / 2, top + h + 18);

  for (const line of o.hLines ?? []) {
    g.strokeStyle = COLORS.reference;
    g.setLineDash([5, 4]);
    g.beginPath();
    g.moveTo(left, Y(line.y));
    g.lineTo(left + w, Y(line.y));
    g.stroke();
    g.setLineDash([]);
    g.fillStyle = COLORS.reference;
    g.textAlign = "left";
    g.textBaseline = "bottom";
    g.fillText(line.label, left + 4, Y(line.y) - 2);
  }

  for (const s of series) {
    const n = s.values.length;
    if (n === 0) continue;
    g.strokeStyle = s.color;
    g.lineWidth = 1.5;
    g.setLineDash(s.dashed ? [4, 3] : []);
    g.beginPath();
    // at most ~2 points per pixel: min and max of each pixel column keep spikes visible
    const perPixel = Math.max(1, Math.floor(n / (2 * w)));
    for (let i = 0; i < n; i += perPixel) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let j = i; j < Math.min(n, i + perPixel); j++) {
        lo = Math.min(lo, s.values[j]);
        hi = Math.max(hi, s.values[j]);
      }
      if (i === 0) g.moveTo(X(i), Y(s.values[0]));
      g.lineTo(X(i), Y(lo));
      if (hi !== lo) g.lineTo(X(i), Y(hi));
    }
    g.stroke();
    g.setLineDash([]);
    if (s.endLabel) {
      g.fillStyle = s.color;
      g.textAlign = "right";
      g.textBaseline = "bottom";
      g.fillText(s.endLabel, X(n - 1) - 2, Y(s.values[n - 1]) - 3);
    }
  }

  if (o.cursor !== undefined) {
    g.strokeStyle = COLORS.text;
    g.lineWidth = 1;
    g.beginPath();
    g.moveTo(X(o.cursor), top);
    g.lineTo(X(o.cursor), top + h);
    g.stroke();
  }
}

/** A legend: coloured swatches with labels. */
export function renderLegend(host: HTMLElement, items: readonly { label: string; color: string }[]): void {
  host.replaceChildren(
    ...items.map(({ label, color }) => {
      const item = document.createElement("span");
      item.className = "legend-item";
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = color;
      item.append(swatch, label);
      return item;
    }),
  );
}

/** The element with this id, typed; throws naming the id when the page lacks it. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`playground: the page has no element #${id}`);
  return el as T;
}
