// `dino-ref compare CASE ACTUAL` and `dino-ref compare CASES_DIR ACTUALS_DIR`: a port's outputs
// against the cases, one row per output, the first diverging output of a trace, and for a failing
// case the known porting mistakes its numbers match. Exit 0 when every compared case passes, 1
// when any fails, 2 for invalid input.

import { existsSync, statSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { DinoRefError } from "../tensor/errors.js";
import { findCaseFiles, readGoldenCase } from "../io/golden.js";
import { checkContractOp } from "../ops/registry.js";
import { readSafetensors } from "../io/safetensors.js";
import { actualOutputs, compareCase, type CaseComparison, type CompareOptions } from "../ops/comparison.js";
import { PRECISIONS, type Precision } from "../ops/precision.js";
import { compareJson, compareText } from "./compareReport.js";
import type { Io } from "./io.js";

export interface CompareArgs {
  json?: boolean;
  partial?: boolean;
  precision?: string;
  "no-diagnosis"?: boolean;
}

/** A case and the ACTUAL file compared with it (null: no such file, allowed with --partial). */
interface Pair {
  readonly casePath: string;
  readonly actualPath: string | null;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    throw new DinoRefError(`${path}: no such file or folder`);
  }
}

/** CASE + ACTUAL, or every case under CASES_DIR with the file of the same relative path (or the same name) in ACTUALS_DIR. */
function pairs(casesPath: string, actualsPath: string, partial: boolean): Pair[] {
  const dirs = [isDirectory(casesPath), isDirectory(actualsPath)];
  if (!dirs[0] && !dirs[1]) return [{ casePath: casesPath, actualPath: actualsPath }];
  if (!dirs[0] || !dirs[1]) throw new DinoRefError(`compare: give two files (CASE ACTUAL) or two folders (CASES_DIR ACTUALS_DIR); ${dirs[0] ? casesPath : actualsPath} is a folder and the other is not`);
  const cases = findCaseFiles([casesPath]);
  if (cases.length === 0) throw new DinoRefError(`compare: no .safetensors case files under ${casesPath}`);
  const found = cases.map((casePath) => {
    const candidates = [join(actualsPath, relative(casesPath, casePath)), join(actualsPath, basename(casePath))];
    return { casePath, actualPath: candidates.find((p) => existsSync(p)) ?? null };
  });
  const missing = found.filter((p) => p.actualPath === null);
  if (missing.length === found.length) throw new DinoRefError(`compare: no file of ${actualsPath} has the name of a case under ${casesPath} (pairs are made by file name)`);
  if (missing.length > 0 && !partial) {
    throw new DinoRefError(`compare: ${actualsPath} has no file for ${missing.length} case(s), e.g. ${relative(casesPath, missing[0].casePath)} (--partial compares the others)`);
  }
  return found;
}

function precisionArg(value: string | undefined): Precision | undefined {
  if (value === undefined) return undefined;
  if (!(PRECISIONS as readonly string[]).includes(value)) throw new DinoRefError(`--precision ${value}: expected ${PRECISIONS.join(", ")}`);
  return value as Precision;
}

/** One pair compared; an ACTUAL lacking outputs is an error unless opts.partial. */
function comparePair(p: Pair & { actualPath: string }, opts: CompareOptions): CaseComparison {
  const c = readGoldenCase(p.casePath);
  // a case whose op the format does not have cannot be judged (nor diagnosed)
  checkContractOp(c);
  const actual = actualOutputs(readSafetensors(p.actualPath));
  const lacking = [...c.outputs.keys()].filter((n) => !actual.has(n));
  if (lacking.length === c.outputs.size) {
    throw new DinoRefError(`${p.actualPath}: none of the outputs of ${p.casePath} (e.g. out.${lacking[0]}) is in this file`);
  }
  if (lacking.length > 0 && !opts.partial) {
    throw new DinoRefError(`${p.actualPath}: tensor out.${lacking[0]} is missing (the case ${p.casePath} expects it${lacking.length > 1 ? ` and ${lacking.length - 1} more` : ""}; --partial compares the others)`);
  }
  return compareCase(c, actual, p.actualPath, opts);
}

export function compareCommand(paths: readonly string[], a: CompareArgs, io: Io): number {
  if (paths.length !== 2) throw new DinoRefError(`compare: expected CASE ACTUAL or CASES_DIR ACTUALS_DIR, got ${paths.length} argument(s)`);
  const opts: CompareOptions = { partial: a.partial === true, precision: precisionArg(a.precision), diagnose: a["no-diagnosis"] !== true };
  const list = pairs(paths[0], paths[1], opts.partial === true);
  const results = list.map((p) => (p.actualPath === null ? { casePath: p.casePath, result: null } : { casePath: p.casePath, result: comparePair({ ...p, actualPath: p.actualPath }, opts) }));
  for (const line of a.json ? [compareJson(results)] : compareText(results, opts.precision)) io.out(line);
  return results.some((r) => r.result?.verdict === "fail") ? 1 : 0;
}
