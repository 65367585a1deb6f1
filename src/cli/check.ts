// `dino-ref check PATH...` and `dino-ref compare CASE ACTUAL`.

import { DinoRefError } from "../tensor/errors.js";
import { findCaseFiles, readGoldenCase } from "../io/golden.js";
import { readSafetensors, type StTensor } from "../io/safetensors.js";
import { casePassed, checkCase, checkContractOp, compareOutputs, type CaseResult } from "../ops/registry.js";
import { formatTable, reportRows } from "./report.js";
import type { Io } from "./io.js";

export function checkCommand(paths: readonly string[], io: Io): number {
  if (paths.length === 0) throw new DinoRefError("check: expected at least one case file or folder");
  const files = findCaseFiles(paths);
  if (files.length === 0) throw new DinoRefError(`check: no .safetensors case files under ${paths.join(", ")}`);
  const results = files.map((f) => checkCase(readGoldenCase(f)));
  return finish(results, io);
}

export function compareCommand(paths: readonly string[], io: Io): number {
  if (paths.length !== 2) throw new DinoRefError(`compare: expected CASE and ACTUAL, got ${paths.length} argument(s)`);
  const [casePath, actualPath] = paths;
  const c = readGoldenCase(casePath);
  checkContractOp(c);
  const actualFile = readSafetensors(actualPath);
  const actual = new Map<string, StTensor>();
  for (const [name, t] of actualFile.tensors) if (name.startsWith("out.")) actual.set(name.slice(4), t);
  for (const name of c.outputs.keys()) {
    if (!actual.has(name)) throw new DinoRefError(`${actualPath}: tensor out.${name} is missing (the case ${casePath} expects it)`);
  }
  const result: CaseResult = { path: actualPath, op: c.op, outputs: compareOutputs(c, actual) };
  return finish([result], io);
}

function finish(results: readonly CaseResult[], io: Io): number {
  io.out(formatTable(reportRows(results)));
  const failed = results.filter((r) => !casePassed(r)).length;
  io.out(`\n${results.length - failed} of ${results.length} cases passed${failed > 0 ? `, ${failed} failed` : ""}`);
  return failed > 0 ? 1 : 0;
}
