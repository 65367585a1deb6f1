// PatchEmbed: the im2col matmul equals a direct strided convolution (dropping pixels beyond a
// multiple of p), and its backward matches float64 finite differences.
import { describe, expect, it } from "vitest";
import { patchEmbedBackward, patchEmbedForward } from "./patchEmbed.js";
import { ts64Backend, type Tensor } from "../kernels/backend.js";
import { Rng } from "../tensor/rng.js";

const be = ts64Backend;
const randT = (shape: number[], seed: number): Tensor => {
  const r = new Rng(seed, 98);
  return { shape, data: Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r.normal()) };
};

describe("patchEmbed", () => {
  const [B, C, H, W, p, D] = [2, 3, 9, 13, 4, 5]; // 2×3 patches; row 8 and columns 12 are dropped
  const images = randT([B, C, H, W], 1);
  const weight = randT([D, C, p, p], 2);
  const bias = randT([D], 3);
  const n = 6;
  const forward = () => {
    const tokens = be.alloc([B * n, D]);
    const cache = patchEmbedForward(be, tokens, images, weight, bias, B, C, H, W, p);
    return { tokens, cache };
  };

  it("equals a direct convolution with stride p, patches in row-major grid order", () => {
    const { tokens } = forward();
    for (let b = 0; b < B; b++) {
      for (let r = 0; r < 2; r++) {
        for (let c = 0; c < 3; c++) {
          for (let o = 0; o < D; o++) {
            let s = bias.data[o];
            for (let ch = 0; ch < C; ch++) {
              for (let ky = 0; ky < p; ky++) {
                for (let kx = 0; kx < p; kx++) s += weight.data[((o * C + ch) * p + ky) * p + kx] * images.data[((b * C + ch) * H + r * p + ky) * W + c * p + kx];
              }
            }
            expect(tokens.data[(b * n + r * 3 + c) * D + o]).toBeCloseTo(s, 12);
          }
        }
      }
    }
  });

  it("backward matches central finite differences for weight, bias and images (float64)", () => {
    const gradTokens = randT([B * n, D], 4);
    const loss = () => {
      const { tokens } = forward();
      let s = 0;
      for (let i = 0; i < tokens.data.length; i++) s += tokens.data[i] * gradTokens.data[i];
      return s;
    };
    const { cache } = forward();
    const gW = be.alloc([D, C, p, p]);
    const gB = be.alloc([D]);
    const gI = be.alloc([B, C, H, W]);
    patchEmbedBackward(be, gW, gB, gI, gradTokens, weight, cache);
    for (const [x, g] of [[weight, gW], [bias, gB], [images, gI]] as const) {
      for (let i = 0; i < x.data.length; i++) {
        const v = x.data[i];
        const h = 1e-5;
        x.data[i] = v + h;
        const lp = loss();
        x.data[i] = v - h;
        const lm = loss();
        x.data[i] = v;
        expect(Math.abs((lp - lm) / (2 * h) - g.data[i])).toBeLessThan(1e-8);
      }
    }
    // dropped pixels get no gradient
    for (let b = 0; b < B; b++) for (let ch = 0; ch < C; ch++) for (let x = 0; x < W; x++) expect(gI.data[((b * C + ch) * H + 8) * W + x]).toBe(0);
  });
});
