// What `dino-ref compare` prints: the table of check (one row per output), then per case the first
// divergence of a trace and the diagnosis of a failing case, then a summary; or, with --json, one
// JSON array with an object per case (reference-tests/porting/dino_golden.py prints the same
// objects, without the diagnosis).

import { relative } from "node:path";
import type { CaseComparison } from "../ops/comparison.js";
import type { Precision } from "../ops/precision.js";
import { formatTable, jsonNumber, num } from "./report.js";

export interface CompareResult {
  readonly casePath: string;
  /** null: the case had no ACTUAL file (--partial). */
  readonly result: CaseComparison | null;
}

const HEADER = ["case", "op", "output", "max abs err", "max rel err", "tolerance (atol, rtol)", "result"];

const shown = (path: string) => relative(process.cwd(), path) || path;

/** The text report, one line per element. */
export function compareText(results: readonly CompareResult[], precision: Precision | undefined): string[] {
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const { casePath, result: r } of results) {
    const name = shown(casePath);
    if (r === null) {
      notes.push(`${name}: not provided (no ACTUAL file of that name)`);
      continue;
    }
    for (const o of r.outputs) {
      const verdict = o.verdict === "pass" ? "PASS" : o.verdict === "not provided" ? "not provided" : o.problem ? `FAIL (${o.problem})` : `FAIL (${o.mismatches} outside, worst at [${o.worstIndex.join(", ")}])`;
      rows.push([name, r.op, o.output, num(o.maxAbsError), num(o.maxRelError), `${num(o.tolerance[0])}, ${num(o.tolerance[1])}`, verdict]);
    }
    const d = r.firstDivergence;
    if (d !== null) {
      const skipped = d.notProvidedBefore > 0 ? ` (${d.notProvidedBefore} not provided)` : "";
      notes.push(`${name}: first divergence: ${d.output}, max abs ${num(d.maxAbsError)} (tolerance ${num(d.tolerance[0])} + ${num(d.tolerance[1])}·|expected|); the ${d.before} outputs before it are within tolerance${skipped}`);
    }
    if (r.verdict === "fail") {
      if (r.diagnosis.length === 0) notes.push(`${name}: no mistake of the catalogue (docs/porting.md) matches these numbers`);
      for (const m of r.diagnosis) notes.push(`${name}: your numbers match: ${m.what} [${m.id}]`);
    }
  }
  const compared = results.filter((r) => r.result !== null);
  const failed = compared.filter((r) => r.result!.verdict === "fail").length;
  const missing = results.length - compared.length;
  const summary = `${compared.length - failed} of ${compared.length} cases passed${failed > 0 ? `, ${failed} failed` : ""}${missing > 0 ? `, ${missing} not provided` : ""}${precision ? ` (tolerances for ${precision} computation)` : ""}`;
  return [formatTable(rows, HEADER), ...(notes.length > 0 ? ["", ...notes] : []), "", summary];
}

/** A number for JSON: non-finite values (NaN, inf) become null. */

/** The --json report: one array, an object per case. */
export function compareJson(results: readonly CompareResult[]): string {
  return JSON.stringify(
    results.map(({ casePath, result: r }) => {
      if (r === null) return { case: casePath, actual: null, op: null, verdict: "not provided", outputs: [], first_divergence: null, diagnosis: [] };
      return {
        case: r.case,
        actual: r.actual,
        op: r.op,
        verdict: r.verdict,
        outputs: r.outputs.map((o) => ({
          output: o.output, verdict: o.verdict, max_abs_error: jsonNumber(o.maxAbsError), max_rel_error: jsonNumber(o.maxRelError), tolerance: o.tolerance,
          mismatches: o.mismatches, worst_index: o.worstIndex, worst_ratio: jsonNumber(o.worstRatio), problem: o.problem ?? null,
        })),
        first_divergence: r.firstDivergence === null ? null : {
          output: r.firstDivergence.output, max_abs_error: jsonNumber(r.firstDivergence.maxAbsError), tolerance: r.firstDivergence.tolerance,
          before_within_tolerance: r.firstDivergence.before, before_not_provided: r.firstDivergence.notProvidedBefore,
        },
        diagnosis: r.diagnosis.map((m) => ({ id: m.id, what: m.what, worst_ratio: m.worstRatio })),
      };
    }),
    null,
    1,
  );
}
