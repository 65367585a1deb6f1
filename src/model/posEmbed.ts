// interpolate_pos_encoding of the official ViT: pos_embed [1, 1 + N0, D] made for a g×g grid,
// resampled to the rows×cols grid of the current image by F.interpolate(mode='bicubic',
// scale_factor=((rows + 0.1)/g, (cols + 0.1)/g)), and its adjoint for the backward.
// The CLS position passes through. Semantics: `vision_transformer.py VisionTransformer.interpolate_pos_encoding` and PyTorch's
// F.interpolate(mode="bicubic", align_corners=False) (docs/equations.md).

import type { Backend, Tensor } from "../kernels/backend.js";
import { check } from "../tensor/errors.js";
import { NO_BUGS, type Bugs } from "../tensor/portingBugs.js";

const A = -0.75; // PyTorch's bicubic constant

/** The 4 taps (edge-clamped source indices) and weights of each output index along one axis. */
export interface AxisTaps {
  /** Output length along this axis. */
  readonly size: number;
  /** [size·4] source indices, clamped into [0, in − 1]. */
  readonly index: Int32Array;
  /** [size·4] weights (float32 values; they sum to 1 up to rounding). */
  readonly weight: Float64Array;
}

/** How pos_embed maps to the tokens of one image size. */
export interface PosPlan {
  /** g: side of pos_embed's grid. */
  readonly g: number;
  readonly rows: number;
  readonly cols: number;
  /** True when pos_embed is returned unchanged (npatch == N0 and height == width in pixels). */
  readonly identity: boolean;
  /** Per-axis taps (null for the identity). */
  readonly y: AxisTaps | null;
  readonly x: AxisTaps | null;
}

// c1(x) = ((A + 2)·x − (A + 3))·x² + 1, for |x| ≤ 1
const c1 = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1;
// c2(x) = ((A·x − 5A)·x + 8A)·x − 4A, for 1 < |x| < 2
const c2 = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
const f32 = Math.fround;

/**
 * Taps along one axis for F.interpolate(bicubic, align_corners False) with a given scale factor
 * `sf` (Python double): kernel scale = f32(1/sf); src = f32(f32(scale·(d + 0.5)) − 0.5), not
 * clamped at 0; i0 = min(floor(src), in − 1); t = clamp(src − i0, 0, 1); taps i0 − 1 .. i0 + 2
 * clamped into [0, in − 1]. Weights are the cubic polynomials evaluated in float64 and rounded to
 * float32 once (what an FMA-contracted float32 kernel gets closest to).
 */
export function bicubicAxisTaps(inSize: number, outSize: number, sf: number): AxisTaps {
  const scale = f32(1 / sf);
  // src = scale·(d + 0.5) − 0.5 in float32
  return cubicTaps(inSize, outSize, (d) => f32(f32(scale * (d + 0.5)) - 0.5));
}

/** The bicubic taps for the source coordinate src(d) of each output index d. */
function cubicTaps(inSize: number, outSize: number, sourceIndex: (d: number) => number): AxisTaps {
  const index = new Int32Array(outSize * 4);
  const weight = new Float64Array(outSize * 4);
  for (let d = 0; d < outSize; d++) {
    const src = sourceIndex(d);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const t = Math.min(Math.max(f32(src - i0), 0), 1);
    const t1 = f32(1 - t);
    // w = (c2(t + 1), c1(t), c1(1 − t), c2(2 − t)), the last two from x2 = f32(1 − t)
    const w = [c2(f32(t + 1)), c1(t), c1(t1), c2(f32(t1 + 1))];
    for (let j = 0; j < 4; j++) {
      index[d * 4 + j] = Math.min(Math.max(i0 - 1 + j, 0), inSize - 1);
      weight[d * 4 + j] = f32(w[j]);
    }
  }
  return { size: outSize, index, weight };
}

/**
 * The wrong resamplings of the catalogue (diagnosis only), F.interpolate as a port calls it:
 * interpolate.align_corners (bicubic, align_corners=True: src = d·(in − 1)/(out − 1)),
 * interpolate.by_output_size (bicubic with size=(rows, cols): src = (in/out)·(d + 0.5) − 0.5, so
 * the +0.1 no longer changes the sampling), interpolate.bilinear (mode='bilinear').
 */
function wrongAxisTaps(inSize: number, outSize: number, sf: number, bugs: Bugs): AxisTaps | null {
  if (bugs.has("interpolate.align_corners")) {
    const scale = outSize > 1 ? f32((inSize - 1) / (outSize - 1)) : 0;
    return cubicTaps(inSize, outSize, (d) => f32(scale * d));
  }
  if (bugs.has("interpolate.by_output_size")) {
    const scale = f32(inSize / outSize);
    return cubicTaps(inSize, outSize, (d) => f32(f32(scale * (d + 0.5)) - 0.5));
  }
  if (bugs.has("interpolate.bilinear")) {
    const scale = f32(1 / sf);
    const index = new Int32Array(outSize * 4);
    const weight = new Float64Array(outSize * 4);
    for (let d = 0; d < outSize; d++) {
      // src = max(scale·(d + 0.5) − 0.5, 0); taps i0 and i0 + 1 (clamped), weights 1 − λ and λ
      const src = Math.max(f32(f32(scale * (d + 0.5)) - 0.5), 0);
      const i0 = Math.min(Math.floor(src), inSize - 1);
      const lambda = f32(src - i0);
      index.set([i0, Math.min(i0 + 1, inSize - 1), i0, i0], d * 4);
      weight.set([f32(1 - lambda), lambda, 0, 0], d * 4);
    }
    return { size: outSize, index, weight };
  }
  return null;
}

/**
 * The plan for an H×W image (pixels) with patch p and pos_embed of 1 + N0 rows. Identity only
 * when rows·cols == N0 AND H == W; otherwise bicubic with sf = (rows + 0.1)/g per axis, and the
 * output size floor(g·sf) must be exactly rows (cols). `bugs`: see wrongAxisTaps.
 */
export function posPlan(N0: number, H: number, W: number, p: number, bugs: Bugs = NO_BUGS): PosPlan {
  const g = Math.round(Math.sqrt(N0));
  check(g * g === N0, () => `pos_embed has ${N0} patch positions, which is not a square grid (the official code reshapes it to int(sqrt(N))²)`);
  check(H >= p && W >= p, () => `image ${H}×${W} px is smaller than one ${p}×${p} patch`);
  // rows = H // p (the code's w0), cols = W // p (h0)
  const rows = Math.floor(H / p);
  const cols = Math.floor(W / p);
  if (rows * cols === N0 && H === W) return { g, rows, cols, identity: true, y: null, x: null };
  // sf = (rows + 0.1)/sqrt(N): the +0.1 keeps floor(g·sf) from landing one short; it also changes the sampling scale
  const sfy = (rows + 0.1) / Math.sqrt(N0);
  const sfx = (cols + 0.1) / Math.sqrt(N0);
  const outY = Math.floor(g * sfy);
  const outX = Math.floor(g * sfx);
  check(outY === rows && outX === cols, () => `interpolate_pos_encoding: bicubic output ${outY}×${outX}, expected ${rows}×${cols}`);
  const taps = (n: number, sf: number) => wrongAxisTaps(g, n, sf, bugs) ?? bicubicAxisTaps(g, n, sf);
  return { g, rows, cols, identity: false, y: taps(rows, sfy), x: taps(cols, sfx) };
}

/**
 * out [1, 1 + rows·cols, D] = [pos_embed[0]; bicubic(pos_embed[1:] as a g×g grid)], or pos_embed
 * itself (copied) for the identity plan. Overwrites `out`.
 */
export function interpolatePosEncoding(out: Tensor, posEmbed: Tensor, plan: PosPlan, D: number): void {
  const o = out.data;
  const s = posEmbed.data;
  check(o.length === (1 + plan.rows * plan.cols) * D, () => `interpolatePosEncoding: output has ${o.length} values, expected (1 + ${plan.rows}·${plan.cols})·${D}`);
  check(s.length === (1 + plan.g * plan.g) * D, () => `interpolatePosEncoding: pos_embed has ${s.length} values, expected (1 + ${plan.g}²)·${D}`);
  if (plan.identity) {
    o.set(s);
    return;
  }
  const { g, rows, cols } = plan;
  const ty = plan.y!;
  const tx = plan.x!;
  // CLS position passes through
  for (let c = 0; c < D; c++) o[c] = s[c];
  const inner = new Float64Array(D);
  const acc = new Float64Array(D);
  for (let r = 0; r < rows; r++) {
    for (let q = 0; q < cols; q++) {
      acc.fill(0);
      // out[r, q] = Σ_i wy_i·(Σ_j wx_j·in[y_i, x_j]): height taps outer, width taps inner
      for (let i = 0; i < 4; i++) {
        const yi = ty.index[r * 4 + i];
        const wy = ty.weight[r * 4 + i];
        inner.fill(0);
        for (let j = 0; j < 4; j++) {
          const wx = tx.weight[q * 4 + j];
          const base = (1 + yi * g + tx.index[q * 4 + j]) * D;
          for (let c = 0; c < D; c++) inner[c] += wx * s[base + c];
        }
        for (let c = 0; c < D; c++) acc[c] += wy * inner[c];
      }
      const dst = (1 + r * cols + q) * D;
      for (let c = 0; c < D; c++) o[dst + c] = acc[c];
    }
  }
}

/**
 * The adjoint: gradPosEmbed [1, 1 + N0, D] += Rᵀ·gradOut, where out = R·pos_embed above:
 * grad[0] += gradOut[0]; grad[1 + y_i·g + x_j] += wy_i·wx_j·gradOut[1 + r·cols + q].
 */
export function interpolatePosEncodingBackward(gradPosEmbed: Tensor, gradOut: Tensor, plan: PosPlan, D: number): void {
  const gp = gradPosEmbed.data;
  const go = gradOut.data;
  check(go.length === (1 + plan.rows * plan.cols) * D, () => `interpolatePosEncodingBackward: gradient has ${go.length} values, expected (1 + ${plan.rows}·${plan.cols})·${D}`);
  check(gp.length === (1 + plan.g * plan.g) * D, () => `interpolatePosEncodingBackward: pos_embed gradient has ${gp.length} values, expected (1 + ${plan.g}²)·${D}`);
  if (plan.identity) {
    for (let k = 0; k < gp.length; k++) gp[k] += go[k];
    return;
  }
  const { g, rows, cols } = plan;
  const ty = plan.y!;
  const tx = plan.x!;
  // ∂L/∂pos_embed[0] += ∂L/∂out[0]
  for (let c = 0; c < D; c++) gp[c] += go[c];
  // accumulate in float64 over all outputs, then add once (the sum does not depend on a batch)
  const acc = new Float64Array(g * g * D);
  for (let r = 0; r < rows; r++) {
    for (let q = 0; q < cols; q++) {
      const src = (1 + r * cols + q) * D;
      for (let i = 0; i < 4; i++) {
        const yi = ty.index[r * 4 + i];
        const wy = ty.weight[r * 4 + i];
        for (let j = 0; j < 4; j++) {
          // ∂L/∂in[y_i, x_j] += wy_i·wx_j·∂L/∂out[r, q]
          const w = wy * tx.weight[q * 4 + j];
          const dst = (yi * g + tx.index[q * 4 + j]) * D;
          for (let c = 0; c < D; c++) acc[dst + c] += w * go[src + c];
        }
      }
    }
  }
  for (let k = 0; k < g * g * D; k++) gp[D + k] += acc[k];
}

/** Convenience: allocates the resampled pos_embed [1, 1 + rows·cols, D] with `be` and fills it. */
export function interpolatePosEncodingAlloc(be: Backend, posEmbed: Tensor, plan: PosPlan, D: number): Tensor {
  const out = be.empty([1, 1 + plan.rows * plan.cols, D]);
  interpolatePosEncoding(out, posEmbed, plan, D);
  return out;
}
