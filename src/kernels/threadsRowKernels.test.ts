// Attention (per-head and row layouts), GELU, LayerNorm and the bias gradient on several threads
// give the single-thread result bit for bit: (batch, head) slabs, elements, rows and columns are
// computed on their own, so the split cannot change a number.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { attentionForward, attentionBackward, attentionForwardRows, attentionBackwardRows } from "./attention.js";
import { geluForward, geluBackward } from "./gelu.js";
import { layerNormForward, layerNormBackward } from "./layernorm.js";
import { matmulBiasGrad } from "./matmul.js";
import { withThreadSettings } from "./threads.js";
import { awkwardSize, bitEqual, seededFloats } from "../../test/arbitraries.js";

/** Runs `fn` with `threads` threads splitting every call (minWork 0); threads < 0: only the workers compute. */
function on<T>(threads: number, fn: () => T): T {
  return withThreadSettings({ threads: Math.abs(threads), minWork: 0, callerWorks: threads > 0 }, fn);
}

function attention(threads: number, B: number, H: number, N: number, Dh: number, seed: number): Float32Array[] {
  const n = B * H * N * Dh;
  const [q, k, v, gradOut] = [0, 1, 2, 3].map((i) => seededFloats(n, seed + i));
  const out = new Float32Array(n), attn = new Float32Array(B * H * N * N);
  // accumulating gradients start from non-zero values
  const [gq, gk, gv] = [4, 5, 6].map((i) => seededFloats(n, seed + i));
  const scale = 1 / Math.sqrt(Dh);
  on(threads, () => {
    attentionForward(out, attn, q, k, v, B, H, N, Dh, scale);
    attentionBackward(gq, gk, gv, gradOut, q, k, v, attn, B, H, N, Dh, scale);
  });
  return [out, attn, gq, gk, gv];
}

/** The row-layout kernels (qkv [B·N, 3D] in, merged heads out; the backward overwrites gradQkv), NQ query tokens per sample. */
function attentionRows(threads: number, B: number, H: number, N: number, Dh: number, seed: number, NQ = N): Float32Array[] {
  const D = H * Dh;
  const qkv = seededFloats(B * N * 3 * D, seed), gradOut = seededFloats(B * NQ * D, seed + 1);
  const out = new Float32Array(B * NQ * D), attn = new Float32Array(B * H * NQ * N), gradQkv = seededFloats(B * N * 3 * D, seed + 2);
  const scale = 1 / Math.sqrt(Dh);
  on(threads, () => {
    attentionForwardRows(out, attn, qkv, B, H, N, Dh, scale, NQ);
    attentionBackwardRows(gradQkv, gradOut, qkv, attn, B, H, N, Dh, scale, NQ);
  });
  return [out, attn, gradQkv];
}

function gelu(threads: number, n: number, seed: number): Float32Array[] {
  const x = seededFloats(n, seed), gy = seededFloats(n, seed + 1);
  const y = new Float32Array(n), gx = seededFloats(n, seed + 2);
  on(threads, () => {
    geluForward(y, x, n);
    geluBackward(gx, gy, x, n);
  });
  return [y, gx];
}

/** LayerNorm forward and backward (∂x by rows, ∂weight and ∂bias by columns), accumulating onto non-zero gradients. */
function layerNorm(threads: number, R: number, D: number, seed: number): Float32Array[] {
  const x = seededFloats(R * D, seed), w = seededFloats(D, seed + 1), b = seededFloats(D, seed + 2), gy = seededFloats(R * D, seed + 3);
  const y = new Float32Array(R * D), mean = new Float32Array(R), rstd = new Float32Array(R);
  const gx = seededFloats(R * D, seed + 4), gw = seededFloats(D, seed + 5), gb = seededFloats(D, seed + 6), gBias = seededFloats(D, seed + 7);
  on(threads, () => {
    layerNormForward(y, mean, rstd, x, w, b, R, D, 1e-6);
    layerNormBackward(gx, gw, gb, gy, x, mean, rstd, w, R, D);
    matmulBiasGrad(gBias, gy, R, D);
  });
  return [y, mean, rstd, gx, gw, gb, gBias];
}

describe("threaded attention and GELU", () => {
  it("attention forward and backward: any thread count gives the one-thread bits", () => {
    fc.assert(
      fc.property(awkwardSize(4), awkwardSize(5), awkwardSize(23), awkwardSize(13), fc.constantFrom(2, 3, -2), fc.nat(1000),
        (B, H, N, Dh, threads, seed) => {
          const one = attention(1, B, H, N, Dh, seed);
          const many = attention(threads, B, H, N, Dh, seed);
          one.forEach((t, i) => expect(bitEqual(t, many[i]), `tensor ${i} B${B} H${H} N${N} Dh${Dh} T=${threads}`).toBe(true));
        }),
      { numRuns: 40 },
    );
  });

  it("attention on the model's rows, forward and backward: any thread count gives the one-thread bits", () => {
    fc.assert(
      fc.property(awkwardSize(4), awkwardSize(5), awkwardSize(23), awkwardSize(13), fc.constantFrom(2, 3, -2), fc.nat(1000), fc.boolean(),
        (B, H, N, Dh, threads, seed, clsOnly) => {
          // every token a query, or the CLS token only (the last block)
          const NQ = clsOnly ? 1 : N;
          const one = attentionRows(1, B, H, N, Dh, seed, NQ);
          const many = attentionRows(threads, B, H, N, Dh, seed, NQ);
          one.forEach((t, i) => expect(bitEqual(t, many[i]), `tensor ${i} B${B} H${H} N${N} Dh${Dh} T=${threads}`).toBe(true));
        }),
      { numRuns: 30 },
    );
  });

  it("GELU forward and backward: any thread count and length (not a multiple of 4) gives the one-thread bits", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.constantFrom(2, 3, -2), fc.nat(1000), (n, threads, seed) => {
        const one = gelu(1, n, seed);
        const many = gelu(threads, n, seed);
        one.forEach((t, i) => expect(bitEqual(t, many[i]), `tensor ${i} n=${n} T=${threads}`).toBe(true));
      }),
      { numRuns: 40 },
    );
  });

  it("LayerNorm forward and backward and the bias gradient: any thread count and shape gives the one-thread bits", () => {
    fc.assert(
      fc.property(awkwardSize(70), awkwardSize(45), fc.constantFrom(2, 3, -2), fc.nat(1000), (R, D, threads, seed) => {
        const one = layerNorm(1, R, D, seed);
        const many = layerNorm(threads, R, D, seed);
        one.forEach((t, i) => expect(bitEqual(t, many[i]), `tensor ${i} R${R} D${D} T=${threads}`).toBe(true));
      }),
      { numRuns: 40 },
    );
    layerNorm(1, 6400, 64, 3).forEach((t, i) => expect(bitEqual(t, layerNorm(2, 6400, 64, 3)[i])).toBe(true));
  });

  it("a ViT-sized GELU (more than one maximal chunk) and attention (64×4 slabs of 50 tokens)", () => {
    const n = 64 * 50 * 256 + 3;
    gelu(1, n, 7).forEach((t, i) => expect(bitEqual(t, gelu(2, n, 7)[i])).toBe(true));
    attention(1, 64, 4, 50, 16, 9).forEach((t, i) => expect(bitEqual(t, attention(2, 64, 4, 50, 16, 9)[i])).toBe(true));
    attentionRows(1, 64, 4, 50, 16, 9).forEach((t, i) => expect(bitEqual(t, attentionRows(2, 64, 4, 50, 16, 9)[i])).toBe(true));
  });
});
