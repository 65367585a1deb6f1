// The copy-detection descriptor of the official eval_copy_detection.py (extract_features): the
// last block's tokens after the final norm, the CLS token concatenated with the generalised-mean
// (GeM, Radenović et al. 2018) pooling of the patch tokens with exponent p = 4:
//   gem_d = ( mean_j clamp(x_jd, 1e−6)^p )^(1/p)          per channel d over the n patch tokens j
//   descriptor = [cls_1..cls_D, gem_1..gem_D]               [2D]
// p = 1 is average pooling of the clamped tokens; p → ∞ approaches max pooling.

import { check } from "../tensor/errors.js";

/** The official GeM exponent. */
export const GEM_P = 4;

/** Descriptors [B, 2D] from tokens [B, 1 + n, D] (CLS first): the CLS token, then GeM of the n patch tokens. */
export function gemDescriptors(tokens: Float32Array, B: number, N: number, D: number, p = GEM_P): Float32Array {
  check(tokens.length === B * N * D, () => `GeM: ${tokens.length} token values; expected [B, 1 + n, D] = [${B}, ${N}, ${D}]`);
  check(N >= 2, () => `GeM: ${N} tokens per image; expected the CLS token and at least one patch token`);
  check(p > 0 && Number.isFinite(p), () => `GeM: exponent p = ${p}; expected a number > 0`);
  const out = new Float32Array(B * 2 * D);
  for (let b = 0; b < B; b++) {
    const base = b * N * D;
    out.set(tokens.subarray(base, base + D), b * 2 * D);
    for (let d = 0; d < D; d++) {
      let s = 0;
      // Σ_j clamp(x_jd, 1e−6)^p over the patch tokens
      for (let j = 1; j < N; j++) s += Math.max(tokens[base + j * D + d], 1e-6) ** p;
      // (mean)^(1/p)
      out[b * 2 * D + D + d] = (s / (N - 1)) ** (1 / p);
    }
  }
  return out;
}
