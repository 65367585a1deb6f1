// The check/compare report: one row per output (case, op, output, max abs error, max rel error,
// tolerance, PASS/FAIL), as an aligned text table.

import { relative } from "node:path";
import type { CaseResult } from "../ops/registry.js";

const HEADER = ["case", "op", "output", "max abs err", "max rel err", "tolerance (atol, rtol)", "result"];

export function reportRows(results: readonly CaseResult[]): string[][] {
  const rows: string[][] = [];
  for (const r of results) {
    const name = relative(process.cwd(), r.path) || r.path;
    for (const o of r.outputs) {
      const result = o.pass ? "PASS" : o.problem ? `FAIL (${o.problem})` : `FAIL (${o.mismatches} outside, worst at [${o.worstIndex.join(", ")}])`;
      rows.push([name, r.op, o.output, num(o.maxAbsError), num(o.maxRelError), `${num(o.tolerance[0])}, ${num(o.tolerance[1])}`, result]);
    }
  }
  return rows;
}

/** Formats rows under the header as a left-aligned table. */
export function formatTable(rows: readonly string[][], header: readonly string[] = HEADER): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => r[c].length)));
  return all.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join("  ")).join("\n");
}

/** A number as the reports print it: 3 significant digits, `-` for NaN, `inf`. */
/** The number a --json line holds for a measurement: finite numbers as they are, NaN and infinities as null. */
export function jsonNumber(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

export function num(x: number): string {
  if (Number.isNaN(x)) return "-";
  if (x === 0) return "0";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  return x.toExponential(2);
}
