// Exact GELU (nn.GELU(), approximate='none'): y = 0.5·x·(1 + erf(x/√2)) and its derivative
// Φ(x) + x·φ(x). `geluForwardRef`/`geluBackwardRef` are the readable oracles (float64 erfc and exp,
// ./erf.ts, rounded once); `geluForward`/`geluBackward` run the wasm kernels (assembly/gelu.ts:
// float32, a float32 exp and a fitted erfcx, four elements at a time), within 12 ulp of the oracle
// for the forward (4 for x > −1) and 6 ulp of the derivative's terms for the backward
// (gelu.test.ts). The elements are independent, so the threaded kernels give the same bits for
// any thread count.

import type { FloatArray } from "../tensor/floatArray.js";
import { erfc64, exp64 } from "./erf.js";
import { wasmKernels } from "./wasm.js";
import { callWithArrays } from "./arena.js";
import { runRange } from "./threads.js";
import type { KernelExports } from "./wasm.js";
import { check } from "../tensor/errors.js";
import { NO_BUGS, type Bugs } from "../tensor/portingBugs.js";

interface GeluAbi {
  geluForward(y: number, x: number, n: number): void;
  geluBackward(gradX: number, gradY: number, x: number, n: number): void;
  geluForwardPart(y: number, x: number, i0: number, i1: number): void;
  geluBackwardPart(gradX: number, gradY: number, x: number, i0: number, i1: number): void;
}

/** Multiply-add equivalents of one element (parallelMinWork counts multiply-adds). */
const ELEMENT_WORK = 16;

/** Runs an element-range kernel (args end with i0, i1) on n elements, split across the threads (elements are independent). */
function runElements(k: GeluAbi, kernel: "geluForwardPart" | "geluBackwardPart", args: number[], n: number): void {
  runRange(k as unknown as KernelExports, kernel, args, n, 4, ELEMENT_WORK * n);
}

const SQRT1_2 = 0.7071067811865476; // 1/√2
const INV_SQRT_2PI = 0.3989422804014327; // 1/√(2π)

/**
 * Oracle. y [n] = x·Φ(x) = 0.5·x·(1 + erf(x/√2)), evaluated in float64 as x·0.5·erfc(−x/√2) (the
 * same number without the cancellation of 1 + erf for x < 0), rounded on store. GELU(−Inf) = NaN
 * (−Inf·0), as in PyTorch.
 */
export function geluForwardRef(y: FloatArray, x: FloatArray, n: number, bugs: Bugs = NO_BUGS): void {
  checkGeluArgs("geluForward", [["y", y], ["x", x]], n);
  if (bugs.has("gelu.tanh")) return geluTanhForward(y, x, n);
  for (let i = 0; i < n; i++) {
    const xi = x[i];
    // y = x·Φ(x), Φ(x) = 0.5·erfc(−x/√2)
    y[i] = xi * (0.5 * erfc64(-xi * SQRT1_2));
  }
}

/** Oracle. gradX [n] += gradY·(Φ(x) + x·φ(x)) with φ(x) = exp(−x²/2)/√(2π); NaN at x = ±Inf, as in PyTorch. */
export function geluBackwardRef(gradX: FloatArray, gradY: FloatArray, x: FloatArray, n: number, bugs: Bugs = NO_BUGS): void {
  checkGeluArgs("geluBackward", [["gradX", gradX], ["gradY", gradY], ["x", x]], n);
  if (bugs.has("gelu.tanh")) return geluTanhBackward(gradX, gradY, x, n);
  for (let i = 0; i < n; i++) {
    const xi = x[i];
    // dy/dx = Φ(x) + x·φ(x)
    const dydx = 0.5 * erfc64(-xi * SQRT1_2) + xi * (exp64(-0.5 * xi * xi) * INV_SQRT_2PI);
    gradX[i] = gradX[i] + gradY[i] * dydx;
  }
}

const SQRT_2_PI = 0.7978845608028654; // √(2/π)
const GELU_TANH_C = 0.044715;

/** The catalogue's gelu.tanh (diagnosis only): y = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), nn.GELU(approximate='tanh'). */
function geluTanhForward(y: FloatArray, x: FloatArray, n: number): void {
  for (let i = 0; i < n; i++) {
    const xi = x[i];
    // y = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
    y[i] = 0.5 * xi * (1 + Math.tanh(SQRT_2_PI * (xi + GELU_TANH_C * xi * xi * xi)));
  }
}

/** Its derivative: gradX += gradY·(0.5·(1 + t) + 0.5·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²)), t = the tanh above. */
function geluTanhBackward(gradX: FloatArray, gradY: FloatArray, x: FloatArray, n: number): void {
  for (let i = 0; i < n; i++) {
    const xi = x[i];
    const t = Math.tanh(SQRT_2_PI * (xi + GELU_TANH_C * xi * xi * xi));
    // dy/dx = 0.5·(1 + t) + 0.5·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²)
    const dydx = 0.5 * (1 + t) + 0.5 * xi * (1 - t * t) * SQRT_2_PI * (1 + 3 * GELU_TANH_C * xi * xi);
    gradX[i] = gradX[i] + gradY[i] * dydx;
  }
}

/** Wasm kernel, same contract as `geluForwardRef`, within 12 ulp of it. */
export function geluForward(y: Float32Array, x: Float32Array, n: number): void {
  checkGeluArgs("geluForward", [["y", y], ["x", x]], n);
  const k = wasmKernels() as unknown as GeluAbi;
  callWithArrays([y, x], [0], (py, px) => runElements(k, "geluForwardPart", [py, px], n));
}

/** Wasm kernel, same contract as `geluBackwardRef`, within 6 ulp of its terms. */
export function geluBackward(gradX: Float32Array, gradY: Float32Array, x: Float32Array, n: number): void {
  checkGeluArgs("geluBackward", [["gradX", gradX], ["gradY", gradY], ["x", x]], n);
  const k = wasmKernels() as unknown as GeluAbi;
  callWithArrays([gradX, gradY, x], [0], (pgx, pgy, px) => runElements(k, "geluBackwardPart", [pgx, pgy, px], n));
}

function checkGeluArgs(fn: string, arrays: [string, FloatArray][], n: number): void {
  check(Number.isInteger(n) && n > 0, () => `${fn}: n must be a positive integer, got ${n}`);
  for (const [name, a] of arrays) {
    check(a.length === n, () => `${fn}: ${name} has ${a.length} elements, expected n = ${n}`);
  }
}
