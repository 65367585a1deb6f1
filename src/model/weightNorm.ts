// torch.nn.utils.weight_norm(module, 'weight', dim=0) (as `vision_transformer.py DINOHead` applies it), forward and backward: the effective
// weight row i is W_i = g_i·v_i/‖v_i‖₂, no epsilon (a zero row of v gives NaN, as in PyTorch).
// Written once over FloatArray; sums in float64, every stored value rounded by its array.

import type { FloatArray } from "../tensor/floatArray.js";

/**
 * w [K,D] = v·(g/‖v_row‖) with g [K] (stored [K,1]) and v [K,D]; vNorm [K] receives ‖v_i‖₂.
 * Like torch._weight_norm, the scale g/‖v‖ is one rounded value per row, then multiplies v.
 */
export function weightNormForward(w: FloatArray, vNorm: FloatArray, v: FloatArray, g: FloatArray, K: number, D: number): void {
  // the per-row scale is rounded to the tensors' precision before it multiplies v
  const round = w instanceof Float32Array ? Math.fround : (a: number) => a;
  for (let i = 0; i < K; i++) {
    const o = i * D;
    let ss = 0;
    // ‖v_i‖₂ = √Σ_d v²
    for (let d = 0; d < D; d++) ss += v[o + d] * v[o + d];
    vNorm[i] = Math.sqrt(ss);
    // W_i = v_i·(g_i/‖v_i‖)
    const scale = round(g[i] / vNorm[i]);
    for (let d = 0; d < D; d++) w[o + d] = v[o + d] * scale;
  }
}

/**
 * Accumulates the gradients of weightNormForward given G = ∂L/∂W [K,D] (n = ‖v_i‖):
 *   ∂L/∂g_i = (G_i·v_i)/n                         (into gradG, skipped when gradG is null: a frozen g);
 *   ∂L/∂v_i = (g_i/n)·(G_i − ((G_i·v_i)/n²)·v_i)   (G_i with its component along v_i removed, so ⊥ v_i).
 */
export function weightNormBackward(
  gradV: FloatArray,
  gradG: FloatArray | null,
  gradW: FloatArray,
  v: FloatArray,
  g: FloatArray,
  vNorm: FloatArray,
  K: number,
  D: number,
): void {
  for (let i = 0; i < K; i++) {
    const o = i * D;
    const n = vNorm[i];
    let gv = 0;
    // G_i·v_i
    for (let d = 0; d < D; d++) gv += gradW[o + d] * v[o + d];
    // ∂L/∂g_i += (G_i·v_i)/n
    if (gradG !== null) gradG[i] += gv / n;
    const a = g[i] / n;
    const b = gv / (n * n);
    // ∂L/∂v_i += (g_i/n)·(G_i − ((G_i·v_i)/n²)·v_i)
    for (let d = 0; d < D; d++) gradV[o + d] += a * (gradW[o + d] - b * v[o + d]);
  }
}
