// ln x in float64, the same operations in the same order as log64 in src/kernels/exp.ts, so the
// log-softmax kernel and its oracle take the same logarithm bit for bit.
// Method (fdlibm's): x = 2^k·m with m in [√2/2, √2), f = m − 1, s = f/(2 + f);
// ln(1 + f) = 2·atanh(s) = f − f²/2 + s·(f²/2 + R(s²)), R a minimax polynomial; ln 2 in two parts.

const LN2_HI: f64 = 6.93147180369123816490e-1; // ln 2 to 32 bits: k·LN2_HI is exact
const LN2_LO: f64 = 1.90821492927058770002e-10; // ln 2 − LN2_HI
const TWO54: f64 = 1.8014398509481984e16; // 2^54: lifts a subnormal x into the normal range
const LG1: f64 = 6.666666666666735130e-1;
const LG2: f64 = 3.999999999940941908e-1;
const LG3: f64 = 2.857142874366239149e-1;
const LG4: f64 = 2.222219843214978396e-1;
const LG5: f64 = 1.818357216161805012e-1;
const LG6: f64 = 1.531383769920937332e-1;
const LG7: f64 = 1.479819860511658591e-1;
const SQRT2_MANT: u32 = 0x6a09e; // high 20 mantissa bits of √2

/** ln x in float64, within 1 ulp. ln(±0) = −Inf, ln(x < 0) = NaN, ln(+Inf) = +Inf, ln(NaN) = NaN. */
export function log64(x: f64): f64 {
  if (!(x > 0)) return x == 0 ? -Infinity : NaN;
  if (x == Infinity) return x;
  let k: i32 = 0;
  if (x < 2.2250738585072014e-308) {
    x *= TWO54;
    k = -54;
  }
  // x = 2^k·m, m in [√2/2, √2): keep the mantissa, set the exponent to 0 (m in [1, 2)) or −1
  const bits = reinterpret<u64>(x);
  const high = <u32>(bits >> 32);
  const mant = high & 0xfffff;
  const up: i32 = mant >= SQRT2_MANT ? 1 : 0;
  k += <i32>(high >> 20) - 1023 + up;
  const m = reinterpret<f64>((<u64>(mant | (up ? 0x3fe00000 : 0x3ff00000)) << 32) | (bits & 0xffffffff));
  const f = m - 1;
  // ln(1 + f) = f − hfsq + s·(hfsq + R), hfsq = f²/2, R = z·P(z), z = s²
  const s = f / (2 + f);
  const z = s * s;
  const R = z * (LG1 + z * (LG2 + z * (LG3 + z * (LG4 + z * (LG5 + z * (LG6 + z * LG7))))));
  const hfsq = 0.5 * f * f;
  const dk = <f64>k;
  // ln x = k·ln2_hi + (ln(1 + f) + k·ln2_lo), summed small to large
  return dk * LN2_HI - ((hfsq - (s * (hfsq + R) + dk * LN2_LO)) - f);
}

/** Test hook: out[i] = log64(x[i]) for n float64 values (byte pointers). */
export function log64Batch(out: usize, x: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f64>(out + (<usize>i << 3), log64(load<f64>(x + (<usize>i << 3))));
}
