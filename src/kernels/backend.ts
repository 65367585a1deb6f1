// The two implementations of every kernel behind one interface: the SIMD wasm kernels (default)
// and the plain-TypeScript oracles. DINO_REF_KERNELS=ts switches the op registry to the oracles,
// so both can be checked against the same golden cases.

import { DinoRefError } from "../tensor/errors.js";
import { softmaxForward, softmaxForwardRef, logSoftmaxForward, logSoftmaxForwardRef } from "./softmax.js";
import { adamwUpdate, adamwUpdateRef, type AdamWHyper } from "./adamw.js";
import { layerNormForward, layerNormForwardRef, layerNormBackward, layerNormBackwardRef } from "./layernorm.js";
import { geluForward, geluForwardRef, geluBackward, geluBackwardRef } from "./gelu.js";
import { attentionForward, attentionForwardRef, attentionBackward, attentionBackwardRef } from "./attention.js";
import { emaUpdate, emaUpdateRef } from "./ema.js";
import { matmul, matmulRef, matmulBackward, matmulBackwardRef, type MatmulLayout } from "./matmul.js";

export interface Kernels {
  name: "wasm" | "ts";
  softmaxForward(probs: Float32Array, logits: Float32Array, R: number, K: number, temperature: number): void;
  logSoftmaxForward(logProbs: Float32Array, logits: Float32Array, R: number, K: number, temperature: number): void;
  emaUpdate(teacher: Float32Array, student: Float32Array, momentum: number): void;
  matmul(c: Float32Array, a: Float32Array, b: Float32Array, bias: Float32Array | null, M: number, K: number, N: number, layout: MatmulLayout, accumulate: boolean): void;
  matmulBackward(gradA: Float32Array | null, gradB: Float32Array | null, gradBias: Float32Array | null, gradC: Float32Array, a: Float32Array, b: Float32Array, M: number, K: number, N: number): void;
  adamwUpdate(param: Float32Array, grad: Float32Array, expAvg: Float32Array, expAvgSq: Float32Array, h: AdamWHyper): void;
  layerNormForward(y: Float32Array, mean: Float32Array, rstd: Float32Array, x: Float32Array, weight: Float32Array, bias: Float32Array, R: number, D: number, eps: number): void;
  layerNormBackward(gradX: Float32Array, gradWeight: Float32Array, gradBias: Float32Array, gradY: Float32Array, x: Float32Array, mean: Float32Array, rstd: Float32Array, weight: Float32Array, R: number, D: number): void;
  geluForward(y: Float32Array, x: Float32Array, n: number): void;
  geluBackward(gradX: Float32Array, gradY: Float32Array, x: Float32Array, n: number): void;
  attentionForward(out: Float32Array, attn: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, B: number, H: number, N: number, Dh: number, scale: number): void;
  attentionBackward(gradQ: Float32Array, gradK: Float32Array, gradV: Float32Array, gradOut: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, attn: Float32Array, B: number, H: number, N: number, Dh: number, scale: number): void;
}

export const wasmKernelSet: Kernels = {
  name: "wasm",
  softmaxForward,
  logSoftmaxForward,
  emaUpdate,
  matmul,
  matmulBackward,
  adamwUpdate,
  layerNormForward,
  layerNormBackward,
  geluForward,
  geluBackward,
  attentionForward,
  attentionBackward,
};

export const tsKernelSet: Kernels = {
  name: "ts",
  softmaxForward: softmaxForwardRef,
  logSoftmaxForward: logSoftmaxForwardRef,
  emaUpdate: emaUpdateRef,
  matmul: matmulRef,
  matmulBackward: matmulBackwardRef,
  adamwUpdate: adamwUpdateRef,
  layerNormForward: layerNormForwardRef,
  layerNormBackward: layerNormBackwardRef,
  geluForward: geluForwardRef,
  geluBackward: geluBackwardRef,
  attentionForward: attentionForwardRef,
  attentionBackward: attentionBackwardRef,
};

/** The kernels chosen by DINO_REF_KERNELS (`wasm`, the default, or `ts`). */
export function selectedKernels(): Kernels {
  const choice = process.env.DINO_REF_KERNELS ?? "wasm";
  if (choice === "wasm") return wasmKernelSet;
  if (choice === "ts") return tsKernelSet;
  throw new DinoRefError(`DINO_REF_KERNELS=${choice}: expected "wasm" or "ts"`);
}
