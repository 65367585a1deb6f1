// exp, erf and erfc in float64: the same algorithm, operation for operation, as src/kernels/erf.ts
// (fdlibm's method, about 1 ulp), so the GELU kernel and its oracle agree bit for bit.

// @ts-ignore: decorator
@inline function pow2(k: i32): f64 {
  // 2^k for k in [-1022, 1023], built from its bits
  return reinterpret<f64>(<u64>(k + 1023) << 52);
}

// @ts-ignore: decorator
@inline function truncLow32(x: f64): f64 {
  return reinterpret<f64>(reinterpret<u64>(x) & 0xffffffff00000000);
}

// --- exp ---
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

// --- erf / erfc coefficients (fdlibm s_erf.c) ---
const ERX: f64 = 8.45062911510467529297e-1; // erf(1) rounded to 24 bits
const EFX: f64 = 1.28379167095512586316e-1; // 2/√π − 1
const PP0: f64 = 1.28379167095512558561e-1;
const PP1: f64 = -3.25042107247001499370e-1;
const PP2: f64 = -2.84817495755985104766e-2;
const PP3: f64 = -5.77027029648944159157e-3;
const PP4: f64 = -2.37630166566501626084e-5;
const QQ1: f64 = 3.97917223959155352819e-1;
const QQ2: f64 = 6.50222499887672944485e-2;
const QQ3: f64 = 5.08130628187576562776e-3;
const QQ4: f64 = 1.32494738004321644526e-4;
const QQ5: f64 = -3.96022827877536812320e-6;
const PA0: f64 = -2.36211856075265944077e-3;
const PA1: f64 = 4.14856118683748331666e-1;
const PA2: f64 = -3.72207876035701323847e-1;
const PA3: f64 = 3.18346619901161753674e-1;
const PA4: f64 = -1.10894694282396677476e-1;
const PA5: f64 = 3.54783043256182359371e-2;
const PA6: f64 = -2.16637559486879084300e-3;
const QA1: f64 = 1.06420880400844228286e-1;
const QA2: f64 = 5.40397917702171048937e-1;
const QA3: f64 = 7.18286544141962662868e-2;
const QA4: f64 = 1.26171219808761642112e-1;
const QA5: f64 = 1.36370839120290507362e-2;
const QA6: f64 = 1.19844998467991074170e-2;
const RA0: f64 = -9.86494403484714822705e-3;
const RA1: f64 = -6.93858572707181764372e-1;
const RA2: f64 = -1.05586262253232909814e1;
const RA3: f64 = -6.23753324503260060396e1;
const RA4: f64 = -1.62396669462573470355e2;
const RA5: f64 = -1.84605092906711035994e2;
const RA6: f64 = -8.12874355063065934246e1;
const RA7: f64 = -9.81432934416914548592e0;
const SA1: f64 = 1.96512716674392571292e1;
const SA2: f64 = 1.37657754143519042600e2;
const SA3: f64 = 4.34565877475229228821e2;
const SA4: f64 = 6.45387271733267880336e2;
const SA5: f64 = 4.29008140027567833386e2;
const SA6: f64 = 1.08635005541779435134e2;
const SA7: f64 = 6.57024977031928170135e0;
const SA8: f64 = -6.04244152148580987438e-2;
const RB0: f64 = -9.86494292470009928597e-3;
const RB1: f64 = -7.99283237680523006574e-1;
const RB2: f64 = -1.77579549177547519889e1;
const RB3: f64 = -1.60636384855821916062e2;
const RB4: f64 = -6.37566443368389627722e2;
const RB5: f64 = -1.02509513161107724954e3;
const RB6: f64 = -4.83519191608651397019e2;
const SB1: f64 = 3.03380607434824582924e1;
const SB2: f64 = 3.25792512996573918826e2;
const SB3: f64 = 1.53672958608443695994e3;
const SB4: f64 = 3.19985821950859553908e3;
const SB5: f64 = 2.55305040643316442583e3;
const SB6: f64 = 4.74528541206955367215e2;
const SB7: f64 = -2.24409524465858183362e1;
// @ts-ignore: decorator
@inline function smallRatio(x: f64): f64 {
  const z = x * x;
  const r = PP0 + z * (PP1 + z * (PP2 + z * (PP3 + z * PP4)));
  const s = 1 + z * (QQ1 + z * (QQ2 + z * (QQ3 + z * (QQ4 + z * QQ5))));
  return r / s;
}

// @ts-ignore: decorator
@inline function nearOneRatio(ax: f64): f64 {
  const s = ax - 1;
  const p = PA0 + s * (PA1 + s * (PA2 + s * (PA3 + s * (PA4 + s * (PA5 + s * PA6)))));
  const q = 1 + s * (QA1 + s * (QA2 + s * (QA3 + s * (QA4 + s * (QA5 + s * QA6)))));
  return p / q;
}

/** erfc(ax) for 1.25 ≤ ax < 28: exp(−ax² − 0.5625 + R/S) / ax, with ax² split for accuracy. */
function erfcTail(ax: f64): f64 {
  const s = 1 / (ax * ax);
  let r: f64;
  let q: f64;
  if (ax < 1 / 0.35) {
    r = RA0 + s * (RA1 + s * (RA2 + s * (RA3 + s * (RA4 + s * (RA5 + s * (RA6 + s * RA7))))));
    q = 1 + s * (SA1 + s * (SA2 + s * (SA3 + s * (SA4 + s * (SA5 + s * (SA6 + s * (SA7 + s * SA8)))))));
  } else {
    r = RB0 + s * (RB1 + s * (RB2 + s * (RB3 + s * (RB4 + s * (RB5 + s * RB6)))));
    q = 1 + s * (SB1 + s * (SB2 + s * (SB3 + s * (SB4 + s * (SB5 + s * (SB6 + s * SB7))))));
  }
  // −ax² = −z² + (z − ax)(z + ax) with z = ax truncated, so z² is exact
  const z = truncLow32(ax);
  return (exp64(-z * z - 0.5625) * exp64((z - ax) * (z + ax) + r / q)) / ax;
}

/** erf(x) in float64, about 1 ulp. erf(±Inf) = ±1, erf(NaN) = NaN. */
export function erf64(x: f64): f64 {
  if (x != x) return x;
  const ax = Math.abs(x);
  if (ax < 0.84375) {
    if (ax < 3.725290298461914e-9) return x + EFX * x;
    return x + x * smallRatio(x);
  }
  if (ax < 1.25) {
    const v = ERX + nearOneRatio(ax);
    return x >= 0 ? v : -v;
  }
  const v = ax >= 6 ? 1 : 1 - erfcTail(ax);
  return x >= 0 ? v : -v;
}

/** erfc(x) = 1 − erf(x) in float64, accurate also where it is tiny. erfc(NaN) = NaN. */
export function erfc64(x: f64): f64 {
  if (x != x) return x;
  const ax = Math.abs(x);
  if (ax < 0.84375) {
    if (ax < 1.3877787807814457e-17) return 1 - x;
    const c = x * smallRatio(x);
    return x < 0.25 ? 1 - (x + c) : 0.5 - (x - 0.5 + c);
  }
  if (ax < 1.25) {
    const v = nearOneRatio(ax);
    return x >= 0 ? 1 - ERX - v : 1 + (ERX + v);
  }
  if (ax < 28) {
    const t = erfcTail(ax);
    return x >= 0 ? t : 2 - t;
  }
  return x >= 0 ? 0 : 2;
}

/**
 * exp64 on both lanes of an f64x2, operation for operation the scalar exp64 (so bit-identical to
 * it) for inputs ≤ 709 (NaN → NaN, below −745.13 → 0); used by the softmax, whose inputs are ≤ 0.
 */
// @ts-ignore: decorator
@inline export function exp64x2(x: v128): v128 {
  const kf = f64x2.floor(f64x2.add(f64x2.mul(x, f64x2.splat(INV_LN2)), f64x2.splat(0.5)));
  const hi = f64x2.sub(x, f64x2.mul(kf, f64x2.splat(LN2_HI)));
  const lo = f64x2.mul(kf, f64x2.splat(LN2_LO));
  const r = f64x2.sub(hi, lo);
  const t = f64x2.mul(r, r);
  let p = f64x2.add(f64x2.splat(P4), f64x2.mul(t, f64x2.splat(P5)));
  p = f64x2.add(f64x2.splat(P3), f64x2.mul(t, p));
  p = f64x2.add(f64x2.splat(P2), f64x2.mul(t, p));
  p = f64x2.add(f64x2.splat(P1), f64x2.mul(t, p));
  const c = f64x2.sub(r, f64x2.mul(t, p));
  const rc = f64x2.div(f64x2.mul(r, c), f64x2.sub(f64x2.splat(2), c));
  const y = f64x2.sub(f64x2.splat(1), f64x2.sub(f64x2.sub(lo, rc), hi));
  // 2^k in two factors 2^(k>>1)·2^(k − (k>>1)), built from exponent bits
  const k = i32x4.trunc_sat_f64x2_s_zero(kf);
  const k1 = i32x4.shr_s(k, 1);
  const k2 = i32x4.sub(k, k1);
  const bias = i32x4.splat(1023);
  const p1 = i64x2.shl(i64x2.extend_low_i32x4_s(i32x4.add(k1, bias)), 52);
  const p2 = i64x2.shl(i64x2.extend_low_i32x4_s(i32x4.add(k2, bias)), 52);
  const e = f64x2.mul(f64x2.mul(y, p1), p2);
  return v128.bitselect(f64x2.splat(0), e, f64x2.lt(x, f64x2.splat(EXP_UNDERFLOW)));
}
