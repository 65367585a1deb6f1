// Ops of the contract that are single kernels: softmax, matmul, layer_norm, gelu, attention.
// Each reads its inputs through OpArgs (shapes checked by name) and returns its outputs.

import type { StTensor } from "../io/safetensors.js";
import type { Backend } from "../kernels/backend.js";
import type { OpImpl } from "./opImpl.js";
import { f32Out, type OpArgs } from "./args.js";

type Op = OpImpl;

/** softmax: probs = softmax(logits / temperature), log_probs = log_softmax(logits / temperature), rows of K. */
function softmaxOp(args: OpArgs, be: Backend): Map<string, StTensor> {
  const logits = args.f32("logits", ["R", "K"]);
  const temperature = args.number("temperature", { positive: true });
  const [R, K] = [args.dim("R"), args.dim("K")];
  const probs = new Float32Array(R * K);
  const logProbs = new Float32Array(R * K);
  be.softmaxForward(probs, logits, R, K, temperature);
  be.logSoftmaxForward(logProbs, logits, R, K, temperature);
  return new Map([
    ["probs", f32Out([R, K], probs)],
    ["log_probs", f32Out([R, K], logProbs)],
  ]);
}

/** matmul: c = a·b; grad_a = grad_c·bᵀ; grad_b = aᵀ·grad_c. */
function matmulOp(args: OpArgs, be: Backend): Map<string, StTensor> {
  const a = args.f32("a", ["M", "K"]);
  const b = args.f32("b", ["K", "N"]);
  const gradC = args.f32("grad_c", ["M", "N"]);
  const [M, K, N] = [args.dim("M"), args.dim("K"), args.dim("N")];
  args.budget(4 * (M * N + M * K + K * N), `c [${M}, ${N}] and the gradients`);
  const c = new Float32Array(M * N);
  const gradA = new Float32Array(M * K);
  const gradB = new Float32Array(K * N);
  be.matmul(c, a, b, null, M, K, N, "NN", false);
  be.matmulBackward(gradA, gradB, null, gradC, a, b, M, K, N);
  return new Map([
    ["c", f32Out([M, N], c)],
    ["grad_a", f32Out([M, K], gradA)],
    ["grad_b", f32Out([K, N], gradB)],
  ]);
}

/** layer_norm: y = (x − mean)/sqrt(var + eps)·weight + bias over rows of D, and its gradients. */
function layerNormOp(args: OpArgs, be: Backend): Map<string, StTensor> {
  const x = args.f32("x", ["R", "D"]);
  const weight = args.f32("weight", ["D"]);
  const bias = args.f32("bias", ["D"]);
  const gradY = args.f32("grad_y", ["R", "D"]);
  const eps = args.number("eps", { positive: true });
  const [R, D] = [args.dim("R"), args.dim("D")];
  const y = new Float32Array(R * D);
  const mean = new Float32Array(R);
  const rstd = new Float32Array(R);
  const gradX = new Float32Array(R * D);
  const gradWeight = new Float32Array(D);
  const gradBias = new Float32Array(D);
  be.layerNormForward(y, mean, rstd, x, weight, bias, R, D, eps);
  be.layerNormBackward(gradX, gradWeight, gradBias, gradY, x, mean, rstd, weight, R, D);
  return new Map([
    ["y", f32Out([R, D], y)],
    ["grad_x", f32Out([R, D], gradX)],
    ["grad_weight", f32Out([D], gradWeight)],
    ["grad_bias", f32Out([D], gradBias)],
  ]);
}

/** gelu: y = x·Φ(x) (exact, erf form) elementwise, any shape; grad_x = grad_y·(Φ(x) + x·φ(x)). */
function geluOp(args: OpArgs, be: Backend): Map<string, StTensor> {
  const xt = args.input("x", "F32");
  const x = xt.data as Float32Array;
  const gradY = args.f32("grad_y", xt.shape);
  const y = new Float32Array(x.length);
  const gradX = new Float32Array(x.length);
  be.geluForward(y, x, x.length);
  be.geluBackward(gradX, gradY, x, x.length);
  return new Map([
    ["y", f32Out(xt.shape, y)],
    ["grad_x", f32Out(xt.shape, gradX)],
  ]);
}

/** attention: attn = softmax(q·kᵀ·scale), out = attn·v per (batch, head), and the gradients of q, k, v. */
function attentionOp(args: OpArgs, be: Backend): Map<string, StTensor> {
  const dims = ["B", "H", "N", "Dh"];
  const q = args.f32("q", dims);
  const kk = args.f32("k", dims);
  const v = args.f32("v", dims);
  const gradOut = args.f32("grad_out", dims);
  const scale = args.number("scale");
  const [B, H, N, Dh] = dims.map((d) => args.dim(d));
  // the weights attn [B, H, N, N] (N² per head), and the outputs and gradients [B, H, N, Dh]
  args.budget(4 * (B * H * N * N + 4 * B * H * N * Dh), `the attention weights [${B}, ${H}, ${N}, ${N}]`);
  const out = new Float32Array(B * H * N * Dh);
  const attn = new Float32Array(B * H * N * N);
  const gradQ = new Float32Array(q.length);
  const gradK = new Float32Array(q.length);
  const gradV = new Float32Array(q.length);
  be.attentionForward(out, attn, q, kk, v, B, H, N, Dh, scale);
  be.attentionBackward(gradQ, gradK, gradV, gradOut, q, kk, v, attn, B, H, N, Dh, scale);
  const shape = [B, H, N, Dh];
  return new Map([
    ["out", f32Out(shape, out)],
    ["attn", f32Out([B, H, N, N], attn)],
    ["grad_q", f32Out(shape, gradQ)],
    ["grad_k", f32Out(shape, gradK)],
    ["grad_v", f32Out(shape, gradV)],
  ]);
}

export const kernelOps: [string, Op][] = [
  ["softmax", softmaxOp],
  ["matmul", matmulOp],
  ["layer_norm", layerNormOp],
  ["gelu", geluOp],
  ["attention", attentionOp],
];
