// LayerNorm over the last dim, forward and backward, on R rows of D values. Moments and every
// per-element expression are computed in float64 (SIMD f64x2) and rounded to float32 on store, so
// the kernel matches layerNormForwardRef / layerNormBackwardRef up to the order of the row sums.
// Threads (src/kernels/layernorm.ts) split the forward and the backward's ∂x by rows, and the
// backward's ∂weight, ∂bias (column sums over every row) by columns: each value gets the very
// operations of the one-call kernels, in the same order, so a split never changes a bit.

import { ld, st, ld4, simdLimit, lo2, hi2, pack4 } from "./lanes";

// @ts-ignore: decorator
@inline function sum2(a: v128, b: v128): f64 {
  return (f64x2.extract_lane(a, 0) + f64x2.extract_lane(a, 1)) + (f64x2.extract_lane(b, 0) + f64x2.extract_lane(b, 1));
}

// @ts-ignore: decorator
@inline function ld2d(ptr: usize, i: i32): v128 {
  return v128.load(ptr + (<usize>i << 3));
}

// @ts-ignore: decorator
@inline function st2d(ptr: usize, i: i32, v: v128): void {
  v128.store(ptr + (<usize>i << 3), v);
}

/**
 * y [R,D] = (x − mean)·rstd·weight + bias per row; mean [R], rstd [R] = 1/sqrt(var + eps) saved
 * (var biased). Everything in float64: a row of equal values gives mean = x exactly and y = bias.
 */
export function layerNormForward(y: usize, mean: usize, rstd: usize, x: usize, weight: usize, bias: usize, R: i32, D: i32, eps: f64): void {
  layerNormForwardPart(y, mean, rstd, x, weight, bias, R, D, eps, 0, R);
}

/** layerNormForward on rows r0 ≤ r < r1 only (one thread's share). */
export function layerNormForwardPart(y: usize, mean: usize, rstd: usize, x: usize, weight: usize, bias: usize, R: i32, D: i32, eps: f64, r0: i32, r1: i32): void {
  const D4 = simdLimit(D);
  for (let r = r0; r < r1; r++) {
    const xr = x + (<usize>r * <usize>D << 2);
    const yr = y + (<usize>r * <usize>D << 2);
    // mean = Σ x / D
    let a = f64x2.splat(0);
    let b = f64x2.splat(0);
    let d = 0;
    for (; d < D4; d += 4) {
      const v = ld4(xr, d);
      a = f64x2.add(a, lo2(v));
      b = f64x2.add(b, hi2(v));
    }
    let sum = sum2(a, b);
    for (; d < D; d++) sum += <f64>ld(xr, d);
    const m = sum / <f64>D;
    // var = Σ (x − mean)² / D  (biased)
    const vm = f64x2.splat(m);
    a = f64x2.splat(0);
    b = f64x2.splat(0);
    for (d = 0; d < D4; d += 4) {
      const v = ld4(xr, d);
      const c0 = f64x2.sub(lo2(v), vm);
      const c1 = f64x2.sub(hi2(v), vm);
      a = f64x2.add(a, f64x2.mul(c0, c0));
      b = f64x2.add(b, f64x2.mul(c1, c1));
    }
    let ss = sum2(a, b);
    for (; d < D; d++) {
      const c = <f64>ld(xr, d) - m;
      ss += c * c;
    }
    // rstd = 1 / sqrt(var + eps)
    const s = 1 / Math.sqrt(ss / <f64>D + eps);
    st(mean, r, <f32>m);
    st(rstd, r, <f32>s);
    // y = ((x − mean)·rstd)·weight + bias
    const vs = f64x2.splat(s);
    for (d = 0; d < D4; d += 4) {
      const v = ld4(xr, d);
      const w = ld4(weight, d);
      const bb = ld4(bias, d);
      const y0 = f64x2.add(f64x2.mul(f64x2.mul(f64x2.sub(lo2(v), vm), vs), lo2(w)), lo2(bb));
      const y1 = f64x2.add(f64x2.mul(f64x2.mul(f64x2.sub(hi2(v), vm), vs), hi2(w)), hi2(bb));
      v128.store(yr + (<usize>d << 2), pack4(y0, y1));
    }
    for (; d < D; d++) {
      st(yr, d, <f32>(((<f64>ld(xr, d) - m) * s) * <f64>ld(weight, d) + <f64>ld(bias, d)));
    }
  }
}

/**
 * Backward from the saved mean, rstd (accumulating):
 *   gradX += rstd·(g − mean(g) − x̂·mean(g·x̂)), g = gradY·weight, x̂ = (x − mean)·rstd
 *   gradWeight += Σ_rows gradY·x̂,  gradBias += Σ_rows gradY
 * in two passes: ∂x row by row, then ∂weight and ∂bias column by column (each column summed in
 * float64 over the rows in order, in registers, and added to the float32 gradient once). The
 * threads run the same two parts on rows and on columns.
 */
export function layerNormBackward(
  gradX: usize, gradWeight: usize, gradBias: usize, gradY: usize, x: usize, mean: usize, rstd: usize, weight: usize,
  R: i32, D: i32,
): void {
  layerNormBackwardRowsPart(gradX, gradY, x, mean, rstd, weight, R, D, 0, R);
  layerNormParamGradsPart(gradWeight, gradBias, gradY, x, mean, rstd, R, D, 0, D);
}

/** The ∂x part of layerNormBackward on rows r0 ≤ r < r1 only: gradX += rstd·(g − mean(g) − x̂·mean(g·x̂)). */
export function layerNormBackwardRowsPart(
  gradX: usize, gradY: usize, x: usize, mean: usize, rstd: usize, weight: usize, R: i32, D: i32, r0: i32, r1: i32,
): void {
  const D4 = simdLimit(D);
  const invD = 1 / <f64>D;
  for (let r = r0; r < r1; r++) {
    const off = <usize>r * <usize>D << 2;
    const xr = x + off;
    const gyr = gradY + off;
    const gxr = gradX + off;
    const m = <f64>ld(mean, r);
    const s = <f64>ld(rstd, r);
    const vm = f64x2.splat(m);
    const vs = f64x2.splat(s);
    // Σ g and Σ g·x̂ over the row
    let ga = f64x2.splat(0);
    let gb = f64x2.splat(0);
    let ha = f64x2.splat(0);
    let hb = f64x2.splat(0);
    let d = 0;
    for (; d < D4; d += 4) {
      const xv = ld4(xr, d);
      const gy = ld4(gyr, d);
      const w = ld4(weight, d);
      const xh0 = f64x2.mul(f64x2.sub(lo2(xv), vm), vs);
      const xh1 = f64x2.mul(f64x2.sub(hi2(xv), vm), vs);
      const g0 = f64x2.mul(lo2(gy), lo2(w));
      const g1 = f64x2.mul(hi2(gy), hi2(w));
      ga = f64x2.add(ga, g0);
      gb = f64x2.add(gb, g1);
      ha = f64x2.add(ha, f64x2.mul(g0, xh0));
      hb = f64x2.add(hb, f64x2.mul(g1, xh1));
    }
    let sumG = sum2(ga, gb);
    let sumGX = sum2(ha, hb);
    for (; d < D; d++) {
      const xh = (<f64>ld(xr, d) - m) * s;
      const g = <f64>ld(gyr, d) * <f64>ld(weight, d);
      sumG += g;
      sumGX += g * xh;
    }
    const mg = sumG * invD;
    const mgx = sumGX * invD;
    const vmg = f64x2.splat(mg);
    const vmgx = f64x2.splat(mgx);
    // gradX += rstd·((g − mean(g)) − x̂·mean(g·x̂))
    for (d = 0; d < D4; d += 4) {
      const xv = ld4(xr, d);
      const gy = ld4(gyr, d);
      const w = ld4(weight, d);
      const gx = ld4(gxr, d);
      const xh0 = f64x2.mul(f64x2.sub(lo2(xv), vm), vs);
      const xh1 = f64x2.mul(f64x2.sub(hi2(xv), vm), vs);
      const g0 = f64x2.mul(lo2(gy), lo2(w));
      const g1 = f64x2.mul(hi2(gy), hi2(w));
      const d0 = f64x2.mul(vs, f64x2.sub(f64x2.sub(g0, vmg), f64x2.mul(xh0, vmgx)));
      const d1 = f64x2.mul(vs, f64x2.sub(f64x2.sub(g1, vmg), f64x2.mul(xh1, vmgx)));
      v128.store(gxr + (<usize>d << 2), pack4(f64x2.add(lo2(gx), d0), f64x2.add(hi2(gx), d1)));
    }
    for (; d < D; d++) {
      const xh = (<f64>ld(xr, d) - m) * s;
      const g = <f64>ld(gyr, d) * <f64>ld(weight, d);
      st(gxr, d, <f32>(<f64>ld(gxr, d) + s * ((g - mg) - xh * mgx)));
    }
  }
}

/**
 * The ∂weight, ∂bias part of layerNormBackward on columns d0 ≤ d < d1 only (d0 a multiple of 4):
 * gradWeight += Σ_rows gradY·x̂, gradBias += Σ_rows gradY, each column summed in float64 over the
 * rows in order, then added to the float32 gradient once.
 */
export function layerNormParamGradsPart(
  gradWeight: usize, gradBias: usize, gradY: usize, x: usize, mean: usize, rstd: usize, R: i32, D: i32, d0: i32, d1: i32,
): void {
  let d = d0;
  for (; d + 4 <= d1; d += 4) {
    let w0 = f64x2.splat(0), w1 = f64x2.splat(0), b0 = f64x2.splat(0), b1 = f64x2.splat(0);
    for (let r = 0; r < R; r++) {
      const off = (<usize>r * <usize>D + <usize>d) << 2;
      const xv = v128.load(x + off);
      const gy = v128.load(gradY + off);
      const vm = f64x2.splat(<f64>ld(mean, r));
      const vs = f64x2.splat(<f64>ld(rstd, r));
      const gy0 = lo2(gy);
      const gy1 = hi2(gy);
      // Σ gradY·x̂, Σ gradY
      w0 = f64x2.add(w0, f64x2.mul(gy0, f64x2.mul(f64x2.sub(lo2(xv), vm), vs)));
      w1 = f64x2.add(w1, f64x2.mul(gy1, f64x2.mul(f64x2.sub(hi2(xv), vm), vs)));
      b0 = f64x2.add(b0, gy0);
      b1 = f64x2.add(b1, gy1);
    }
    v128.store(gradWeight + (<usize>d << 2), pack4(f64x2.add(lo2(ld4(gradWeight, d)), w0), f64x2.add(hi2(ld4(gradWeight, d)), w1)));
    v128.store(gradBias + (<usize>d << 2), pack4(f64x2.add(lo2(ld4(gradBias, d)), b0), f64x2.add(hi2(ld4(gradBias, d)), b1)));
  }
  for (; d < d1; d++) {
    let w: f64 = 0;
    let b: f64 = 0;
    for (let r = 0; r < R; r++) {
      const gy = <f64>ld(gradY, r * D + d);
      w += gy * ((<f64>ld(x, r * D + d) - <f64>ld(mean, r)) * <f64>ld(rstd, r));
      b += gy;
    }
    st(gradWeight, d, <f32>(<f64>ld(gradWeight, d) + w));
    st(gradBias, d, <f32>(<f64>ld(gradBias, d) + b));
  }
}
