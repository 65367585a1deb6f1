// Deterministic benchmark inputs: a small LCG, so runs are reproducible and comparable.

/** x[i] uniform in [lo, hi) from the LCG s ← 1664525·s + 1013904223 (mod 2^32) started at `seed`. */
export function fillUniform(x: Float32Array, seed: number, lo = -1, hi = 1): void {
  let s = seed >>> 0;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = lo + (hi - lo) * (s / 2 ** 32);
  }
}
