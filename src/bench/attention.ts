// Benchmark cases for the attention kernel at ViT-S/16 shapes (B 64, H 6, N 197, Dh 64): forward and
// forward+backward, SIMD wasm on the whole batch, the TypeScript oracle on one batch entry.
// Inputs live in the arena and are prepared once; run() copies nothing.

import type { BenchCase } from "./types.js";
import { fillUniform } from "./fill.js";
import { arena } from "../kernels/arena.js";
import { wasmKernels } from "../kernels/wasm.js";
import { attentionBackwardRef, attentionForwardRef, type AttentionAbi } from "../kernels/attention.js";

/** The attention cases: "attention fwd|fwd+bwd BxHxNxDh", wasm-simd and ts. */
export function attentionBenchCases(B = 64, H = 6, N = 197, Dh = 64, tsBatch = 1): BenchCase[] {
  const shape = `${B}x${H}x${N}x${Dh}`;
  const scale = 1 / Math.sqrt(Dh);
  const nt = B * H * N * Dh;
  const na = B * H * N * N;
  // 2 flops per multiply-add; q·kᵀ and attn·v each B·H·N²·Dh multiply-adds; backward counted as 2× forward
  const fwdFlops = (b: number) => 4 * b * H * N * N * Dh;

  // wasm: every tensor in the arena (pointers only; views made after all allocations)
  const a = arena();
  const [q, k, v, out, gradOut, gradQ, gradK, gradV] = Array.from({ length: 8 }, () => a.allocF32(nt));
  const attn = a.allocF32(na);
  const kern = wasmKernels() as unknown as AttentionAbi;
  const workF = a.allocF32(kern.attentionForwardWorkFloats(N, Dh));
  const workB = a.allocF32(kern.attentionBackwardWorkFloats(N, Dh));
  [q, k, v, gradOut].forEach((p, i) => fillUniform(a.f32(p, nt), 17 + i));
  // layout 0: per-head tensors [B,H,N,Dh]; the backward accumulates (1)
  const wasmFwd = () => kern.attentionForward(out, attn, q, k, v, B, H, N, Dh, scale, workF, 0, N);
  const wasmBwd = () => kern.attentionBackward(gradQ, gradK, gradV, gradOut, q, k, v, attn, B, H, N, Dh, scale, workB, 0, 1, N);

  // ts oracle on the first tsBatch entries of the batch (its own plain arrays)
  const ntTs = tsBatch * H * N * Dh;
  const [tq, tk, tv, tout, tgo, tgq, tgk, tgv] = Array.from({ length: 8 }, () => new Float32Array(ntTs));
  const tattn = new Float32Array(tsBatch * H * N * N);
  [tq, tk, tv, tgo].forEach((x, i) => fillUniform(x, 17 + i));
  const tsFwd = () => attentionForwardRef(tout, tattn, tq, tk, tv, tsBatch, H, N, Dh, scale);
  const tsBwd = () => attentionBackwardRef(tgq, tgk, tgv, tgo, tq, tk, tv, tattn, tsBatch, H, N, Dh, scale);
  const tsNote = `ts oracle on ${tsBatch} of ${B} batch entries`;

  return [
    { name: `attention fwd ${shape}`, impl: "wasm-simd", flops: fwdFlops(B), run: wasmFwd },
    { name: `attention fwd+bwd ${shape}`, impl: "wasm-simd", flops: 3 * fwdFlops(B), run: () => (wasmFwd(), wasmBwd()) },
    { name: `attention fwd ${shape}`, impl: "ts", flops: fwdFlops(tsBatch), note: tsNote, run: tsFwd },
    { name: `attention fwd+bwd ${shape}`, impl: "ts", flops: 3 * fwdFlops(tsBatch), note: tsNote, run: () => (tsFwd(), tsBwd()) },
  ];
}
