// Teacher EMA over one flat tensor: θt ← λ·θt + (1 − λ)·θs (paper Eq. 2, official update order).
// `emaUpdateRef` is the readable oracle; `emaUpdate` runs the SIMD wasm kernel with the same signature.

import { wasmKernels } from "./wasm.js";
import { callWithArrays } from "./arena.js";
import { check } from "../tensor/errors.js";

interface EmaAbi {
  emaUpdate(teacher: number, student: number, n: number, m: number, oneMinusM: number): void;
}

/** Oracle. teacher [n] ← f32(f32(teacher·m) + f32(f32(1 − m)·student)), with 1 − m taken in float64 first. */
export function emaUpdateRef(teacher: Float32Array, student: Float32Array, momentum: number): void {
  checkEmaArgs(teacher, student, momentum);
  const m = Math.fround(momentum);
  const oneMinusM = Math.fround(1 - momentum);
  for (let i = 0; i < teacher.length; i++) {
    // θt ← λ·θt + (1 − λ)·θs
    teacher[i] = Math.fround(Math.fround(teacher[i] * m) + Math.fround(oneMinusM * student[i]));
  }
}

/** SIMD wasm kernel, same contract as `emaUpdateRef`. */
export function emaUpdate(teacher: Float32Array, student: Float32Array, momentum: number): void {
  checkEmaArgs(teacher, student, momentum);
  const k = wasmKernels() as unknown as EmaAbi;
  callWithArrays([teacher, student], [0], (pt, ps) => k.emaUpdate(pt, ps, teacher.length, momentum, 1 - momentum));
}

function checkEmaArgs(teacher: Float32Array, student: Float32Array, momentum: number): void {
  check(teacher.length === student.length, () => `emaUpdate: teacher has ${teacher.length} elements, student ${student.length}; expected equal`);
  check(Number.isFinite(momentum) && momentum >= 0 && momentum <= 1, () => `emaUpdate: momentum ${momentum} is outside [0, 1]`);
}
