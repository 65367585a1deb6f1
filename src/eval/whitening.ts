// PCA whitening as the official copy-detection evaluation learns and applies it
// (eval_copy_detection.py with a whitening set; utils.PCA with whit = 0.5, dim = all):
//   μ = mean of the whitening features W [Nw, E]           subtracted from queries and database
//   Σ = Wᵀ W / Nw                                          of the UNCENTRED whitening features (as the code does)
//   Σ = V diag(λ) Vᵀ, λ < max λ · 1e−5 raised to that floor, sorted by decreasing λ
//   P = diag(λ^−0.5) Vᵀ,   x ↦ P (x − μ)                  full whitening (power 0.5), all E dimensions kept
// Shapes: E descriptor width, Nw whitening images.

import { check } from "../tensor/errors.js";
import { symmetricEigen } from "./symmetricEigen.js";

export interface Whitening {
  readonly dim: number;
  /** μ [E]. */
  readonly mean: Float64Array;
  /** P [E, E] (row r = the r-th principal direction scaled by λ_r^−0.5). */
  readonly projection: Float64Array;
}

/** Learns the whitening from features [Nw, E]. */
export function learnWhitening(features: Float32Array, E: number, power = 0.5): Whitening {
  check(Number.isInteger(E) && E > 0 && features.length % E === 0, () => `whitening: ${features.length} values are not rows of width ${E}`);
  const Nw = features.length / E;
  check(Nw >= 1, "whitening: no whitening features");
  const mean = new Float64Array(E);
  const cov = new Float64Array(E * E);
  for (let i = 0; i < Nw; i++) {
    const row = features.subarray(i * E, (i + 1) * E);
    for (let a = 0; a < E; a++) {
      mean[a] += row[a] / Nw;
      // Σ = Wᵀ W / Nw (uncentred), upper triangle
      for (let b = a; b < E; b++) cov[a * E + b] += (row[a] * row[b]) / Nw;
    }
  }
  for (let a = 0; a < E; a++) for (let b = 0; b < a; b++) cov[a * E + b] = cov[b * E + a];
  const { values, vectors } = symmetricEigen(cov, E);
  // λ floored at max λ · 1e−5
  const floor = values[E - 1] * 1e-5;
  check(floor > 0, "whitening: the whitening features are all zero (no direction to whiten)");
  const projection = new Float64Array(E * E);
  for (let r = 0; r < E; r++) {
    // decreasing eigenvalues: row r takes the (E − 1 − r)-th ascending one
    const j = E - 1 - r;
    const lambda = values[j] < floor ? floor : values[j];
    const s = lambda ** -power;
    // P[r] = λ_r^−power · v_rᵀ
    for (let c = 0; c < E; c++) projection[r * E + c] = s * vectors[c * E + j];
  }
  return { dim: E, mean, projection };
}

/** x ↦ P (x − μ) for every row of features [R, E]. */
export function applyWhitening(w: Whitening, features: Float32Array): Float32Array {
  const E = w.dim;
  check(features.length % E === 0, () => `whitening: ${features.length} values are not rows of width ${E}`);
  const R = features.length / E;
  const out = new Float32Array(R * E);
  const centred = new Float64Array(E);
  for (let i = 0; i < R; i++) {
    for (let c = 0; c < E; c++) centred[c] = features[i * E + c] - w.mean[c];
    for (let r = 0; r < E; r++) {
      let s = 0;
      for (let c = 0; c < E; c++) s += w.projection[r * E + c] * centred[c];
      out[i * E + r] = s;
    }
  }
  return out;
}
