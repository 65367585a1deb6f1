// Exact GELU (nn.GELU(), approximate='none') forward and backward, four float32 lanes at a time.
// With s = |x| and E = exp(−x²/2):
//   Φ(−s) = 0.5·erfc(s/√2) = E·G(s),  G(s) = 0.5·erfcx(s/√2) ≈ P(s)/Q(s)
// (a degree 4/5 rational with positive coefficients, relative error 6.4e-9 on [0, 15]),
// Φ(x) = Φ(−s) for x < 0 and 1 − Φ(−s) otherwise; GELU(x) = x·Φ(x), GELU′(x) = Φ(x) + x·φ(x) with
// φ(x) = E/√(2π). E is a float32 exp whose argument −x²/2 is split into an exact part (the high 12
// bits of x squared) and a small correction, so it keeps float32 accuracy for large |x|. All in
// float32: within 12 ulp of the exact GELU (4 ulp for x > −1) and 6 ulp of the derivative's terms
// (src/kernels/gelu.test.ts), far inside the golden cases' error model (2·|x| units of roundoff).
// The elements of a call are independent: any split across threads gives the same bits. Constants
// come from a table in memory (one load each; V8 builds a v128 constant with several instructions).

import { exp32x4Split } from "./exp32";
import { ld, st, ld4, st4 } from "./lanes";

/** G's argument is clamped here: beyond, E = 0 (x²/2 > 104) and G only needs to stay finite. */
const S_MAX: f32 = 15;
const INV_SQRT_2PI: f32 = 0.3989422804014327; // 1/√(2π)
// G(s) = P(s)/Q(s), fitted to 0.5·erfcx(s/√2) on [0, 15] (minimax in relative error)
const GP0: f32 = 0.5;
const GP1: f32 = 0.43925926089286804;
const GP2: f32 = 0.18395133316516876;
const GP3: f32 = 0.040875162929296494;
const GP4: f32 = 0.004152359906584024;
const GQ1: f32 = 1.676403522491455;
const GQ2: f32 = 1.2054741382598877;
const GQ3: f32 = 0.4713617265224457;
const GQ4: f32 = 0.102464959025383;
const GQ5: f32 = 0.0104083102196455;
const HIGH_BITS: u32 = 0xfffff000; // sign, exponent and the top 11 mantissa bits

/** Each constant splatted to four lanes, 16 bytes apart, at the offsets of `c` below. */
const TABLE: usize = memory.data<f32>([
  GP0, GP0, GP0, GP0, // 0
  GP1, GP1, GP1, GP1, // 16
  GP2, GP2, GP2, GP2, // 32
  GP3, GP3, GP3, GP3, // 48
  GP4, GP4, GP4, GP4, // 64
  1, 1, 1, 1, // 80
  GQ1, GQ1, GQ1, GQ1, // 96
  GQ2, GQ2, GQ2, GQ2, // 112
  GQ3, GQ3, GQ3, GQ3, // 128
  GQ4, GQ4, GQ4, GQ4, // 144
  GQ5, GQ5, GQ5, GQ5, // 160
  INV_SQRT_2PI, INV_SQRT_2PI, INV_SQRT_2PI, INV_SQRT_2PI, // 176
  -0.5, -0.5, -0.5, -0.5, // 192
  Infinity, Infinity, Infinity, Infinity, // 208
  S_MAX, S_MAX, S_MAX, S_MAX, // 224
  reinterpret<f32>(HIGH_BITS), reinterpret<f32>(HIGH_BITS), reinterpret<f32>(HIGH_BITS), reinterpret<f32>(HIGH_BITS), // 240
], 16);

// @ts-ignore: decorator
@inline function c(offset: usize): v128 {
  return v128.load(TABLE + offset);
}

/** E = exp(−x²/2) on four lanes: x = xh + xl with xh's low 12 mantissa bits cleared, so xh² is exact. */
// @ts-ignore: decorator
@inline function gaussian4(x: v128): v128 {
  const xh = v128.and(x, c(240));
  const xl = f32x4.sub(x, xh);
  // −x²/2 = −xh²/2 − xl·(x + xh)/2
  const hi = f32x4.mul(f32x4.mul(xh, xh), c(192));
  const lo = f32x4.mul(f32x4.mul(xl, f32x4.add(x, xh)), c(192));
  const e = exp32x4Split(hi, lo);
  // x = ±Inf: E = 0 (xl would be NaN)
  return v128.andnot(e, f32x4.eq(f32x4.abs(x), c(208)));
}

/** Φ(x) on four lanes from x and E = exp(−x²/2). */
// @ts-ignore: decorator
@inline function phi4(x: v128, e: v128): v128 {
  const s = f32x4.pmin(f32x4.abs(x), c(224));
  let p = f32x4.add(f32x4.mul(c(64), s), c(48));
  p = f32x4.add(f32x4.mul(p, s), c(32));
  p = f32x4.add(f32x4.mul(p, s), c(16));
  p = f32x4.add(f32x4.mul(p, s), c(0));
  let q = f32x4.add(f32x4.mul(c(160), s), c(144));
  q = f32x4.add(f32x4.mul(q, s), c(128));
  q = f32x4.add(f32x4.mul(q, s), c(112));
  q = f32x4.add(f32x4.mul(q, s), c(96));
  q = f32x4.add(f32x4.mul(q, s), c(80));
  // Φ(−|x|) = E·G(|x|); Φ(x) = x < 0 ? Φ(−|x|) : 1 − Φ(−|x|)
  const tail = f32x4.mul(e, f32x4.div(p, q));
  return v128.bitselect(tail, f32x4.sub(c(80), tail), f32x4.lt(x, f32x4.splat(0)));
}

/** GELU of four lanes: y = x·Φ(x). */
// @ts-ignore: decorator
@inline function gelu4(x: v128): v128 {
  // y = x·Φ(x)
  return f32x4.mul(x, phi4(x, gaussian4(x)));
}

/** gradX + gradY·GELU′(x) on four lanes, GELU′(x) = Φ(x) + x·E/√(2π). */
// @ts-ignore: decorator
@inline function geluGrad4(gx: v128, gy: v128, x: v128): v128 {
  const e = gaussian4(x);
  // dy/dx = Φ(x) + x·φ(x)
  const d = f32x4.add(phi4(x, e), f32x4.mul(x, f32x4.mul(e, c(176))));
  // gradX += gradY·dy/dx
  return f32x4.add(gx, f32x4.mul(gy, d));
}

/** The last n − i (< 4) elements of x as a vector (zeros beyond). */
// @ts-ignore: decorator
@inline function loadTail(x: usize, i: i32, n: i32): v128 {
  let v = f32x4.splat(0);
  v = f32x4.replace_lane(v, 0, ld(x, i));
  if (i + 1 < n) v = f32x4.replace_lane(v, 1, ld(x, i + 1));
  if (i + 2 < n) v = f32x4.replace_lane(v, 2, ld(x, i + 2));
  return v;
}

/** Stores the first n − i (< 4) lanes of v at element i. */
// @ts-ignore: decorator
@inline function storeTail(y: usize, i: i32, n: i32, v: v128): void {
  st(y, i, f32x4.extract_lane(v, 0));
  if (i + 1 < n) st(y, i + 1, f32x4.extract_lane(v, 1));
  if (i + 2 < n) st(y, i + 2, f32x4.extract_lane(v, 2));
}

/** y [n] = x·Φ(x) = 0.5·x·(1 + erf(x/√2)). */
export function geluForward(y: usize, x: usize, n: i32): void {
  geluForwardPart(y, x, 0, n);
}

/** geluForward on elements i0 ≤ i < i1 only (one thread's share). */
export function geluForwardPart(y: usize, x: usize, i0: i32, i1: i32): void {
  let i = i0;
  for (; i + 4 <= i1; i += 4) st4(y, i, gelu4(ld4(x, i)));
  // the tail takes the same lanes' arithmetic
  if (i < i1) storeTail(y, i, i1, gelu4(loadTail(x, i, i1)));
}

/** gradX [n] += gradY·(Φ(x) + x·φ(x)), φ(x) = exp(−x²/2)/√(2π). */
export function geluBackward(gradX: usize, gradY: usize, x: usize, n: i32): void {
  geluBackwardPart(gradX, gradY, x, 0, n);
}

/** geluBackward on elements i0 ≤ i < i1 only (one thread's share). */
export function geluBackwardPart(gradX: usize, gradY: usize, x: usize, i0: i32, i1: i32): void {
  let i = i0;
  for (; i + 4 <= i1; i += 4) st4(gradX, i, geluGrad4(ld4(gradX, i), ld4(gradY, i), ld4(x, i)));
  if (i < i1) storeTail(gradX, i, i1, geluGrad4(loadTail(gradX, i, i1), loadTail(gradY, i, i1), loadTail(x, i, i1)));
}
