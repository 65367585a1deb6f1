// e^x in float64: exp64 (scalar) and exp64x2 (both lanes of an f64x2), the same operations in the
// same order as exp64 in src/kernels/exp.ts (fdlibm's range reduction and rational, about 1 ulp),
// so every lane of exp64x2 is bit-identical to exp64 and to the TypeScript oracle, on every input.

// @ts-ignore: decorator
@inline function pow2(k: i32): f64 {
  // 2^k for k in [-1022, 1023], built from its bits
  return reinterpret<f64>(<u64>(k + 1023) << 52);
}

const LN2_HI: f64 = 6.93147180369123816490e-1; // high 32 bits of ln 2
const LN2_LO: f64 = 1.90821492927058770002e-10; // ln 2 − LN2_HI
const INV_LN2: f64 = 1.44269504088896338700e0;
const P1: f64 = 1.66666666666666019037e-1;
const P2: f64 = -2.77777777770155933842e-3;
const P3: f64 = 6.61375632143793436117e-5;
const P4: f64 = -1.65339022054652515390e-6;
const P5: f64 = 4.13813679705723846039e-8;
const EXP_OVERFLOW: f64 = 7.09782712893383973096e2; // above: +Inf
const EXP_UNDERFLOW: f64 = -7.45133219101941108420e2; // below: +0
const EXP_BIAS_MAGIC: f64 = 6755399441055744 + 1023; // 1.5·2^52 + the exponent bias

/** e^x in float64, about 1 ulp. NaN → NaN, +Inf → +Inf, −Inf → 0. */
export function exp64(x: f64): f64 {
  if (x != x) return x;
  if (x > EXP_OVERFLOW) return Infinity;
  if (x < EXP_UNDERFLOW) return 0;
  // x = k·ln2 + r with |r| ≤ ln2/2; r = hi − lo carried in two parts
  const kf = Math.floor(x * INV_LN2 + 0.5);
  const k = <i32>kf;
  const hi = x - kf * LN2_HI;
  const lo = kf * LN2_LO;
  const r = hi - lo;
  // e^r = 1 + 2r/(2 − R(r²)) with c = r − r²·P(r²)
  const t = r * r;
  const c = r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
  const y = 1 - (lo - (r * c) / (2 - c) - hi);
  // e^x = y·2^k in two steps, so a subnormal result is rounded once
  const k1 = k >> 1;
  return y * pow2(k1) * pow2(k - k1);
}

/**
 * exp64 on both lanes of an f64x2, operation for operation the scalar exp64 (so bit-identical to
 * it on every input: NaN → the same NaN, above 709.78 → +Inf, below −745.13 → +0). Used by the
 * softmax, the attention softmax and GELU.
 */
// @ts-ignore: decorator
@inline export function exp64x2(x: v128): v128 {
  // x = k·ln2 + r, r = hi − lo
  const kf = f64x2.floor(f64x2.add(f64x2.mul(x, f64x2.splat(INV_LN2)), f64x2.splat(0.5)));
  const hi = f64x2.sub(x, f64x2.mul(kf, f64x2.splat(LN2_HI)));
  const lo = f64x2.mul(kf, f64x2.splat(LN2_LO));
  const r = f64x2.sub(hi, lo);
  // c = r − r²·P(r²); y = 1 − (lo − r·c/(2 − c) − hi)
  const t = f64x2.mul(r, r);
  let p = f64x2.add(f64x2.splat(P4), f64x2.mul(t, f64x2.splat(P5)));
  p = f64x2.add(f64x2.splat(P3), f64x2.mul(t, p));
  p = f64x2.add(f64x2.splat(P2), f64x2.mul(t, p));
  p = f64x2.add(f64x2.splat(P1), f64x2.mul(t, p));
  const c = f64x2.sub(r, f64x2.mul(t, p));
  const rc = f64x2.div(f64x2.mul(r, c), f64x2.sub(f64x2.splat(2), c));
  const y = f64x2.sub(f64x2.splat(1), f64x2.sub(f64x2.sub(lo, rc), hi));
  // 2^k in two factors 2^k1·2^k2, k1 = k >> 1 = floor(k/2), k2 = k − k1 (exact in f64). Each is built
  // from exponent bits: k1 + 1023 + 1.5·2^52 holds k1 + 1023 (in [485, 1535]) in its low mantissa
  // bits, and shifting left by 52 moves them into the exponent field (lanes selected away below
  // may hold garbage, never a trap)
  const k1 = f64x2.floor(f64x2.mul(kf, f64x2.splat(0.5)));
  const k2 = f64x2.sub(kf, k1);
  const bias = f64x2.splat(EXP_BIAS_MAGIC);
  const p1 = i64x2.shl(f64x2.add(k1, bias), 52);
  const p2 = i64x2.shl(f64x2.add(k2, bias), 52);
  let e = f64x2.mul(f64x2.mul(y, p1), p2);
  // the scalar's early returns, as selects: underflow → 0, overflow → +Inf, NaN → x
  e = v128.bitselect(f64x2.splat(0), e, f64x2.lt(x, f64x2.splat(EXP_UNDERFLOW)));
  e = v128.bitselect(f64x2.splat(Infinity), e, f64x2.gt(x, f64x2.splat(EXP_OVERFLOW)));
  return v128.bitselect(x, e, f64x2.ne(x, x));
}

/** Test hook: out[i] = exp64(x[i]) for n float64 values (byte pointers). */
export function exp64Batch(out: usize, x: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f64>(out + (<usize>i << 3), exp64(load<f64>(x + (<usize>i << 3))));
}

/** Test hook: out[i] = lane of exp64x2 for n float64 values, two at a time (an odd last one as lane 0 beside 0). */
export function exp64x2Batch(out: usize, x: usize, n: i32): void {
  let i = 0;
  for (; i + 2 <= n; i += 2) v128.store(out + (<usize>i << 3), exp64x2(v128.load(x + (<usize>i << 3))));
  if (i < n) {
    const v = exp64x2(f64x2.replace_lane(f64x2.splat(0), 0, load<f64>(x + (<usize>i << 3))));
    store<f64>(out + (<usize>i << 3), f64x2.extract_lane(v, 0));
  }
}
