// erf and erfc in float64, for the GELU oracle (./gelu.ts; the wasm kernel, assembly/gelu.ts,
// computes Φ with a float32 exp and a fitted erfcx instead, within 2 ulp of this)
// (exp64 lives in ./exp.ts, re-exported here).
// Method: the classic fdlibm one (Sun Microsystems, 1993; rational approximations on |x| < 0.84375,
// < 1.25, < 1/0.35, < 28, with erfc(x) = exp(-x² - 0.5625 + R/S) / x in the tails) and fdlibm's
// exp range reduction; accuracy about 1 ulp. Math.exp is not used: engines may change it.

import { exp64 } from "./exp.js";

export { exp64 };

// --- bit access to float64 (little-endian, as on every platform Node runs on) ---
const f64Buf = new Float64Array(1);
const u32Buf = new Uint32Array(f64Buf.buffer);

/** x with the low 32 bits of its significand cleared (so x·x is exact in the erfc tail). */
function truncLow32(x: number): number {
  f64Buf[0] = x;
  u32Buf[0] = 0;
  return f64Buf[0];
}

// --- erf / erfc coefficients (fdlibm s_erf.c) ---
const ERX = 8.45062911510467529297e-1; // erf(1) rounded to 24 bits
const EFX = 1.28379167095512586316e-1; // 2/√π − 1
// |x| < 0.84375: erf(x) = x + x·R(x²)/S(x²)
const PP0 = 1.28379167095512558561e-1;
const PP1 = -3.25042107247001499370e-1;
const PP2 = -2.84817495755985104766e-2;
const PP3 = -5.77027029648944159157e-3;
const PP4 = -2.37630166566501626084e-5;
const QQ1 = 3.97917223959155352819e-1;
const QQ2 = 6.50222499887672944485e-2;
const QQ3 = 5.08130628187576562776e-3;
const QQ4 = 1.32494738004321644526e-4;
const QQ5 = -3.96022827877536812320e-6;
// 0.84375 ≤ |x| < 1.25: erf(x) = erx + P(s)/Q(s), s = |x| − 1
const PA0 = -2.36211856075265944077e-3;
const PA1 = 4.14856118683748331666e-1;
const PA2 = -3.72207876035701323847e-1;
const PA3 = 3.18346619901161753674e-1;
const PA4 = -1.10894694282396677476e-1;
const PA5 = 3.54783043256182359371e-2;
const PA6 = -2.16637559486879084300e-3;
const QA1 = 1.06420880400844228286e-1;
const QA2 = 5.40397917702171048937e-1;
const QA3 = 7.18286544141962662868e-2;
const QA4 = 1.26171219808761642112e-1;
const QA5 = 1.36370839120290507362e-2;
const QA6 = 1.19844998467991074170e-2;
// 1.25 ≤ |x| < 1/0.35: erfc(x) = exp(−x² − 0.5625 + R(1/x²)/S(1/x²)) / x
const RA0 = -9.86494403484714822705e-3;
const RA1 = -6.93858572707181764372e-1;
const RA2 = -1.05586262253232909814e1;
const RA3 = -6.23753324503260060396e1;
const RA4 = -1.62396669462573470355e2;
const RA5 = -1.84605092906711035994e2;
const RA6 = -8.12874355063065934246e1;
const RA7 = -9.81432934416914548592e0;
const SA1 = 1.96512716674392571292e1;
const SA2 = 1.37657754143519042600e2;
const SA3 = 4.34565877475229228821e2;
const SA4 = 6.45387271733267880336e2;
const SA5 = 4.29008140027567833386e2;
const SA6 = 1.08635005541779435134e2;
const SA7 = 6.57024977031928170135e0;
const SA8 = -6.04244152148580987438e-2;
// 1/0.35 ≤ |x| < 28: same form, other coefficients
const RB0 = -9.86494292470009928597e-3;
const RB1 = -7.99283237680523006574e-1;
const RB2 = -1.77579549177547519889e1;
const RB3 = -1.60636384855821916062e2;
const RB4 = -6.37566443368389627722e2;
const RB5 = -1.02509513161107724954e3;
const RB6 = -4.83519191608651397019e2;
const SB1 = 3.03380607434824582924e1;
const SB2 = 3.25792512996573918826e2;
const SB3 = 1.53672958608443695994e3;
const SB4 = 3.19985821950859553908e3;
const SB5 = 2.55305040643316442583e3;
const SB6 = 4.74528541206955367215e2;
const SB7 = -2.24409524465858183362e1;

/** x·R(x²)/S(x²): the correction on |x| < 0.84375, erf(x) = x + x·smallRatio(x). */
function smallRatio(x: number): number {
  const z = x * x;
  const r = PP0 + z * (PP1 + z * (PP2 + z * (PP3 + z * PP4)));
  const s = 1 + z * (QQ1 + z * (QQ2 + z * (QQ3 + z * (QQ4 + z * QQ5))));
  return r / s;
}

/** P(s)/Q(s) with s = |x| − 1, on 0.84375 ≤ |x| < 1.25. */
function nearOneRatio(ax: number): number {
  const s = ax - 1;
  const p = PA0 + s * (PA1 + s * (PA2 + s * (PA3 + s * (PA4 + s * (PA5 + s * PA6)))));
  const q = 1 + s * (QA1 + s * (QA2 + s * (QA3 + s * (QA4 + s * (QA5 + s * QA6)))));
  return p / q;
}

/** erfc(ax) for 1.25 ≤ ax < 28: exp(−ax² − 0.5625 + R/S) / ax, with ax² split for accuracy. */
function erfcTail(ax: number): number {
  const s = 1 / (ax * ax);
  let r: number;
  let q: number;
  if (ax < 1 / 0.35) {
    r = RA0 + s * (RA1 + s * (RA2 + s * (RA3 + s * (RA4 + s * (RA5 + s * (RA6 + s * RA7))))));
    q = 1 + s * (SA1 + s * (SA2 + s * (SA3 + s * (SA4 + s * (SA5 + s * (SA6 + s * (SA7 + s * SA8)))))));
  } else {
    r = RB0 + s * (RB1 + s * (RB2 + s * (RB3 + s * (RB4 + s * (RB5 + s * RB6)))));
    q = 1 + s * (SB1 + s * (SB2 + s * (SB3 + s * (SB4 + s * (SB5 + s * (SB6 + s * SB7))))));
  }
  // −ax² = −z² + (z − ax)(z + ax) with z = ax truncated to 21 bits, so z² is exact
  const z = truncLow32(ax);
  return (exp64(-z * z - 0.5625) * exp64((z - ax) * (z + ax) + r / q)) / ax;
}

/** erf(x) = 2/√π ∫₀ˣ e^(−t²) dt in float64, about 1 ulp. erf(±Inf) = ±1, erf(NaN) = NaN. */
export function erf64(x: number): number {
  if (x !== x) return x;
  const ax = Math.abs(x);
  if (ax < 0.84375) {
    // tiny x: erf(x) ≈ x·2/√π
    if (ax < 3.725290298461914e-9) return x + EFX * x;
    return x + x * smallRatio(x);
  }
  if (ax < 1.25) {
    const v = ERX + nearOneRatio(ax);
    return x >= 0 ? v : -v;
  }
  // erf(x) rounds to ±1 in float64 for |x| ≥ 6
  const v = ax >= 6 ? 1 : 1 - erfcTail(ax);
  return x >= 0 ? v : -v;
}

/** erfc(x) = 1 − erf(x) in float64, accurate also where it is tiny (x up to ~27). erfc(NaN) = NaN. */
export function erfc64(x: number): number {
  if (x !== x) return x;
  const ax = Math.abs(x);
  if (ax < 0.84375) {
    if (ax < 1.3877787807814457e-17) return 1 - x;
    const c = x * smallRatio(x);
    // for x < 1/4, 1 − (x + c) loses nothing; above, group as 0.5 − (x − 0.5 + c)
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
  // erfc(28) ≈ 6e−343 underflows; erfc(−28) = 2 exactly in float64
  return x >= 0 ? 0 : 2;
}
