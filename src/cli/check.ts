// `dino-ref check PATH...`: every case recomputed, one row per output.

import { DinoRefError } from "../tensor/errors.js";
import { findCaseFiles, readGoldenCase } from "../io/golden.js";
import { casePassed, checkCase, type CaseResult } from "../ops/registry.js";
import { formatTable, reportRows } from "./report.js";
import type { Io } from "./io.js";

export function checkCommand(paths: readonly string[], io: Io): number {
  if (paths.length === 0) throw new DinoRefError("check: expected at least one case file or folder");
  const files = findCaseFiles(paths);
  if (files.length === 0) throw new DinoRefError(`check: no .safetensors case files under ${paths.join(", ")}`);
  const results = files.map((f) => checkCase(readGoldenCase(f)));
  return finish(results, io);
}

function finish(results: readonly CaseResult[], io: Io): number {
  io.out(formatTable(reportRows(results)));
  const failed = results.filter((r) => !casePassed(r)).length;
  io.out(`\n${results.length - failed} of ${results.length} cases passed${failed > 0 ? `, ${failed} failed` : ""}`);
  return failed > 0 ? 1 : 0;
}
