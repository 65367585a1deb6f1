// Parameter initialisers of the official code (`vision_transformer.py VisionTransformer._init_weights`), drawn from counter-based streams: each
// tensor gets its own Rng(seed, STREAM.init, initKey(state_dict key)), so a tensor's initial values
// depend only on the seed and its full name, never on which other tensors were drawn before it.

import type { FloatArray } from "../tensor/floatArray.js";
import { erf64, erfc64 } from "../kernels/erf.js";
import { Rng, STREAM } from "../tensor/rng.js";

const SQRT2 = Math.SQRT2;
const SQRT1_2 = Math.SQRT1_2;
const TWO_OVER_SQRT_PI = 1.1283791670955126; // 2/√π

/**
 * The Rng key of a parameter, from its full state_dict key (e.g. "head.mlp.0.weight"): 48 bits
 * from two FNV-1a-style hashes of its UTF-16 code units (the high 32 bits FNV-1a proper), the same
 * scheme as the ViT's initKey, so backbone and head keys come from one function.
 */
export function initKey(fullName: string): number {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < fullName.length; i++) {
    const c = fullName.charCodeAt(i);
    // h ← (h xor c)·prime mod 2³², with two primes
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0;
  }
  return h1 * 65536 + (h2 & 0xffff);
}

/** The init stream of one parameter: Rng(seed, STREAM.init, initKey(fullName)). */
export function initRng(seed: number, fullName: string): Rng {
  return new Rng(seed, STREAM.init, initKey(fullName));
}

/** Standard normal CDF Φ(x) = ½·erfc(−x/√2). */
export function normalCdf(x: number): number {
  return 0.5 * erfc64(-x * SQRT1_2);
}

/**
 * erf⁻¹(y) in float64 for y in [−1, 1] (±Inf at ±1, NaN outside): Winitzki's closed form
 * (relative error ~2e-3) refined by two Halley steps on erf64 (cubic convergence: ~1e-8, then
 * float64 rounding).
 */
export function erfinv(y: number): number {
  if (!(y >= -1 && y <= 1)) return NaN;
  if (y === 1 || y === -1) return y * Infinity;
  if (y === 0) return y;
  // initial guess: erf⁻¹(y) ≈ sign(y)·√(√(t² − ln(1 − y²)/a) − t), t = 2/(πa) + ln(1 − y²)/2, a = 0.147
  const a = 0.147;
  const l = Math.log1p(-y * y);
  const t = 2 / (Math.PI * a) + l / 2;
  let x = Math.sign(y) * Math.sqrt(Math.sqrt(t * t - l / a) - t);
  for (let i = 0; i < 2; i++) {
    // Halley on f(x) = erf(x) − y with f′ = 2/√π·e^(−x²), f″ = −2x·f′: x ← x − f/(f′ + x·f)
    const f = erf64(x) - y;
    const d = TWO_OVER_SQRT_PI * Math.exp(-x * x);
    if (d === 0) break;
    x -= f / (d + x * f);
  }
  return x;
}

/**
 * A uniform number in [0, 1) with 24 random bits, one 32-bit draw: the resolution of PyTorch's
 * float32 uniform_, and half the Philox work of Rng.uniform (whose 53 bits a float32 weight cannot hold).
 */
export function uniform24(rng: Rng): number {
  return (rng.nextUint32() >>> 8) / 16777216;
}

/**
 * trunc_normal_(mean, std, a, b) as PyTorch computes it (`utils.py trunc_normal_`, a copy of PyTorch's), with our own random stream:
 * p ~ U(2Φ((a − mean)/std) − 1, 2Φ((b − mean)/std) − 1) (24-bit uniforms, see uniform24); value = erf⁻¹(p)·std·√2 + mean, clamped
 * to [a, b]. The bounds are absolute (DINO passes a = −2, b = 2, i.e. ±100σ for std 0.02).
 */
export function truncNormalFill(out: FloatArray, rng: Rng, std: number, mean = 0, a = -2, b = 2): void {
  const lo = 2 * normalCdf((a - mean) / std) - 1;
  const hi = 2 * normalCdf((b - mean) / std) - 1;
  for (let i = 0; i < out.length; i++) {
    // value = erf⁻¹(U(lo, hi))·std·√2 + mean, clamped to [a, b]
    const v = erfinv(lo + (hi - lo) * uniform24(rng)) * std * SQRT2 + mean;
    out[i] = Math.min(Math.max(v, a), b);
  }
}

/** U(lo, hi) elementwise with 24-bit uniforms (PyTorch's default Linear init is U(±1/√fan_in)). */
export function uniformFill(out: FloatArray, rng: Rng, lo: number, hi: number): void {
  // x = lo + (hi − lo)·U[0, 1)
  for (let i = 0; i < out.length; i++) out[i] = lo + (hi - lo) * uniform24(rng);
}
