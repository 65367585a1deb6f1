// What the model code computes with: kernels plus an allocator for activations. Three backends
// run the SAME model code: `wasmBackend` (SIMD kernels, float32 tensors in wasm memory; training
// and inference), `ts32Backend` (the TypeScript oracles on float32 arrays) and `ts64Backend` (the
// oracles on float64 arrays, for whole-model finite-difference checks). Model code reads a
// tensor's `data` at the call that uses it and never keeps a view (see ArenaTensor).

import type { FloatArray } from "../kernels/floatArray.js";
import { arena } from "../kernels/arena.js";
import { ArenaTensor } from "../tensor/arenaTensor.js";
import { numel } from "../tensor/named.js";
import type { MatmulLayout } from "../kernels/matmul.js";
import { matmul, matmulRef, matmulBiasGrad, matmulBiasGradRef } from "../kernels/matmul.js";
import { layerNormForward, layerNormForwardRef, layerNormBackward, layerNormBackwardRef } from "../kernels/layernorm.js";
import { geluForward, geluForwardRef, geluBackward, geluBackwardRef } from "../kernels/gelu.js";
import { attentionForward, attentionForwardRef, attentionBackward, attentionBackwardRef } from "../kernels/attention.js";
import { softmaxForward, softmaxForwardRef } from "../kernels/softmax.js";

/** A tensor the model computes with: float32 (wasm, ts32) or float64 (ts64). */
export interface Tensor {
  readonly shape: readonly number[];
  readonly data: FloatArray;
}

type F = FloatArray;

export interface ModelBackend {
  readonly name: "wasm" | "ts32" | "ts64";
  /** A zero-filled tensor. In wasm memory for `wasm`, freed by `release`. */
  alloc(shape: readonly number[]): Tensor;
  /** A position to free activations back to (no-op on the TypeScript backends). */
  mark(): number;
  release(mark: number): void;
  matmul(c: F, a: F, b: F, bias: F | null, M: number, K: number, N: number, layout: MatmulLayout, accumulate: boolean): void;
  matmulBiasGrad(gradBias: F, gradC: F, M: number, N: number): void;
  layerNormForward(y: F, mean: F, rstd: F, x: F, weight: F, bias: F, R: number, D: number, eps: number): void;
  layerNormBackward(gradX: F, gradWeight: F, gradBias: F, gradY: F, x: F, mean: F, rstd: F, weight: F, R: number, D: number): void;
  geluForward(y: F, x: F, n: number): void;
  geluBackward(gradX: F, gradY: F, x: F, n: number): void;
  attentionForward(out: F, attn: F, q: F, k: F, v: F, B: number, H: number, N: number, Dh: number, scale: number): void;
  attentionBackward(gradQ: F, gradK: F, gradV: F, gradOut: F, q: F, k: F, v: F, attn: F, B: number, H: number, N: number, Dh: number, scale: number): void;
  softmaxForward(probs: F, logits: F, R: number, K: number, temperature: number): void;
}

// The wasm kernels take Float32Array; the wasm backend only ever allocates float32 tensors.
const f = (x: F) => x as Float32Array;
const fOrNull = (x: F | null) => x as Float32Array | null;

export const wasmBackend: ModelBackend = {
  name: "wasm",
  alloc: (shape) => ArenaTensor.zeros("activation", shape),
  mark: () => arena().mark(),
  release: (m) => arena().release(m),
  matmul: (c, a, b, bias, M, K, N, layout, acc) => matmul(f(c), f(a), f(b), fOrNull(bias), M, K, N, layout, acc),
  matmulBiasGrad: (g, c, M, N) => matmulBiasGrad(f(g), f(c), M, N),
  layerNormForward: (y, mean, rstd, x, w, b, R, D, eps) => layerNormForward(f(y), f(mean), f(rstd), f(x), f(w), f(b), R, D, eps),
  layerNormBackward: (gx, gw, gb, gy, x, mean, rstd, w, R, D) => layerNormBackward(f(gx), f(gw), f(gb), f(gy), f(x), f(mean), f(rstd), f(w), R, D),
  geluForward: (y, x, n) => geluForward(f(y), f(x), n),
  geluBackward: (gx, gy, x, n) => geluBackward(f(gx), f(gy), f(x), n),
  attentionForward: (out, attn, q, k, v, B, H, N, Dh, scale) => attentionForward(f(out), f(attn), f(q), f(k), f(v), B, H, N, Dh, scale),
  attentionBackward: (gq, gk, gv, go, q, k, v, attn, B, H, N, Dh, scale) =>
    attentionBackward(f(gq), f(gk), f(gv), f(go), f(q), f(k), f(v), f(attn), B, H, N, Dh, scale),
  softmaxForward: (p, x, R, K, t) => softmaxForward(f(p), f(x), R, K, t),
};

function oracleBackend(name: "ts32" | "ts64", Type: Float32ArrayConstructor | Float64ArrayConstructor): ModelBackend {
  return {
    name,
    alloc: (shape) => ({ shape: [...shape], data: new Type(numel(shape)) }),
    mark: () => 0,
    release: () => {},
    matmul: matmulRef,
    matmulBiasGrad: matmulBiasGradRef,
    layerNormForward: layerNormForwardRef,
    layerNormBackward: layerNormBackwardRef,
    geluForward: geluForwardRef,
    geluBackward: geluBackwardRef,
    attentionForward: attentionForwardRef,
    attentionBackward: attentionBackwardRef,
    softmaxForward: softmaxForwardRef,
  };
}

export const ts32Backend = oracleBackend("ts32", Float32Array);
export const ts64Backend = oracleBackend("ts64", Float64Array);
