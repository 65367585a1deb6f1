// erf and erfc in float64: the same algorithm, operation for operation, as src/kernels/erf.ts
// (fdlibm's method, about 1 ulp), so the GELU kernel and its oracle agree bit for bit; erfc64x2
// does the same on both lanes of an f64x2. exp64 / exp64x2 come from ./exp.

import { exp64, exp64x2 } from "./exp";

// @ts-ignore: decorator
@inline function truncLow32(x: f64): f64 {
  return reinterpret<f64>(reinterpret<u64>(x) & 0xffffffff00000000);
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

// --- erfc on two lanes ---
// Every interval's ratio has the form P(w)/Q(w) = (c0 + w·(c1 + … + w·c7)) / (1 + w·(d1 + … + w·d8)),
// with w = u² (|u| < 0.84375), |u| − 1 (< 1.25) or 1/u² (< 28). The shorter polynomials are padded
// with zero coefficients at the top: for finite w, cₖ + w·(0 + w·0) = cₖ exactly, so the padded Horner
// scheme performs the scalar's operations bit for bit. Pairs of lanes in the same interval below
// 0.84375 (the common case) take a dedicated path; otherwise each lane gets its own interval's row
// (from ERFC_PAIRS, one load per coefficient for both lanes).
const ERFC_ROWS: usize = memory.data<f64>([
  // 0: |u| < 0.84375
  PP0, PP1, PP2, PP3, PP4, 0, 0, 0, QQ1, QQ2, QQ3, QQ4, QQ5, 0, 0, 0,
  // 1: 0.84375 ≤ |u| < 1.25
  PA0, PA1, PA2, PA3, PA4, PA5, PA6, 0, QA1, QA2, QA3, QA4, QA5, QA6, 0, 0,
  // 2: 1.25 ≤ |u| < 1/0.35
  RA0, RA1, RA2, RA3, RA4, RA5, RA6, RA7, SA1, SA2, SA3, SA4, SA5, SA6, SA7, SA8,
  // 3: 1/0.35 ≤ |u| (< 28; also used, then overridden, above 28)
  RB0, RB1, RB2, RB3, RB4, RB5, RB6, 0, SB1, SB2, SB3, SB4, SB5, SB6, SB7, 0,
], 16);

/**
 * ERFC_ROWS interleaved for every pair of rows: [row0[j], row1[j]] at ERFC_PAIRS + ((id0·4 + id1)·16 + j)·16.
 * Static data (4 KiB below the heap base, not an allocation), filled from ERFC_ROWS on first use.
 */
const ERFC_PAIRS: usize = memory.data(4 * 4 * 16 * 16, 16);
let erfcPairsReady = false;

function fillErfcPairs(): void {
  for (let id0: usize = 0; id0 < 4; id0++) {
    for (let id1: usize = 0; id1 < 4; id1++) {
      for (let j: usize = 0; j < 16; j++) {
        const at = ERFC_PAIRS + (((id0 * 4 + id1) * 16 + j) << 4);
        store<f64>(at, load<f64>(ERFC_ROWS + ((id0 * 16 + j) << 3)));
        store<f64>(at, load<f64>(ERFC_ROWS + ((id1 * 16 + j) << 3)), 8);
      }
    }
  }
  erfcPairsReady = true;
}

/** Coefficient j of each lane's row. */
// @ts-ignore: decorator
@inline function coef(pair: usize, j: usize): v128 {
  return v128.load(pair + (j << 4));
}

/** erfc64 on both lanes of an f64x2: bit-identical, lane by lane, to the scalar erfc64. */
// @ts-ignore: decorator
@inline export function erfc64x2(u: v128): v128 {
  const a = f64x2.abs(u);
  const m1 = f64x2.ge(a, f64x2.splat(0.84375));
  // both lanes below 0.84375 (or NaN), the common case: the degree-4/5 ratio with shared constants
  return v128.any_true(m1) ? erfc64x2Mixed(u, a, m1) : erfc64x2Small(u, a);
}

/** erfc64x2 where both lanes have |u| < 0.84375 (or are NaN). */
// @ts-ignore: decorator
@inline function erfc64x2Small(u: v128, a: v128): v128 {
  const z = f64x2.mul(u, u);
  let r = f64x2.add(f64x2.splat(PP3), f64x2.mul(z, f64x2.splat(PP4)));
  r = f64x2.add(f64x2.splat(PP2), f64x2.mul(z, r));
  r = f64x2.add(f64x2.splat(PP1), f64x2.mul(z, r));
  r = f64x2.add(f64x2.splat(PP0), f64x2.mul(z, r));
  let s = f64x2.add(f64x2.splat(QQ4), f64x2.mul(z, f64x2.splat(QQ5)));
  s = f64x2.add(f64x2.splat(QQ3), f64x2.mul(z, s));
  s = f64x2.add(f64x2.splat(QQ2), f64x2.mul(z, s));
  s = f64x2.add(f64x2.splat(QQ1), f64x2.mul(z, s));
  s = f64x2.add(f64x2.splat(1), f64x2.mul(z, s));
  // c = u·R/S; u < 1/4 ? 1 − (u + c) : 0.5 − (u − 0.5 + c); tiny u: 1 − u
  const c = f64x2.mul(u, f64x2.div(r, s));
  let res = v128.bitselect(
    f64x2.sub(f64x2.splat(1), f64x2.add(u, c)),
    f64x2.sub(f64x2.splat(0.5), f64x2.add(f64x2.sub(u, f64x2.splat(0.5)), c)),
    f64x2.lt(u, f64x2.splat(0.25)),
  );
  res = v128.bitselect(f64x2.sub(f64x2.splat(1), u), res, f64x2.lt(a, f64x2.splat(1.3877787807814457e-17)));
  return v128.bitselect(u, res, f64x2.ne(u, u));
}

/** erfc64x2 where some lane has |u| ≥ 0.84375: each lane's interval row from ERFC_ROWS. */
function erfc64x2Mixed(u: v128, a: v128, m1: v128): v128 {
  const m2 = f64x2.ge(a, f64x2.splat(1.25));
  const m3 = f64x2.ge(a, f64x2.splat(1 / 0.35));
  // interval row per lane = number of thresholds passed (the masks are −1 each)
  const id = i64x2.neg(i64x2.add(i64x2.add(m1, m2), m3));
  if (!erfcPairsReady) fillErfcPairs();
  const pair = ERFC_PAIRS + (<usize>(i64x2.extract_lane(id, 0) * 4 + i64x2.extract_lane(id, 1)) << 8);
  const anyTail = v128.any_true(m2);
  // w = u² | |u| − 1 | 1/u²
  let w = v128.bitselect(f64x2.sub(a, f64x2.splat(1)), f64x2.mul(u, u), m1);
  if (anyTail) w = v128.bitselect(f64x2.div(f64x2.splat(1), f64x2.mul(a, a)), w, m2);
  // ratio = P(w)/Q(w), Horner from the top coefficient
  let p = coef(pair, 7);
  p = f64x2.add(coef(pair, 6), f64x2.mul(w, p));
  p = f64x2.add(coef(pair, 5), f64x2.mul(w, p));
  p = f64x2.add(coef(pair, 4), f64x2.mul(w, p));
  p = f64x2.add(coef(pair, 3), f64x2.mul(w, p));
  p = f64x2.add(coef(pair, 2), f64x2.mul(w, p));
  p = f64x2.add(coef(pair, 1), f64x2.mul(w, p));
  p = f64x2.add(coef(pair, 0), f64x2.mul(w, p));
  let q = coef(pair, 15);
  q = f64x2.add(coef(pair, 14), f64x2.mul(w, q));
  q = f64x2.add(coef(pair, 13), f64x2.mul(w, q));
  q = f64x2.add(coef(pair, 12), f64x2.mul(w, q));
  q = f64x2.add(coef(pair, 11), f64x2.mul(w, q));
  q = f64x2.add(coef(pair, 10), f64x2.mul(w, q));
  q = f64x2.add(coef(pair, 9), f64x2.mul(w, q));
  q = f64x2.add(coef(pair, 8), f64x2.mul(w, q));
  q = f64x2.add(f64x2.splat(1), f64x2.mul(w, q));
  const ratio = f64x2.div(p, q);
  const one = f64x2.splat(1);
  const two = f64x2.splat(2);
  const pos = f64x2.ge(u, f64x2.splat(0));
  // |u| < 0.84375: c = u·ratio; u < 1/4 ? 1 − (u + c) : 0.5 − (u − 0.5 + c); tiny u: 1 − u
  const c = f64x2.mul(u, ratio);
  let res = v128.bitselect(
    f64x2.sub(one, f64x2.add(u, c)),
    f64x2.sub(f64x2.splat(0.5), f64x2.add(f64x2.sub(u, f64x2.splat(0.5)), c)),
    f64x2.lt(u, f64x2.splat(0.25)),
  );
  res = v128.bitselect(f64x2.sub(one, u), res, f64x2.lt(a, f64x2.splat(1.3877787807814457e-17)));
  // |u| < 1.25: u ≥ 0 ? 1 − ERX − ratio : 1 + (ERX + ratio)
  const near = v128.bitselect(
    f64x2.sub(f64x2.splat(1 - ERX), ratio),
    f64x2.add(one, f64x2.add(f64x2.splat(ERX), ratio)),
    pos,
  );
  res = v128.bitselect(near, res, m1);
  if (anyTail) {
    // |u| < 28: t = exp(−z² − 0.5625)·exp((z − a)(z + a) + ratio)/a, z = a truncated; u ≥ 0 ? t : 2 − t
    const z = v128.and(a, i64x2.splat(0xffffffff00000000));
    const e1 = exp64x2(f64x2.sub(f64x2.mul(f64x2.neg(z), z), f64x2.splat(0.5625)));
    const e2 = exp64x2(f64x2.add(f64x2.mul(f64x2.sub(z, a), f64x2.add(z, a)), ratio));
    const t = f64x2.div(f64x2.mul(e1, e2), a);
    res = v128.bitselect(v128.bitselect(t, f64x2.sub(two, t), pos), res, m2);
    // |u| ≥ 28: u ≥ 0 ? 0 : 2
    res = v128.bitselect(v128.bitselect(f64x2.splat(0), two, pos), res, f64x2.ge(a, f64x2.splat(28)));
  }
  // NaN → the same NaN
  return v128.bitselect(u, res, f64x2.ne(u, u));
}
