// LayerNorm over the last dim (nn.LayerNorm, biased variance), forward and backward, on R rows of
// D values. `layerNormForwardRef`/`layerNormBackwardRef` are the readable oracles (float64
// arithmetic, rounded on store); `layerNormForward`/`layerNormBackward` run the SIMD wasm kernels.

import type { FloatArray } from "../tensor/floatArray.js";
import { wasmKernels, type KernelExports } from "./wasm.js";
import { callWithArrays } from "./arena.js";
import { runRange } from "./threads.js";
import { check } from "../tensor/errors.js";
import { NO_BUGS, type Bugs } from "../tensor/portingBugs.js";

/**
 * Oracle. y [R,D] = (x − mean)·rstd·weight + bias row by row, with mean [R] and
 * rstd [R] = 1/sqrt(var + eps) (var BIASED) saved for the backward. weight, bias [D].
 * `bugs` (diagnosis only): layer_norm.eps_1e-5 uses eps 1e-5 whatever is asked,
 * layer_norm.unbiased_variance divides the variance by D − 1.
 */
export function layerNormForwardRef(
  y: FloatArray, mean: FloatArray, rstd: FloatArray, x: FloatArray, weight: FloatArray, bias: FloatArray, R: number, D: number, eps: number,
  bugs: Bugs = NO_BUGS,
): void {
  checkForwardArgs(y, mean, rstd, x, weight, bias, R, D, eps);
  if (bugs.has("layer_norm.eps_1e-5")) eps = 1e-5;
  const varianceDivisor = bugs.has("layer_norm.unbiased_variance") ? D - 1 : D;
  for (let r = 0; r < R; r++) {
    const row = r * D;
    // mean = Σ x / D
    let sum = 0;
    for (let d = 0; d < D; d++) sum += x[row + d];
    const m = sum / D;
    // var = Σ (x − mean)² / D
    let ss = 0;
    for (let d = 0; d < D; d++) ss += (x[row + d] - m) * (x[row + d] - m);
    // rstd = 1 / sqrt(var + eps)
    const s = 1 / Math.sqrt(ss / varianceDivisor + eps);
    mean[r] = m;
    rstd[r] = s;
    // y = ((x − mean)·rstd)·weight + bias
    for (let d = 0; d < D; d++) y[row + d] = (x[row + d] - m) * s * weight[d] + bias[d];
  }
}

/**
 * Oracle, accumulating, from the saved mean and rstd:
 *   gradX      += rstd·(g − mean(g) − x̂·mean(g·x̂)),  g = gradY·weight, x̂ = (x − mean)·rstd
 *   gradWeight += Σ_rows gradY·x̂
 *   gradBias   += Σ_rows gradY
 * With layer_norm.unbiased_variance (diagnosis only) the x̂ term is Σ(g·x̂)/(D − 1), the
 * derivative of the variance divided by D − 1.
 */
export function layerNormBackwardRef(
  gradX: FloatArray, gradWeight: FloatArray, gradBias: FloatArray, gradY: FloatArray, x: FloatArray, mean: FloatArray, rstd: FloatArray,
  weight: FloatArray, R: number, D: number, bugs: Bugs = NO_BUGS,
): void {
  checkBackwardArgs(gradX, gradWeight, gradBias, gradY, x, mean, rstd, weight, R, D);
  const varianceDivisor = bugs.has("layer_norm.unbiased_variance") ? D - 1 : D;
  const colW = new Float64Array(D);
  const colB = new Float64Array(D);
  for (let r = 0; r < R; r++) {
    const row = r * D;
    const m = mean[r];
    const s = rstd[r];
    let sumG = 0;
    let sumGX = 0;
    for (let d = 0; d < D; d++) {
      // x̂ = (x − mean)·rstd, g = gradY·weight
      const xh = (x[row + d] - m) * s;
      const g = gradY[row + d] * weight[d];
      sumG += g;
      sumGX += g * xh;
      colW[d] += gradY[row + d] * xh;
      colB[d] += gradY[row + d];
    }
    const mg = sumG / D;
    const mgx = sumGX / varianceDivisor;
    for (let d = 0; d < D; d++) {
      const xh = (x[row + d] - m) * s;
      const g = gradY[row + d] * weight[d];
      // gradX += rstd·((g − mean(g)) − x̂·mean(g·x̂))
      gradX[row + d] = gradX[row + d] + s * (g - mg - xh * mgx);
    }
  }
  for (let d = 0; d < D; d++) {
    gradWeight[d] = gradWeight[d] + colW[d];
    gradBias[d] = gradBias[d] + colB[d];
  }
}

/** Multiply-add equivalents of one element of the forward and of the backward, for the thread split (parallelMinWork). */
const FORWARD_WORK = 4;
const BACKWARD_WORK = 8;

/** SIMD wasm kernel, same contract as `layerNormForwardRef`; rows split across the threads (bit-identical). */
export function layerNormForward(
  y: Float32Array, mean: Float32Array, rstd: Float32Array, x: Float32Array, weight: Float32Array, bias: Float32Array, R: number, D: number, eps: number,
): void {
  checkForwardArgs(y, mean, rstd, x, weight, bias, R, D, eps);
  const k = wasmKernels() as unknown as KernelExports;
  callWithArrays([y, mean, rstd, x, weight, bias], [0, 1, 2], (py, pm, ps, px, pw, pb) =>
    runRange(k, "layerNormForwardPart", [py, pm, ps, px, pw, pb, R, D, eps], R, 1, FORWARD_WORK * R * D),
  );
}

/**
 * SIMD wasm kernel, same contract as `layerNormBackwardRef`: ∂x by rows, then ∂weight, ∂bias by
 * columns (float64 column sums), each part split across the threads (the same bits as one call).
 */
export function layerNormBackward(
  gradX: Float32Array, gradWeight: Float32Array, gradBias: Float32Array, gradY: Float32Array, x: Float32Array, mean: Float32Array,
  rstd: Float32Array, weight: Float32Array, R: number, D: number,
): void {
  checkBackwardArgs(gradX, gradWeight, gradBias, gradY, x, mean, rstd, weight, R, D);
  const k = wasmKernels();
  callWithArrays([gradX, gradWeight, gradBias, gradY, x, mean, rstd, weight], [0, 1, 2], (pgx, pgw, pgb, pgy, px, pm, ps, pw) => {
    runRange(k, "layerNormBackwardRowsPart", [pgx, pgy, px, pm, ps, pw, R, D], R, 1, BACKWARD_WORK * R * D);
    runRange(k, "layerNormParamGradsPart", [pgw, pgb, pgy, px, pm, ps, R, D], D, 4, BACKWARD_WORK * R * D);
  });
}

function checkSizes(fn: string, R: number, D: number): void {
  check(Number.isInteger(R) && R > 0, () => `${fn}: R (rows) must be a positive integer, got ${R}`);
  check(Number.isInteger(D) && D > 0, () => `${fn}: D (row width) must be a positive integer, got ${D}`);
}

function checkLengths(fn: string, arrays: [string, FloatArray, number, string][]): void {
  for (const [name, a, n, shape] of arrays) {
    check(a.length === n, () => `${fn}: ${name} has ${a.length} elements, expected ${shape} = ${n}`);
  }
}

function checkForwardArgs(
  y: FloatArray, mean: FloatArray, rstd: FloatArray, x: FloatArray, weight: FloatArray, bias: FloatArray, R: number, D: number, eps: number,
): void {
  const fn = "layerNormForward";
  checkSizes(fn, R, D);
  check(Number.isFinite(eps) && eps > 0, () => `${fn}: eps must be a finite number > 0, got ${eps}`);
  const RD = `R·D = ${R}·${D}`;
  checkLengths(fn, [["y", y, R * D, RD], ["x", x, R * D, RD], ["mean", mean, R, "R"], ["rstd", rstd, R, "R"], ["weight", weight, D, "D"], ["bias", bias, D, "D"]]);
}

function checkBackwardArgs(
  gradX: FloatArray, gradWeight: FloatArray, gradBias: FloatArray, gradY: FloatArray, x: FloatArray, mean: FloatArray, rstd: FloatArray,
  weight: FloatArray, R: number, D: number,
): void {
  const fn = "layerNormBackward";
  checkSizes(fn, R, D);
  const RD = `R·D = ${R}·${D}`;
  checkLengths(fn, [
    ["gradX", gradX, R * D, RD], ["gradY", gradY, R * D, RD], ["x", x, R * D, RD], ["mean", mean, R, "R"], ["rstd", rstd, R, "R"],
    ["weight", weight, D, "D"], ["gradWeight", gradWeight, D, "D"], ["gradBias", gradBias, D, "D"],
  ]);
}
