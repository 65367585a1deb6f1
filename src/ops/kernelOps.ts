// Ops of the contract that are single kernels: softmax, matmul, layer_norm, gelu, attention.
// Each reads its inputs through OpArgs (shapes checked by name) and returns its outputs.

import type { StTensor } from "../io/safetensors.js";
import type { Kernels } from "../kernels/backend.js";
import { f32Out, type OpArgs } from "./args.js";

type Op = (args: OpArgs, kernels: Kernels) => Map<string, StTensor>;

/** softmax: probs = softmax(logits / temperature), log_probs = log_softmax(logits / temperature), rows of K. */
function softmaxOp(args: OpArgs, k: Kernels): Map<string, StTensor> {
  const logits = args.f32("logits", ["R", "K"]);
  const temperature = args.number("temperature", { positive: true });
  const [R, K] = [args.dim("R"), args.dim("K")];
  const probs = new Float32Array(R * K);
  const logProbs = new Float32Array(R * K);
  k.softmaxForward(probs, logits, R, K, temperature);
  k.logSoftmaxForward(logProbs, logits, R, K, temperature);
  return new Map([
    ["probs", f32Out([R, K], probs)],
    ["log_probs", f32Out([R, K], logProbs)],
  ]);
}

/** matmul: c = a·b; grad_a = grad_c·bᵀ; grad_b = aᵀ·grad_c. */
function matmulOp(args: OpArgs, k: Kernels): Map<string, StTensor> {
  const a = args.f32("a", ["M", "K"]);
  const b = args.f32("b", ["K", "N"]);
  const gradC = args.f32("grad_c", ["M", "N"]);
  const [M, K, N] = [args.dim("M"), args.dim("K"), args.dim("N")];
  const c = new Float32Array(M * N);
  const gradA = new Float32Array(M * K);
  const gradB = new Float32Array(K * N);
  k.matmul(c, a, b, null, M, K, N, "NN", false);
  k.matmulBackward(gradA, gradB, null, gradC, a, b, M, K, N);
  return new Map([
    ["c", f32Out([M, N], c)],
    ["grad_a", f32Out([M, K], gradA)],
    ["grad_b", f32Out([K, N], gradB)],
  ]);
}

export const kernelOps: [string, Op][] = [
  ["softmax", softmaxOp],
  ["matmul", matmulOp],
];
