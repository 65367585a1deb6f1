// The one kernel table: every kernel the model, the equations and the golden ops call, plus an
// allocator for the tensors they compute on. Three backends run the SAME code above this layer:
//   wasm  the SIMD wasm kernels on float32 tensors in wasm memory (training and inference; default)
//   ts32  the plain-TypeScript oracles on float32 arrays (DINO_REF_KERNELS=ts)
//   ts64  the oracles on float64 arrays (whole-model finite-difference checks)
// Only `wasmBackend` touches build/kernels.wasm, and only when one of its methods first runs: with
// DINO_REF_KERNELS=ts the compiled kernels are never loaded (test/kernelsOff.test.ts).
// Code above this layer reads a tensor's `data` at the call that uses it and never keeps a view.

import { DinoRefError } from "../tensor/errors.js";
import type { Bugs } from "../tensor/portingBugs.js";
import type { FloatArray } from "../tensor/floatArray.js";
import { numel, type Tensor as TensorOf } from "../tensor/named.js";
import { arena, zeroFill } from "./arena.js";
import { ArenaTensor } from "./arenaTensor.js";
import { softmaxForward, softmaxForwardRef, logSoftmaxForward, logSoftmaxForwardRef } from "./softmax.js";
import { adamwUpdate, adamwUpdateRef, type AdamWHyper } from "./adamw.js";
import { layerNormForward, layerNormForwardRef, layerNormBackward, layerNormBackwardRef } from "./layernorm.js";
import { geluForward, geluForwardRef, geluBackward, geluBackwardRef } from "./gelu.js";
import {
  attentionForward, attentionForwardRef, attentionBackward, attentionBackwardRef,
  attentionForwardRows, attentionForwardRowsRef, attentionBackwardRows, attentionBackwardRowsRef,
} from "./attention.js";
import { emaUpdate, emaUpdateRef } from "./ema.js";
import { l2Norm, l2NormRef, scaleInPlace, scaleInPlaceRef } from "./norms.js";
import {
  matmul, matmulRef, matmulBackward, matmulBackwardRef, matmulBiasGrad, matmulBiasGradRef, type MatmulLayout,
} from "./matmul.js";

/** A tensor a backend computes with: float32 (wasm, ts32) or float64 (ts64). */
export type Tensor = TensorOf<FloatArray>;

type F = FloatArray;

export type BackendName = "wasm" | "ts32" | "ts64";

export interface Backend {
  readonly name: BackendName;
  // ---- allocation ----
  /** A zero-filled tensor: in wasm memory for `wasm` (freed by `release`), an ordinary array otherwise. */
  alloc(shape: readonly number[]): Tensor;
  /** Like `alloc` without the zero fill (wasm): for outputs that a kernel writes whole before anything reads them. */
  empty(shape: readonly number[]): Tensor;
  /** Sets every element of x to 0. */
  zero(x: F): void;
  /** A position to free activations back to (a no-op on the TypeScript backends). */
  mark(): number;
  release(mark: number): void;
  // ---- kernels (src/kernels/<name>.ts: the fast one and its oracle, same contract) ----
  /** c = residual + (init + op(a)·op(b)) (src/kernels/matmul.ts); residual [M,N] or null, never overlapping c. */
  matmul(c: F, a: F, b: F, bias: F | null, M: number, K: number, N: number, layout: MatmulLayout, accumulate: boolean, residual?: F | null): void;
  matmulBackward(gradA: F | null, gradB: F | null, gradBias: F | null, gradC: F, a: F, b: F, M: number, K: number, N: number): void;
  matmulBiasGrad(gradBias: F, gradC: F, M: number, N: number): void;
  layerNormForward(y: F, mean: F, rstd: F, x: F, weight: F, bias: F, R: number, D: number, eps: number): void;
  layerNormBackward(gradX: F, gradWeight: F, gradBias: F, gradY: F, x: F, mean: F, rstd: F, weight: F, R: number, D: number): void;
  geluForward(y: F, x: F, n: number): void;
  geluBackward(gradX: F, gradY: F, x: F, n: number): void;
  attentionForward(out: F, attn: F, q: F, k: F, v: F, B: number, H: number, N: number, Dh: number, scale: number): void;
  attentionBackward(gradQ: F, gradK: F, gradV: F, gradOut: F, q: F, k: F, v: F, attn: F, B: number, H: number, N: number, Dh: number, scale: number): void;
  /**
   * Attention on the model's rows: qkv [B·N, 3D] → out [B·queries, D] (merged heads) for the first
   * `queries` (default N) tokens of each sample as queries; attn [B,H,queries,N] or null (not kept).
   */
  attentionForwardRows(out: F, attn: F | null, qkv: F, B: number, H: number, N: number, Dh: number, scale: number, queries?: number): void;
  /** Its backward: OVERWRITES gradQkv [B·N, 3D] from gradOut [B·queries, D]. */
  attentionBackwardRows(gradQkv: F, gradOut: F, qkv: F, attn: F, B: number, H: number, N: number, Dh: number, scale: number, queries?: number): void;
  softmaxForward(probs: F, logits: F, R: number, K: number, temperature: number): void;
  logSoftmaxForward(logProbs: F, logits: F, R: number, K: number, temperature: number): void;
  // float32 only: the optimizer state, the EMA and the clipping norms are float32 in every backend
  emaUpdate(teacher: Float32Array, student: Float32Array, momentum: number): void;
  adamwUpdate(param: Float32Array, grad: Float32Array, expAvg: Float32Array, expAvgSq: Float32Array, h: AdamWHyper): void;
  l2Norm(x: Float32Array): number;
  scaleInPlace(x: Float32Array, s: number): void;
}

// The wasm kernels take Float32Array; the wasm backend only ever allocates float32 tensors.
const f = (x: F) => x as Float32Array;
const fOrNull = (x: F | null) => x as Float32Array | null;

export const wasmBackend: Backend = {
  name: "wasm",
  alloc: (shape) => ArenaTensor.zeros("activation", shape),
  empty: (shape) => ArenaTensor.alloc("activation", shape),
  zero: (x) => zeroFill(f(x)),
  mark: () => arena().mark(),
  release: (m) => arena().release(m),
  matmul: (c, a, b, bias, M, K, N, layout, acc, resid) => matmul(f(c), f(a), f(b), fOrNull(bias), M, K, N, layout, acc, fOrNull(resid ?? null)),
  matmulBackward: (ga, gb, gbias, gc, a, b, M, K, N) => matmulBackward(fOrNull(ga), fOrNull(gb), fOrNull(gbias), f(gc), f(a), f(b), M, K, N),
  matmulBiasGrad: (g, c, M, N) => matmulBiasGrad(f(g), f(c), M, N),
  layerNormForward: (y, mean, rstd, x, w, b, R, D, eps) => layerNormForward(f(y), f(mean), f(rstd), f(x), f(w), f(b), R, D, eps),
  layerNormBackward: (gx, gw, gb, gy, x, mean, rstd, w, R, D) => layerNormBackward(f(gx), f(gw), f(gb), f(gy), f(x), f(mean), f(rstd), f(w), R, D),
  geluForward: (y, x, n) => geluForward(f(y), f(x), n),
  geluBackward: (gx, gy, x, n) => geluBackward(f(gx), f(gy), f(x), n),
  attentionForward: (out, attn, q, k, v, B, H, N, Dh, scale) => attentionForward(f(out), f(attn), f(q), f(k), f(v), B, H, N, Dh, scale),
  attentionBackward: (gq, gk, gv, go, q, k, v, attn, B, H, N, Dh, scale) =>
    attentionBackward(f(gq), f(gk), f(gv), f(go), f(q), f(k), f(v), f(attn), B, H, N, Dh, scale),
  attentionForwardRows: (out, attn, qkv, B, H, N, Dh, scale, nq) => attentionForwardRows(f(out), fOrNull(attn), f(qkv), B, H, N, Dh, scale, nq),
  attentionBackwardRows: (g, go, qkv, attn, B, H, N, Dh, scale, nq) => attentionBackwardRows(f(g), f(go), f(qkv), f(attn), B, H, N, Dh, scale, nq),
  softmaxForward: (p, x, R, K, t) => softmaxForward(f(p), f(x), R, K, t),
  logSoftmaxForward: (p, x, R, K, t) => logSoftmaxForward(f(p), f(x), R, K, t),
  emaUpdate,
  adamwUpdate,
  l2Norm,
  scaleInPlace,
};

function oracleBackend(name: "ts32" | "ts64", Type: Float32ArrayConstructor | Float64ArrayConstructor): Backend {
  return {
    name,
    alloc: (shape) => ({ shape: [...shape], data: new Type(numel(shape)) }),
    empty: (shape) => ({ shape: [...shape], data: new Type(numel(shape)) }),
    zero: (x) => x.fill(0),
    mark: () => 0,
    release: () => {},
    matmul: matmulRef,
    matmulBackward: matmulBackwardRef,
    matmulBiasGrad: matmulBiasGradRef,
    layerNormForward: layerNormForwardRef,
    layerNormBackward: layerNormBackwardRef,
    geluForward: geluForwardRef,
    geluBackward: geluBackwardRef,
    attentionForward: attentionForwardRef,
    attentionBackward: attentionBackwardRef,
    attentionForwardRows: attentionForwardRowsRef,
    attentionBackwardRows: attentionBackwardRowsRef,
    softmaxForward: softmaxForwardRef,
    logSoftmaxForward: logSoftmaxForwardRef,
    emaUpdate: emaUpdateRef,
    adamwUpdate: adamwUpdateRef,
    l2Norm: l2NormRef,
    scaleInPlace: scaleInPlaceRef,
  };
}

export const ts32Backend = oracleBackend("ts32", Float32Array);
export const ts64Backend = oracleBackend("ts64", Float64Array);

/**
 * The float32 oracles with known porting mistakes switched on (`dino-ref compare` recomputes a
 * failing case on it, one catalogue id at a time): each kernel that has a wrong variant gets `bugs`.
 */
export function ts32BackendWithBugs(bugs: Bugs): Backend {
  return {
    ...ts32Backend,
    layerNormForward: (y, mean, rstd, x, w, b, R, D, eps) => layerNormForwardRef(y, mean, rstd, x, w, b, R, D, eps, bugs),
    layerNormBackward: (gx, gw, gb, gy, x, mean, rstd, w, R, D) => layerNormBackwardRef(gx, gw, gb, gy, x, mean, rstd, w, R, D, bugs),
    geluForward: (y, x, n) => geluForwardRef(y, x, n, bugs),
    geluBackward: (gx, gy, x, n) => geluBackwardRef(gx, gy, x, n, bugs),
    attentionForward: (out, attn, q, k, v, B, H, N, Dh, scale) => attentionForwardRef(out, attn, q, k, v, B, H, N, Dh, scale, bugs),
    attentionBackward: (gq, gk, gv, go, q, k, v, attn, B, H, N, Dh, scale) => attentionBackwardRef(gq, gk, gv, go, q, k, v, attn, B, H, N, Dh, scale, bugs),
    attentionForwardRows: (out, attn, qkv, B, H, N, Dh, scale, nq) => attentionForwardRowsRef(out, attn, qkv, B, H, N, Dh, scale, nq, bugs),
    attentionBackwardRows: (g, go, qkv, attn, B, H, N, Dh, scale, nq) => attentionBackwardRowsRef(g, go, qkv, attn, B, H, N, Dh, scale, nq, bugs),
    softmaxForward: (p, x, R, K, t) => softmaxForwardRef(p, x, R, K, t, bugs),
    logSoftmaxForward: (p, x, R, K, t) => logSoftmaxForwardRef(p, x, R, K, t, bugs),
    adamwUpdate: (p, g, m, v, h) => adamwUpdateRef(p, g, m, v, h, bugs),
  };
}

/** The values DINO_REF_KERNELS takes. */
export const KERNEL_CHOICES = ["wasm", "ts"] as const;

/** The backend chosen by DINO_REF_KERNELS: `wasm` (the default, SIMD kernels) or `ts` (the float32 oracles). */
export function selectedBackend(choice: string | undefined = process.env.DINO_REF_KERNELS): Backend {
  if (choice === undefined || choice === "" || choice === "wasm") return wasmBackend;
  if (choice === "ts") return ts32Backend;
  throw new DinoRefError(`DINO_REF_KERNELS=${JSON.stringify(choice)}: expected "wasm" (the SIMD kernels, the default) or "ts" (the TypeScript oracles)`);
}
