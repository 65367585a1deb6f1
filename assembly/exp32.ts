// e^x on four float32 lanes, for the kernels whose exps need float32 accuracy only (the attention
// softmax, GELU): Cody–Waite range reduction x = k·ln 2 + r (ln 2 in two parts, k·C1 exact) and
// Cephes' degree-7 polynomial for e^r, then 2^k from exponent bits in two factors (so results
// down to the subnormal range are scaled correctly). Within 2 ulp of e^x (checked against the
// float64 exp in src/kernels/exp32.test.ts).
//
// The constants are read from a table in memory rather than written as v128 constants: V8 builds a
// v128 constant from immediates with several instructions at every use, a load from the table is one.

const LOG2E: f32 = 1.44269504088896341;
/** 1.5·2^23: v + MAGIC rounds v (|v| < 2^22) to an integer k held in the low mantissa bits, bits(v + MAGIC) − bits(MAGIC) = k. */
const MAGIC: f32 = 12582912;
const C1: f32 = 0.693359375; // ln 2 rounded to 9 bits: k·C1 is exact for |k| < 2^15
const C2: f32 = -2.12194440e-4; // ln 2 − C1
const P0: f32 = 1.9875691500e-4;
const P1: f32 = 1.3981999507e-3;
const P2: f32 = 8.3334519073e-3;
const P3: f32 = 4.1665795894e-2;
const P4: f32 = 1.6666665459e-1;
const P5: f32 = 5.0000001201e-1;
/** Below: e^x underflows to 0 (2^−150 is the smallest scale the two factors reach). */
const UNDERFLOW: f32 = -103.97;
/** Above: e^x overflows to +Inf. */
const OVERFLOW: f32 = 88.72;

/** Each constant splatted to four lanes, 16 bytes apart, in the order of the offsets below. */
const TABLE: usize = memory.data<f32>([
  LOG2E, LOG2E, LOG2E, LOG2E,
  MAGIC, MAGIC, MAGIC, MAGIC,
  C1, C1, C1, C1,
  C2, C2, C2, C2,
  P0, P0, P0, P0,
  P1, P1, P1, P1,
  P2, P2, P2, P2,
  P3, P3, P3, P3,
  P4, P4, P4, P4,
  P5, P5, P5, P5,
  1, 1, 1, 1,
  UNDERFLOW, UNDERFLOW, UNDERFLOW, UNDERFLOW,
  OVERFLOW, OVERFLOW, OVERFLOW, OVERFLOW,
  Infinity, Infinity, Infinity, Infinity,
], 16);

// @ts-ignore: decorator
@inline function c(offset: usize): v128 {
  return v128.load(TABLE + offset);
}

/**
 * e^(hi + lo) on four lanes, hi carrying the size and lo a small correction (|lo| < 0.1) that the
 * reduction adds to r, so hi + lo need not be representable: exp(−x²/2) = exp(hi + lo) with hi the
 * exact square of x's high bits. NaN → NaN, hi < −103.97 → +0, hi > 88.72 → +Inf.
 */
// @ts-ignore: decorator
@inline export function exp32x4Split(hi: v128, lo: v128): v128 {
  // k = nearest((hi + lo)·log2 e) (ties to even, by the magic add); r = (hi − k·C1) − k·C2 + lo, |r| ≤ ln 2 / 2 (plus rounding)
  const t = f32x4.add(f32x4.mul(f32x4.add(hi, lo), c(0)), c(16));
  const kf = f32x4.sub(t, c(16));
  let r = f32x4.sub(f32x4.sub(hi, f32x4.mul(kf, c(32))), f32x4.mul(kf, c(48)));
  r = f32x4.add(r, lo);
  // e^r = 1 + r + r²·P(r)
  let p = f32x4.add(f32x4.mul(c(64), r), c(80));
  p = f32x4.add(f32x4.mul(p, r), c(96));
  p = f32x4.add(f32x4.mul(p, r), c(112));
  p = f32x4.add(f32x4.mul(p, r), c(128));
  p = f32x4.add(f32x4.mul(p, r), c(144));
  const y = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(r, r), p), r), c(160));
  // 2^k = 2^k1·2^k2, k1 = k >> 1, each factor built from exponent bits (k ∈ [−150, 128] where used);
  // the exponent bias 127 << 23 is the bit pattern of 1.0
  const k = i32x4.sub(t, c(16));
  const k1 = i32x4.shr_s(k, 1);
  const k2 = i32x4.sub(k, k1);
  const s1 = i32x4.add(i32x4.shl(k1, 23), c(160));
  const s2 = i32x4.add(i32x4.shl(k2, 23), c(160));
  let e = f32x4.mul(f32x4.mul(y, s1), s2);
  e = v128.andnot(e, f32x4.lt(hi, c(176)));
  return v128.bitselect(c(208), e, f32x4.gt(hi, c(192)));
}

/** e^x on four lanes (exp32x4Split with lo = 0). */
// @ts-ignore: decorator
@inline export function exp32x4(x: v128): v128 {
  return exp32x4Split(x, f32x4.splat(0));
}

/** Test hook: out[i] = e^x[i] for n float32 values (byte pointers; n a multiple of 4). */
export function exp32x4Batch(out: usize, x: usize, n: i32): void {
  for (let i = 0; i < n; i += 4) v128.store(out + (<usize>i << 2), exp32x4(v128.load(x + (<usize>i << 2))));
}
