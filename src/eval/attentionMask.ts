// The attention mask of the paper's Fig. 4 (official visualize_attention.py): for each head, keep
// the smallest set of patches that holds `threshold` of the CLS token's attention mass (0.6 in the
// paper). Sort ascending, renormalise, cumulative sum, keep where it exceeds 1 − threshold.

import { check } from "../tensor/errors.js";

/** mask [H, N] (1 = kept) from the CLS attention rows attn [H, N] (CLS column already dropped). */
export function attentionMask(attn: Float32Array, H: number, N: number, threshold: number): Uint8Array {
  check(attn.length === H * N, () => `attentionMask: attn has ${attn.length} values; expected [H, N] = [${H}, ${N}]`);
  check(threshold >= 0 && threshold <= 1, () => `attentionMask: threshold ${threshold}; expected a share of the mass in [0, 1]`);
  const mask = new Uint8Array(H * N);
  const cut = Math.fround(1 - threshold);
  for (let h = 0; h < H; h++) {
    const row = attn.subarray(h * N, (h + 1) * N);
    // ascending order of attention (stable for ties)
    const order = Array.from(row.keys()).sort((a, b) => row[a] - row[b] || a - b);
    let sum = 0;
    for (const i of order) sum += row[i];
    const total = Math.fround(sum);
    let cumulative = 0;
    for (const i of order) {
      // cumsum of the renormalised sorted values, accumulated in float64 and stored as float32 (as torch.cumsum)
      cumulative += Math.fround(row[i] / total);
      // keep where cumsum > 1 − threshold
      if (Math.fround(cumulative) > cut) mask[h * N + i] = 1;
    }
  }
  return mask;
}
