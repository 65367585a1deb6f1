// The arithmetic cost of a ViT forward pass, counted from the shapes (for benchmarks' GFLOP/s and
// for comparing training recipes at equal compute).

import { headDim, hiddenDim, type VitConfig } from "./vitConfig.js";

/**
 * Floating-point operations of one forward: 2 per multiply-add of the matmuls (patch conv, qkv,
 * q·kᵀ, attn·v, proj, fc1, fc2); norms, softmax and GELU are not counted.
 */
export function vitForwardFlops(cfg: VitConfig, B: number, H: number, W: number): number {
  const p = cfg.patchSize;
  const n = Math.floor(H / p) * Math.floor(W / p);
  const N = 1 + n;
  const D = cfg.embedDim;
  const Dm = hiddenDim(cfg);
  const patch = n * D * cfg.inChans * p * p;
  // per block: qkv N·D·3D, q·kᵀ and attn·v H·N²·Dh each, proj N·D², fc1 and fc2 N·D·Dm each
  const block = N * D * 3 * D + 2 * cfg.numHeads * N * N * headDim(cfg) + N * D * D + 2 * N * D * Dm;
  return 2 * B * (patch + cfg.depth * block);
}
