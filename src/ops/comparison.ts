// `dino-ref compare`: a port's outputs (an ACTUAL file) against a case, output by output under the
// case's tolerances (numpy's allclose, src/io/golden.ts), with the first diverging output of a
// trace and, for a failing case, the catalogue's mistakes whose outputs the ACTUAL matches
// (diagnose.ts). The numpy helper reference-tests/porting/dino_golden.py applies the same rule.

import type { SafetensorsFile, StTensor } from "../io/safetensors.js";
import { compareTensors, toleranceFor, type GoldenCase, type OutputReport, type Tolerance } from "../io/golden.js";
import { traceNames } from "../model/vitTrace.js";
import { widenTolerance, type Precision } from "./precision.js";
import { diagnose, type Diagnosis } from "./diagnose.js";

export interface CompareOptions {
  /** Outputs the ACTUAL lacks are reported "not provided" instead of an error. */
  readonly partial?: boolean;
  /** Tolerances widened for a port computing in this precision. */
  readonly precision?: Precision;
  /** Try the catalogue on a failing case (default true). */
  readonly diagnose?: boolean;
}

export type OutputVerdict = "pass" | "fail" | "not provided";

export interface ComparedOutput extends OutputReport {
  readonly verdict: OutputVerdict;
}

export interface FirstDivergence {
  readonly output: string;
  readonly maxAbsError: number;
  readonly tolerance: Tolerance;
  /** Outputs before it in forward order that are within tolerance, and that were not provided. */
  readonly before: number;
  readonly notProvidedBefore: number;
}

export interface CaseComparison {
  readonly case: string;
  readonly actual: string;
  readonly op: string;
  readonly verdict: "pass" | "fail";
  /** In the case's order (forward order for a trace). */
  readonly outputs: readonly ComparedOutput[];
  /** A trace's first output outside its tolerance in forward order (null when none, or not a trace). */
  readonly firstDivergence: FirstDivergence | null;
  /** For a failing case: the catalogue entries whose outputs the ACTUAL matches, best first. */
  readonly diagnosis: readonly Diagnosis[];
}

/**
 * The outputs of an ACTUAL file: its `out.<name>` tensors by name; a file without any `out.*`
 * tensor (a trace written by `dino-ref trace`, or a port's own dump) gives every tensor not named
 * `in.*` by its own name.
 */
export function actualOutputs(file: SafetensorsFile): Map<string, StTensor> {
  const out = new Map<string, StTensor>();
  for (const [name, t] of file.tensors) if (name.startsWith("out.")) out.set(name.slice(4), t);
  if (out.size > 0) return out;
  for (const [name, t] of file.tensors) if (!name.startsWith("in.")) out.set(name, t);
  return out;
}

/** The case's output names in the order compare reports them: forward order for a trace, file order otherwise. */
export function outputOrder(c: GoldenCase): string[] {
  const names = [...c.outputs.keys()];
  if (c.op !== "vit_trace" || typeof c.params.depth !== "number") return names;
  const order = traceNames(c.params.depth, true);
  const rank = (n: string) => (order.indexOf(n) < 0 ? order.length : order.indexOf(n));
  return names.sort((a, b) => rank(a) - rank(b));
}

/** The tolerance compare applies to output `name`: the stored one, widened for `precision`. */
export function effectiveTolerance(c: GoldenCase, name: string, precision: Precision | undefined): Tolerance {
  return widenTolerance(toleranceFor(c, name), precision);
}

/**
 * Compares `actual` (outputs by name) with every expected output of `c`. The caller has checked
 * that outputs missing from `actual` are allowed (opts.partial).
 */
export function compareCase(c: GoldenCase, actual: ReadonlyMap<string, StTensor>, actualPath: string, opts: CompareOptions = {}): CaseComparison {
  const outputs: ComparedOutput[] = outputOrder(c).map((name) => {
    const tol = effectiveTolerance(c, name, opts.precision);
    const a = actual.get(name);
    const report = compareTensors(name, c.outputs.get(name)!, a, tol);
    if (a === undefined) return { ...report, problem: "not provided", verdict: "not provided" };
    return { ...report, verdict: report.pass ? "pass" : "fail" };
  });
  const failed = outputs.some((o) => o.verdict === "fail");
  let firstDivergence: FirstDivergence | null = null;
  if (c.op === "vit_trace") {
    const i = outputs.findIndex((o) => o.verdict === "fail");
    if (i >= 0) {
      const before = outputs.slice(0, i);
      firstDivergence = {
        output: outputs[i].output, maxAbsError: outputs[i].maxAbsError, tolerance: outputs[i].tolerance,
        before: before.filter((o) => o.verdict === "pass").length, notProvidedBefore: before.filter((o) => o.verdict === "not provided").length,
      };
    }
  }
  const diagnosis = failed && opts.diagnose !== false ? diagnose(c, actual, (name) => effectiveTolerance(c, name, opts.precision)) : [];
  return { case: c.path, actual: actualPath, op: c.op, verdict: failed ? "fail" : "pass", outputs, firstDivergence, diagnosis };
}
