// The one op registry: op name (from the dino-golden/1 contract) → implementation. The golden
// tests and `dino-ref check` both run cases through `runCase`, so the CLI cannot pass where the
// tests fail. Every op is listed explicitly; no discovery.

import { DinoRefError } from "../tensor/errors.js";
import type { StTensor } from "../io/safetensors.js";
import { compareTensors, toleranceFor, type GoldenCase, type OutputReport } from "../io/golden.js";
import { OpArgs } from "./args.js";
import { selectedBackend, type Backend } from "../kernels/backend.js";
import { kernelOps } from "./kernelOps.js";
import { dinoOps } from "./dinoOps.js";
import { evalOps } from "./evalOps.js";
import { headOps } from "./headOps.js";
import { vitOps } from "./vitOps.js";
import { trainOps } from "./trainOps.js";
import { NO_BUGS, type Bugs } from "../tensor/portingBugs.js";
import type { OpImpl } from "./opImpl.js";
import { applicationOps } from "./applicationOps.js";

export type { OpImpl } from "./opImpl.js";

/** Every op of the dino-golden/1 contract; each has an implementation in `registry` below. */
export const CONTRACT_OPS = [
  "softmax",
  "dino_loss",
  "cosine_schedule",
  "teacher_temp_schedule",
  "ema_update",
  "clip_gradients",
  "adamw_step",
  "matmul",
  "layer_norm",
  "gelu",
  "attention",
  "interpolate_pos_encoding",
  "vit_forward",
  "vit_backward",
  "vit_trace",
  "dino_head",
  "dino_train_steps",
  "knn",
  "attention_mask",
  "retrieval_map",
  "copy_detection",
  "label_propagation",
] as const;

export const registry: ReadonlyMap<string, OpImpl> = new Map<string, OpImpl>([...kernelOps, ...dinoOps, ...evalOps, ...headOps, ...vitOps, ...trainOps, ...applicationOps]);

export interface CaseResult {
  path: string;
  op: string;
  outputs: OutputReport[];
}

/** Throws DinoRefError naming the file unless the case's op is one of the contract (`check` and `compare` both ask). */
export function checkContractOp(c: GoldenCase): void {
  if (!(CONTRACT_OPS as readonly string[]).includes(c.op)) {
    throw new DinoRefError(`${c.path}: op '${c.op}' is not in the dino-golden/1 contract (known ops: ${CONTRACT_OPS.join(", ")})`);
  }
}

/** Runs a case's op on its inputs. Throws DinoRefError for an op outside the contract or bad inputs. */
export function runCase(c: GoldenCase, be: Backend = selectedBackend(), bugs: Bugs = NO_BUGS): Map<string, StTensor> {
  checkContractOp(c);
  const impl = registry.get(c.op);
  if (impl === undefined) throw new Error(`op ${c.op} of the contract has no implementation in the registry`);
  return impl(new OpArgs(c.op, c.path, c.inputs, c.params), be, bugs);
}

/** Recomputes a case and compares every expected output with the case's tolerances. */
export function checkCase(c: GoldenCase, be: Backend = selectedBackend()): CaseResult {
  return { path: c.path, op: c.op, outputs: compareOutputs(c, runCase(c, be)) };
}

/** Compares `actual` (names without `out.`) with every expected output of the case. */
export function compareOutputs(c: GoldenCase, actual: ReadonlyMap<string, StTensor>): OutputReport[] {
  return [...c.outputs].map(([name, expected]) => compareTensors(name, expected, actual.get(name), toleranceFor(c, name)));
}

/** A case passes when every output passes. */
export function casePassed(r: CaseResult): boolean {
  return r.outputs.every((o) => o.pass);
}
