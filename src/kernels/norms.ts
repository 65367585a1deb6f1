// The two primitives of per-parameter gradient clipping: the L2 norm of a flat tensor and an
// in-place scale. `l2NormRef` / `scaleInPlaceRef` are the oracles; `l2Norm` / `scaleInPlace` run
// the SIMD wasm kernels (assembly/norms.ts) with the same signature.
// l2Norm: squares and their sum in float64 (oracle left to right, kernel in SIMD lanes), then
// √ and one rounding to float32. The two sums differ only in f64 summation order (relative error
// below n·2⁻⁵³, far under half a float32 ulp for any n < 2²⁸), so the results are equal or adjacent floats.

import { wasmKernels } from "./wasm.js";
import { callWithArrays } from "./arena.js";
import { check } from "../tensor/errors.js";

interface NormsAbi {
  l2Norm(x: number, n: number): number;
  scaleInPlace(x: number, n: number, s: number): void;
}

/** Oracle. f32(√(Σ_i x_i²)), accumulated in float64 left to right. */
export function l2NormRef(x: Float32Array): number {
  let sum = 0;
  // Σ x²
  for (let i = 0; i < x.length; i++) sum += x[i] * x[i];
  // ‖x‖₂ = √Σ x²
  return Math.fround(Math.sqrt(sum));
}

/** Oracle. x ← f32(x·f32(s)) elementwise. */
export function scaleInPlaceRef(x: Float32Array, s: number): void {
  const s32 = Math.fround(s);
  // x ← x·s
  for (let i = 0; i < x.length; i++) x[i] = Math.fround(x[i] * s32);
}

/** SIMD wasm kernel, same contract as `l2NormRef`. */
export function l2Norm(x: Float32Array): number {
  const k = wasmKernels() as unknown as NormsAbi;
  let out = 0;
  callWithArrays([x], [], (px) => {
    out = k.l2Norm(px, x.length);
  });
  return out;
}

/** SIMD wasm kernel, same contract as `scaleInPlaceRef`. */
export function scaleInPlace(x: Float32Array, s: number): void {
  check(typeof s === "number", "scaleInPlace: s must be a number");
  const k = wasmKernels() as unknown as NormsAbi;
  callWithArrays([x], [0], (px) => k.scaleInPlace(px, x.length, s));
}
