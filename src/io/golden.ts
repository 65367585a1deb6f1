// Golden case files (format `dino-golden/1`): one safetensors file holding an op's inputs
// (`in.*`), the outputs PyTorch produced (`out.*`), the op's params and tolerances. This file
// reads them and compares outputs with numpy's allclose rule:
//   |actual − expected| ≤ atol + rtol·|expected|   (NaN = NaN, equal infinities equal; integers exact)

import { readdirSync, realpathSync, statSync, type Stats } from "node:fs";
import { join } from "node:path";
import { DinoRefError } from "../tensor/errors.js";
import { readSafetensors, type StTensor, type SafetensorsFile } from "./safetensors.js";
import { brief, parseStrictJson } from "./strictJson.js";

export const GOLDEN_FORMAT = "dino-golden/1";

export type Tolerance = [atol: number, rtol: number];

/** The dtypes a case holds (and the only ones compared): F32 tensors, F64 schedules, integer labels and masks. */
const CASE_DTYPES: ReadonlySet<string> = new Set(["F32", "F64", "I64", "I32", "U8"]);

export interface GoldenCase {
  path: string;
  op: string;
  params: Record<string, unknown>;
  /** "default" and per-output entries keyed `out.<name>`. */
  tolerance: Record<string, Tolerance>;
  producer: string;
  description: string;
  /** Inputs without the `in.` prefix. */
  inputs: Map<string, StTensor>;
  /** Expected outputs without the `out.` prefix. */
  outputs: Map<string, StTensor>;
}

/** Reads a case file (its tensors within the --max-memory limit) and checks its metadata against the contract. */
export function readGoldenCase(path: string): GoldenCase {
  return goldenCaseFrom(readSafetensors(path, { limitMemory: true }), path);
}

export function goldenCaseFrom(file: SafetensorsFile, path: string): GoldenCase {
  const meta = file.metadata;
  const fail = (what: string): never => {
    throw new DinoRefError(`${path}: not a ${GOLDEN_FORMAT} case: ${what}`);
  };
  if (meta.format !== GOLDEN_FORMAT) fail(`__metadata__.format is ${JSON.stringify(meta.format)}, expected "${GOLDEN_FORMAT}"`);
  if (typeof meta.op !== "string" || meta.op === "") fail("__metadata__.op is missing");
  const params = parseJsonObject(meta.params ?? "{}", "params", fail);
  const tolerance: Record<string, Tolerance> = {};
  for (const [key, value] of Object.entries(parseJsonObject(meta.tolerance ?? "", "tolerance", fail))) {
    if (!Array.isArray(value) || value.length !== 2 || !value.every((x) => typeof x === "number" && x >= 0)) {
      fail(`tolerance.${key} must be [atol, rtol] with non-negative numbers, got ${brief(value)}`);
    }
    tolerance[key] = value as Tolerance;
  }
  if (!tolerance.default) fail('tolerance has no "default" entry');

  const inputs = new Map<string, StTensor>();
  const outputs = new Map<string, StTensor>();
  for (const [name, t] of file.tensors) {
    if (!CASE_DTYPES.has(t.dtype)) fail(`tensor '${name}' has dtype ${t.dtype}; a case holds ${[...CASE_DTYPES].join(", ")} only`);
    if (name.startsWith("in.")) inputs.set(name.slice(3), t);
    else if (name.startsWith("out.")) outputs.set(name.slice(4), t);
    else fail(`tensor '${name}' is neither an input (in.*) nor an output (out.*)`);
  }
  if (outputs.size === 0) fail("it has no out.* tensors");
  return {
    path,
    op: meta.op,
    params,
    tolerance,
    producer: meta.producer ?? "",
    description: meta.description ?? "",
    inputs,
    outputs,
  };
}

function parseJsonObject(text: string, key: string, fail: (what: string) => never): Record<string, unknown> {
  // params and tolerance are flat objects of numbers, booleans and [atol, rtol] pairs
  const json = parseStrictJson(text, 2);
  if (!json.ok) fail(`__metadata__.${key} is ${json.syntax ? `not valid JSON: ${brief(text)}` : `not acceptable: ${json.why}`}`);
  const value = json.value;
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(`__metadata__.${key} must be a JSON object`);
  return value as Record<string, unknown>;
}

/** The tolerance for output `name` (without `out.`), falling back to the default. */
export function toleranceFor(c: GoldenCase, name: string): Tolerance {
  return c.tolerance[`out.${name}`] ?? c.tolerance.default;
}

/**
 * All `.safetensors` files under the given files or folders, sorted, folders searched recursively
 * (a folder reached twice through symlinks is searched once). An entry that cannot be read (a
 * broken symlink, a symlink loop) is an error naming it.
 */
export function findCaseFiles(paths: readonly string[]): string[] {
  const found: string[] = [];
  const searched = new Set<string>(); // real paths of the folders searched
  const statOf = (p: string, given: boolean) => {
    try {
      return statSync(p);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (given && code === "ENOENT") throw new DinoRefError(`${p}: no such file or folder`);
      throw new DinoRefError(`${p}: cannot read (${code === "ELOOP" ? "ELOOP: a symlink loop" : code === "ENOENT" ? "ENOENT: a broken symlink" : code ?? (e as Error).message})`);
    }
  };
  const visit = (p: string, st: Stats) => {
    if (!st.isDirectory()) {
      found.push(p);
      return;
    }
    const real = realpathSync(p);
    if (searched.has(real)) return;
    searched.add(real);
    let entries: string[];
    try {
      entries = readdirSync(p).sort();
    } catch (e) {
      throw new DinoRefError(`${p}: cannot list folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    for (const entry of entries) {
      const child = join(p, entry);
      const cst = statOf(child, false);
      if (cst.isDirectory() || (entry.endsWith(".safetensors") && cst.isFile())) visit(child, cst);
    }
  };
  for (const p of paths) visit(p, statOf(p, true));
  return found;
}

/** The comparison of one output: what a report row shows. */
export interface OutputReport {
  output: string;
  pass: boolean;
  maxAbsError: number;
  maxRelError: number;
  /** Index (per dimension) of the element that exceeds its tolerance most, or that is nearest to it. */
  worstIndex: number[];
  tolerance: Tolerance;
  /** Number of elements outside the tolerance. */
  mismatches: number;
  /** max over elements of |actual − expected| / (atol + rtol·|expected|): ≤ 1 passes (0 for equal values, inf outside a zero tolerance). */
  worstRatio: number;
  /** Why it failed when not by value (shape, dtype, missing). */
  problem?: string;
}

/** Compares `actual` with `expected` element by element under `tolerance` (numpy allclose). */
export function compareTensors(output: string, expected: StTensor, actual: StTensor | undefined, tolerance: Tolerance): OutputReport {
  const report: OutputReport = { output, pass: false, maxAbsError: NaN, maxRelError: NaN, worstIndex: [], tolerance, mismatches: 0, worstRatio: Infinity };
  if (actual === undefined) return { ...report, problem: "not produced" };
  if (actual.shape.length !== expected.shape.length || actual.shape.some((d, i) => d !== expected.shape[i])) {
    return { ...report, problem: `shape [${actual.shape}] but expected [${expected.shape}]` };
  }
  if (!CASE_DTYPES.has(actual.dtype)) return { ...report, problem: `dtype ${actual.dtype}; outputs are compared as ${[...CASE_DTYPES].join(", ")} only` };
  const integer = expected.dtype === "I64" || expected.dtype === "I32" || expected.dtype === "U8";
  if (integer !== (actual.dtype === "I64" || actual.dtype === "I32" || actual.dtype === "U8")) {
    return { ...report, problem: `dtype ${actual.dtype} but expected ${expected.dtype}` };
  }
  const [atol, rtol] = integer ? [0, 0] : tolerance;
  let maxAbs = 0;
  let maxRel = 0;
  let worst = 0;
  let worstExcess = -Infinity;
  let mismatches = 0;
  let worstRatio = 0;
  for (let i = 0; i < expected.data.length; i++) {
    const e = Number(expected.data[i]);
    const a = Number(actual.data[i]);
    let abs: number;
    if (Number.isNaN(e) || Number.isNaN(a)) abs = Number.isNaN(e) && Number.isNaN(a) ? 0 : Infinity;
    else if (e === a) abs = 0; // equal infinities too
    else abs = Math.abs(a - e);
    const rel = abs === 0 ? 0 : abs / Math.abs(e);
    // allclose: |a − e| ≤ atol + rtol·|e|; excess > 0 means outside
    const bound = atol + rtol * Math.abs(e);
    let excess: number;
    if (abs === 0) excess = -bound; // equal, NaN = NaN and equal infinities included
    else if (!Number.isFinite(abs) || !Number.isFinite(e)) excess = Infinity; // NaN against a number, or an infinity against anything else
    else excess = abs - bound;
    if (excess > 0) mismatches++;
    // |a − e| / (atol + rtol·|e|)
    const ratio = abs === 0 ? 0 : Number.isFinite(excess) ? abs / bound : Infinity;
    if (ratio > worstRatio || Number.isNaN(ratio)) worstRatio = Number.isNaN(ratio) ? Infinity : ratio;
    if (abs > maxAbs) maxAbs = abs;
    if (rel > maxRel) maxRel = rel;
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
  }
  return {
    ...report,
    pass: mismatches === 0,
    maxAbsError: maxAbs,
    maxRelError: maxRel,
    worstIndex: unravel(worst, expected.shape),
    mismatches,
    worstRatio,
  };
}

function unravel(flat: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0; d--) {
    index[d] = shape[d] === 0 ? 0 : flat % shape[d];
    flat = shape[d] === 0 ? 0 : Math.floor(flat / shape[d]);
  }
  return index;
}
