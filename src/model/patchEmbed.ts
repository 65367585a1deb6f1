// PatchEmbed: Conv2d(C, D, kernel p, stride p) as a matmul over patches. im2col gathers each p×p
// patch into a row [C·p·p] (column order c, ky, kx = the weight's [D, C, p, p] layout), then
// tokens [B·n, D] = cols·Wᵀ + b. Pixels beyond a multiple of p are dropped, as by the conv.
// Patch index = row·cols + col (row-major over the grid). Backward beside the forward.

import type { Backend, Tensor } from "../kernels/backend.js";
import { linearBackward, linearForward } from "./linear.js";
import { check } from "../tensor/errors.js";

/** Grid of one image: rows = H // p, cols = W // p, n = rows·cols patches. */
export interface PatchGrid {
  readonly rows: number;
  readonly cols: number;
  readonly n: number;
}

/** The patch grid of an H×W image (checks that at least one patch fits). */
export function patchGrid(H: number, W: number, p: number): PatchGrid {
  check(H >= p && W >= p, () => `image ${H}×${W} px is smaller than one ${p}×${p} patch`);
  const rows = Math.floor(H / p);
  const cols = Math.floor(W / p);
  return { rows, cols, n: rows * cols };
}

/** What the backward needs: the im2col matrix [B·n, C·p·p]. */
export interface PatchEmbedCache {
  readonly cols: Tensor;
  readonly B: number;
  readonly C: number;
  readonly H: number;
  readonly W: number;
  readonly p: number;
  readonly grid: PatchGrid;
}

/** im2col: cols[(b·n + r·gc + c), (ch·p + ky)·p + kx] = images[b, ch, r·p + ky, c·p + kx]. */
function im2col(colsOut: Tensor, images: Tensor, B: number, C: number, H: number, W: number, p: number, g: PatchGrid): void {
  const out = colsOut.data;
  const img = images.data;
  const K = C * p * p;
  for (let b = 0; b < B; b++) {
    for (let r = 0; r < g.rows; r++) {
      for (let c = 0; c < g.cols; c++) {
        const row = (b * g.n + r * g.cols + c) * K;
        for (let ch = 0; ch < C; ch++) {
          for (let ky = 0; ky < p; ky++) {
            const src = ((b * C + ch) * H + r * p + ky) * W + c * p;
            const dst = row + (ch * p + ky) * p;
            for (let kx = 0; kx < p; kx++) out[dst + kx] = img[src + kx];
          }
        }
      }
    }
  }
}

/** col2im for stride = kernel (patches do not overlap): gradImages[b, ch, y, x] += gradCols[...]. */
function col2imAdd(gradImages: Tensor, gradCols: Tensor, B: number, C: number, H: number, W: number, p: number, g: PatchGrid): void {
  const gi = gradImages.data;
  const gc = gradCols.data;
  const K = C * p * p;
  for (let b = 0; b < B; b++) {
    for (let r = 0; r < g.rows; r++) {
      for (let c = 0; c < g.cols; c++) {
        const row = (b * g.n + r * g.cols + c) * K;
        for (let ch = 0; ch < C; ch++) {
          for (let ky = 0; ky < p; ky++) {
            const dst = ((b * C + ch) * H + r * p + ky) * W + c * p;
            const src = row + (ch * p + ky) * p;
            for (let kx = 0; kx < p; kx++) gi[dst + kx] += gc[src + kx];
          }
        }
      }
    }
  }
}

/**
 * tokens [B·n, D] = conv(images [B, C, H, W]) flattened row-major over the grid.
 * weight [D, C, p, p], bias [D]. Allocates the im2col matrix (kept in the cache).
 */
export function patchEmbedForward(
  be: Backend, tokens: Tensor, images: Tensor, weight: Tensor, bias: Tensor, B: number, C: number, H: number, W: number, p: number,
): PatchEmbedCache {
  const grid = patchGrid(H, W, p);
  const D = weight.shape[0];
  const K = C * p * p;
  const cols = be.empty([B * grid.n, K]);
  im2col(cols, images, B, C, H, W, p, grid);
  // tokens = cols·Wᵀ + b  (W viewed as [D, C·p·p])
  linearForward(be, tokens, cols, weight, bias, B * grid.n, K, D);
  return { cols, B, C, H, W, p, grid };
}

/**
 * Accumulates gradWeight [D, C, p, p] += gradTokensᵀ·cols, gradBias [D] += Σ_rows gradTokens and,
 * when gradImages [B, C, H, W] is given, gradImages += col2im(gradTokens·W) (0 for dropped pixels).
 */
export function patchEmbedBackward(
  be: Backend, gradWeight: Tensor | null, gradBias: Tensor | null, gradImages: Tensor | null, gradTokens: Tensor, weight: Tensor, cache: PatchEmbedCache,
): void {
  const { B, C, H, W, p, grid } = cache;
  const D = weight.shape[0];
  const K = C * p * p;
  const R = B * grid.n;
  linearBackward(be, null, gradWeight, gradBias, gradTokens, cache.cols, weight, R, K, D);
  if (gradImages === null) return;
  const gradCols = be.empty([R, K]);
  // ∂L/∂cols = ∂L/∂tokens·W (written)
  linearBackward(be, gradCols, null, null, gradTokens, cache.cols, weight, R, K, D, false);
  col2imAdd(gradImages, gradCols, B, C, H, W, p, grid);
}
