// exp and log in float64, written once here and once, operation for operation, in assembly/exp.ts
// (exp64, and exp64x2 on both lanes of an f64x2) and assembly/log.ts (log64), so the oracles of
// GELU, softmax and log-softmax and their wasm kernels take the same exp and log bit for bit.
// Math.exp / Math.log are not used: V8's and AssemblyScript's (a musl port) differ in the last
// bit now and then, and engines may change theirs. Method: fdlibm's (Sun Microsystems, 1993) range
// reductions and rational/polynomial approximations; both within 1 ulp.

import { withScratch } from "./arena.js";
import { wasmKernels } from "./wasm.js";

// --- bit access to float64 (little-endian, as on every platform Node runs on) ---
const f64Buf = new Float64Array(1);
const u32Buf = new Uint32Array(f64Buf.buffer);

/** 2^k as a float64, for integer k in [-1022, 1023]. */
function pow2(k: number): number {
  u32Buf[0] = 0;
  u32Buf[1] = (k + 1023) << 20;
  return f64Buf[0];
}

// --- exp ---
const LN2_HI = 6.93147180369123816490e-1; // high 32 bits of ln 2 (k·LN2_HI is exact for |k| < 2^11)
const LN2_LO = 1.90821492927058770002e-10; // ln 2 − LN2_HI
const INV_LN2 = 1.44269504088896338700e0;
const P1 = 1.66666666666666019037e-1;
const P2 = -2.77777777770155933842e-3;
const P3 = 6.61375632143793436117e-5;
const P4 = -1.65339022054652515390e-6;
const P5 = 4.13813679705723846039e-8;
const EXP_OVERFLOW = 7.09782712893383973096e2; // above: +Inf
const EXP_UNDERFLOW = -7.45133219101941108420e2; // below: +0

/** e^x in float64, about 1 ulp. NaN → NaN, +Inf → +Inf, −Inf → 0. */
export function exp64(x: number): number {
  if (x !== x) return x;
  if (x > EXP_OVERFLOW) return Infinity;
  if (x < EXP_UNDERFLOW) return 0;
  // x = k·ln2 + r with |r| ≤ ln2/2; r = hi − lo carried in two parts
  const k = Math.floor(x * INV_LN2 + 0.5);
  const hi = x - k * LN2_HI;
  const lo = k * LN2_LO;
  const r = hi - lo;
  // e^r = 1 + 2r/(2 − R(r²)) with R a minimax polynomial; c = r − r²·P(r²)
  const t = r * r;
  const c = r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
  const y = 1 - (lo - (r * c) / (2 - c) - hi);
  // e^x = y·2^k, scaled in two exact-or-once-rounded steps so subnormal results round once
  const k1 = k >> 1;
  return y * pow2(k1) * pow2(k - k1);
}

// --- log ---
const TWO54 = 1.8014398509481984e16; // 2^54: lifts a subnormal x into the normal range
const MIN_NORMAL = 2.2250738585072014e-308;
const LG1 = 6.666666666666735130e-1;
const LG2 = 3.999999999940941908e-1;
const LG3 = 2.857142874366239149e-1;
const LG4 = 2.222219843214978396e-1;
const LG5 = 1.818357216161805012e-1;
const LG6 = 1.531383769920937332e-1;
const LG7 = 1.479819860511658591e-1;
const SQRT2_MANT = 0x6a09e; // high 20 mantissa bits of √2

/**
 * ln x in float64, within 1 ulp. ln(±0) = −Inf, ln(x < 0) = NaN, ln(+Inf) = +Inf, ln(NaN) = NaN.
 * x = 2^k·m with m in [√2/2, √2), f = m − 1, s = f/(2 + f): ln(1 + f) = 2·atanh(s)
 * = f − f²/2 + s·(f²/2 + R(s²)), R a minimax polynomial; ln 2 in two parts so k·ln2_hi is exact.
 */
export function log64(x: number): number {
  if (!(x > 0)) return x === 0 ? -Infinity : NaN;
  if (x === Infinity) return x;
  let k = 0;
  if (x < MIN_NORMAL) {
    x *= TWO54;
    k = -54;
  }
  // x = 2^k·m, m in [√2/2, √2): keep the mantissa, set the exponent to 0 (m in [1, 2)) or −1
  f64Buf[0] = x;
  const high = u32Buf[1];
  const mant = high & 0xfffff;
  const up = mant >= SQRT2_MANT ? 1 : 0;
  k += (high >>> 20) - 1023 + up;
  u32Buf[1] = mant | (up ? 0x3fe00000 : 0x3ff00000);
  const f = f64Buf[0] - 1;
  // ln(1 + f) = f − hfsq + s·(hfsq + R), hfsq = f²/2, R = z·P(z), z = s²
  const s = f / (2 + f);
  const z = s * s;
  const R = z * (LG1 + z * (LG2 + z * (LG3 + z * (LG4 + z * (LG5 + z * (LG6 + z * LG7))))));
  const hfsq = 0.5 * f * f;
  // ln x = k·ln2_hi + (ln(1 + f) + k·ln2_lo), summed small to large
  return k * LN2_HI - ((hfsq - (s * (hfsq + R) + k * LN2_LO)) - f);
}

// --- the wasm versions, for the tests that hold them to the oracles bit for bit ---
interface ExpAbi {
  exp64Batch(out: number, x: number, n: number): void;
  exp64x2Batch(out: number, x: number, n: number): void;
  log64Batch(out: number, x: number, n: number): void;
}

/** Runs one of the wasm float64 test hooks on `x` (copied into the arena) and returns its output. */
function runBatch(fn: keyof ExpAbi, x: Float64Array): Float64Array {
  const k = wasmKernels() as unknown as ExpAbi;
  return withScratch((a) => {
    const px = a.allocBytes(8 * x.length);
    const po = a.allocBytes(8 * x.length);
    a.f64(px, x.length).set(x);
    k[fn](po, px, x.length);
    return a.f64(po, x.length).slice();
  });
}

/** The wasm kernels' exp on every x: scalar exp64 (`lanes: 1`) or exp64x2, two values at a time (`lanes: 2`). */
export function exp64Wasm(x: Float64Array, lanes: 1 | 2): Float64Array {
  return runBatch(lanes === 1 ? "exp64Batch" : "exp64x2Batch", x);
}

/** The wasm kernels' log64 on every x. */
export function log64Wasm(x: Float64Array): Float64Array {
  return runBatch("log64Batch", x);
}
