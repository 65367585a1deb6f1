// Multi-head self-attention core on [B,H,N,Dh] tensors: attn = softmax((q·kᵀ)·scale) per row,
// out = attn·v, and its backward. Every (b, h) slab is computed on its own, in a fixed order, so a
// sample's results do not depend on B. Every dot product is an f32 sum in increasing index order
// (SIMD runs across outputs, never across a reduction); softmax exps are float64 (exp64).

import { exp64, exp64x2 } from "./exp";
import { ld, st, ld4, st4, simdLimit } from "./lanes";

// @ts-ignore: decorator
@inline function splat(ptr: usize, i: i32): v128 {
  return v128.load32_splat(ptr + (<usize>i << 2));
}

// @ts-ignore: decorator
@inline function madd(acc: v128, a: v128, b: v128): v128 {
  return f32x4.add(acc, f32x4.mul(a, b));
}

/** Columns of kᵀ rounded up to 8, so the score kernel never needs a column tail. */
function attentionPaddedN(N: i32): i32 {
  return (N + 7) & ~7;
}

/** bT [Dh, Np] = bᵀ for b [N, Dh], columns N..Np−1 zero. */
function packTransposed(bT: usize, b: usize, N: i32, Dh: i32, Np: i32): void {
  for (let d = 0; d < Dh; d++) {
    const row = bT + (<usize>(d * Np) << 2);
    for (let j = 0; j < N; j++) st(row, j, ld(b, j * Dh + d));
    for (let j = N; j < Np; j++) st(row, j, 0);
  }
}

/**
 * s [rows, Np] = a[i0 .. i0+rows) · bTᵀ, i.e. s[t, j] = Σ_d a[i0+t, d]·bT[d, j], for rows 4 or 1.
 * Each sum runs d = 0, 1, …, Dh−1 in f32.
 */
function rowsDotT(s: usize, a: usize, i0: i32, rows: i32, bT: usize, Dh: i32, Np: i32): void {
  const a0 = a + (<usize>(i0 * Dh) << 2);
  if (rows == 4) {
    const a1 = a0 + (<usize>Dh << 2);
    const a2 = a1 + (<usize>Dh << 2);
    const a3 = a2 + (<usize>Dh << 2);
    for (let j = 0; j < Np; j += 8) {
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      let col = bT + (<usize>j << 2);
      for (let d = 0; d < Dh; d++) {
        const b0 = v128.load(col);
        const b1 = v128.load(col, 16);
        let x = splat(a0, d);
        c00 = madd(c00, x, b0);
        c01 = madd(c01, x, b1);
        x = splat(a1, d);
        c10 = madd(c10, x, b0);
        c11 = madd(c11, x, b1);
        x = splat(a2, d);
        c20 = madd(c20, x, b0);
        c21 = madd(c21, x, b1);
        x = splat(a3, d);
        c30 = madd(c30, x, b0);
        c31 = madd(c31, x, b1);
        col += <usize>Np << 2;
      }
      st4(s, j, c00);
      st4(s, j + 4, c01);
      st4(s, Np + j, c10);
      st4(s, Np + j + 4, c11);
      st4(s, 2 * Np + j, c20);
      st4(s, 2 * Np + j + 4, c21);
      st4(s, 3 * Np + j, c30);
      st4(s, 3 * Np + j + 4, c31);
    }
  } else {
    for (let t = 0; t < rows; t++) {
      const at = a0 + (<usize>(t * Dh) << 2);
      const st_ = s + (<usize>(t * Np) << 2);
      for (let j = 0; j < Np; j += 8) {
        let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
        let col = bT + (<usize>j << 2);
        for (let d = 0; d < Dh; d++) {
          const x = splat(at, d);
          c0 = madd(c0, x, v128.load(col));
          c1 = madd(c1, x, v128.load(col, 16));
          col += <usize>Np << 2;
        }
        st4(st_, j, c0);
        st4(st_, j + 4, c1);
      }
    }
  }
}

/**
 * c [M, Dh] (+)= p [M, K] · m [K, Dh] (p rows of stride K): c[i, d] = Σ_k p[i, k]·m[k, d], summed
 * k = 0, 1, …, K−1 in f32, then stored (accumulate false) or added to c (accumulate true).
 */
function matMul(c: usize, p: usize, m: usize, M: i32, K: i32, Dh: i32, accumulate: bool): void {
  const Dh8 = Dh & ~7;
  const Dh4 = simdLimit(Dh);
  const rowP = <usize>K << 2;
  const rowM = <usize>Dh << 2;
  let i = 0;
  for (; i + 4 <= M; i += 4) {
    const p0 = p + <usize>i * rowP;
    const c0 = c + <usize>i * rowM;
    let d = 0;
    for (; d < Dh8; d += 8) {
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      let mk = m + (<usize>d << 2);
      let pk = p0;
      for (let k = 0; k < K; k++) {
        const b0 = v128.load(mk);
        const b1 = v128.load(mk, 16);
        let x = v128.load32_splat(pk);
        c00 = madd(c00, x, b0);
        c01 = madd(c01, x, b1);
        x = v128.load32_splat(pk + rowP);
        c10 = madd(c10, x, b0);
        c11 = madd(c11, x, b1);
        x = v128.load32_splat(pk + 2 * rowP);
        c20 = madd(c20, x, b0);
        c21 = madd(c21, x, b1);
        x = v128.load32_splat(pk + 3 * rowP);
        c30 = madd(c30, x, b0);
        c31 = madd(c31, x, b1);
        mk += rowM;
        pk += 4;
      }
      store4(c0, d, c00, accumulate);
      store4(c0, d + 4, c01, accumulate);
      store4(c0 + rowM, d, c10, accumulate);
      store4(c0 + rowM, d + 4, c11, accumulate);
      store4(c0 + 2 * rowM, d, c20, accumulate);
      store4(c0 + 2 * rowM, d + 4, c21, accumulate);
      store4(c0 + 3 * rowM, d, c30, accumulate);
      store4(c0 + 3 * rowM, d + 4, c31, accumulate);
    }
    for (let t = 0; t < 4; t++) matMulRowTail(c0 + <usize>t * rowM, p0 + <usize>t * rowP, m, K, Dh, d, Dh4, accumulate);
  }
  for (; i < M; i++) matMulRowTail(c + <usize>i * rowM, p + <usize>i * rowP, m, K, Dh, 0, Dh4, accumulate);
}

/** One row of `matMul` from column d0 on: 4-wide chunks up to Dh4, then single columns. */
function matMulRowTail(ci: usize, pi: usize, m: usize, K: i32, Dh: i32, d0: i32, Dh4: i32, accumulate: bool): void {
  const rowM = <usize>Dh << 2;
  let d = d0;
  for (; d < Dh4; d += 4) {
    let acc = f32x4.splat(0);
    let mk = m + (<usize>d << 2);
    for (let k = 0; k < K; k++) {
      acc = madd(acc, splat(pi, k), v128.load(mk));
      mk += rowM;
    }
    store4(ci, d, acc, accumulate);
  }
  for (; d < Dh; d++) {
    let acc: f32 = 0;
    for (let k = 0; k < K; k++) acc += ld(pi, k) * ld(m, k * Dh + d);
    st(ci, d, accumulate ? ld(ci, d) + acc : acc);
  }
}

// @ts-ignore: decorator
@inline function store4(c: usize, d: i32, v: v128, accumulate: bool): void {
  st4(c, d, accumulate ? f32x4.add(ld4(c, d), v) : v);
}

/**
 * c [K, Dh] += pᵀ · m for p [M, K], m [M, Dh]: c[j, d] += Σ_i p[i, j]·m[i, d], summed
 * i = 0, 1, …, M−1 in f32 before the one add into c.
 */
function matMulTransA(c: usize, p: usize, m: usize, M: i32, K: i32, Dh: i32): void {
  const Dh8 = Dh & ~7;
  const Dh4 = simdLimit(Dh);
  const rowP = <usize>K << 2;
  const rowM = <usize>Dh << 2;
  let j = 0;
  for (; j + 4 <= K; j += 4) {
    const c0 = c + <usize>j * rowM;
    let d = 0;
    for (; d < Dh8; d += 8) {
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      let mi = m + (<usize>d << 2);
      let pi = p + (<usize>j << 2);
      for (let i = 0; i < M; i++) {
        const b0 = v128.load(mi);
        const b1 = v128.load(mi, 16);
        let x = v128.load32_splat(pi);
        c00 = madd(c00, x, b0);
        c01 = madd(c01, x, b1);
        x = v128.load32_splat(pi, 4);
        c10 = madd(c10, x, b0);
        c11 = madd(c11, x, b1);
        x = v128.load32_splat(pi, 8);
        c20 = madd(c20, x, b0);
        c21 = madd(c21, x, b1);
        x = v128.load32_splat(pi, 12);
        c30 = madd(c30, x, b0);
        c31 = madd(c31, x, b1);
        mi += rowM;
        pi += rowP;
      }
      store4(c0, d, c00, true);
      store4(c0, d + 4, c01, true);
      store4(c0 + rowM, d, c10, true);
      store4(c0 + rowM, d + 4, c11, true);
      store4(c0 + 2 * rowM, d, c20, true);
      store4(c0 + 2 * rowM, d + 4, c21, true);
      store4(c0 + 3 * rowM, d, c30, true);
      store4(c0 + 3 * rowM, d + 4, c31, true);
    }
    for (let t = 0; t < 4; t++) matMulTransATail(c0 + <usize>t * rowM, p + (<usize>(j + t) << 2), m, M, K, Dh, d, Dh4);
  }
  for (; j < K; j++) matMulTransATail(c + <usize>j * rowM, p + (<usize>j << 2), m, M, K, Dh, 0, Dh4);
}

/** One output row j of `matMulTransA` (pj = &p[0, j]) from column d0 on. */
function matMulTransATail(cj: usize, pj: usize, m: usize, M: i32, K: i32, Dh: i32, d0: i32, Dh4: i32): void {
  const rowP = <usize>K << 2;
  const rowM = <usize>Dh << 2;
  let d = d0;
  for (; d < Dh4; d += 4) {
    let acc = f32x4.splat(0);
    let mi = m + (<usize>d << 2);
    let pi = pj;
    for (let i = 0; i < M; i++) {
      acc = madd(acc, v128.load32_splat(pi), v128.load(mi));
      mi += rowM;
      pi += rowP;
    }
    store4(cj, d, acc, true);
  }
  for (; d < Dh; d++) {
    let acc: f32 = 0;
    for (let i = 0; i < M; i++) acc += load<f32>(pj + <usize>i * rowP) * ld(m, i * Dh + d);
    st(cj, d, ld(cj, d) + acc);
  }
}

/**
 * p [N] = softmax(s [N]·scale) for one row: z = f32(s·scale); e = exp(z − max) in float64;
 * p = f32(f32(e) / Σ e). NaN anywhere in the row makes the whole row NaN.
 */
function softmaxRow(p: usize, s: usize, N: i32, scale: f32): void {
  const N4 = simdLimit(N);
  const vscale = f32x4.splat(scale);
  let vmax = f32x4.splat(-Infinity);
  let j = 0;
  // z = (q·k)·scale, max over the row (f32x4.max propagates NaN)
  for (; j < N4; j += 4) {
    const z = f32x4.mul(ld4(s, j), vscale);
    st4(s, j, z);
    vmax = f32x4.max(vmax, z);
  }
  let max = maxNaN(maxNaN(f32x4.extract_lane(vmax, 0), f32x4.extract_lane(vmax, 1)), maxNaN(f32x4.extract_lane(vmax, 2), f32x4.extract_lane(vmax, 3)));
  for (; j < N; j++) {
    const z = ld(s, j) * scale;
    st(s, j, z);
    max = maxNaN(max, z);
  }
  // e = exp(z − max) in float64, stored as f32; Σ e in float64 (two f64x2 partial sums, then the tail)
  const m = <f64>max;
  const vm = f64x2.splat(m);
  let sa = f64x2.splat(0);
  let sb = f64x2.splat(0);
  for (j = 0; j < N4; j += 4) {
    const z = ld4(s, j);
    const e0 = exp64x2(f64x2.sub(f64x2.promote_low_f32x4(z), vm));
    const e1 = exp64x2(f64x2.sub(f64x2.promote_low_f32x4(i32x4.shuffle(z, z, 2, 3, 2, 3)), vm));
    sa = f64x2.add(sa, e0);
    sb = f64x2.add(sb, e1);
    st4(p, j, i32x4.shuffle(f32x4.demote_f64x2_zero(e0), f32x4.demote_f64x2_zero(e1), 0, 1, 4, 5));
  }
  let sum = (f64x2.extract_lane(sa, 0) + f64x2.extract_lane(sa, 1)) + (f64x2.extract_lane(sb, 0) + f64x2.extract_lane(sb, 1));
  for (; j < N; j++) {
    const e = exp64(<f64>ld(s, j) - m);
    sum += e;
    st(p, j, <f32>e);
  }
  // p = e / Σ e
  const vsum = f64x2.splat(sum);
  for (j = 0; j < N4; j += 4) {
    const e = ld4(p, j);
    const p0 = f64x2.div(f64x2.promote_low_f32x4(e), vsum);
    const p1 = f64x2.div(f64x2.promote_low_f32x4(i32x4.shuffle(e, e, 2, 3, 2, 3)), vsum);
    st4(p, j, i32x4.shuffle(f32x4.demote_f64x2_zero(p0), f32x4.demote_f64x2_zero(p1), 0, 1, 4, 5));
  }
  for (; j < N; j++) st(p, j, <f32>(<f64>ld(p, j) / sum));
}

// @ts-ignore: decorator
@inline function maxNaN(a: f32, b: f32): f32 {
  return b > a || b != b ? b : a;
}

/**
 * out [B,H,N,Dh] = softmax((q·kᵀ)·scale)·v and attn [B,H,N,N] the softmax, from q, k, v [B,H,N,Dh].
 * work: (Dh + 4)·Np floats, Np = attentionPaddedN(N), 16-byte aligned.
 */
export function attentionForward(out: usize, attn: usize, q: usize, k: usize, v: usize, B: i32, H: i32, N: i32, Dh: i32, scale: f32, work: usize): void {
  attentionForwardPart(out, attn, q, k, v, B, H, N, Dh, scale, work, 0, B * H);
}

/** attentionForward for the (batch, head) slabs bh0 ≤ bh < bh1 only (one thread's share: slabs are independent). */
export function attentionForwardPart(
  out: usize, attn: usize, q: usize, k: usize, v: usize, B: i32, H: i32, N: i32, Dh: i32, scale: f32, work: usize, bh0: i32, bh1: i32,
): void {
  const Np = attentionPaddedN(N);
  const kT = work;
  const s = work + (<usize>(Dh * Np) << 2);
  const slab = <usize>(N * Dh) << 2;
  const attnSlab = <usize>N * <usize>N << 2;
  for (let bh = bh0; bh < bh1; bh++) {
    const qs = q + <usize>bh * slab;
    const ks = k + <usize>bh * slab;
    const vs = v + <usize>bh * slab;
    const as = attn + <usize>bh * attnSlab;
    packTransposed(kT, ks, N, Dh, Np);
    let i = 0;
    for (; i < N; ) {
      const rows = i + 4 <= N ? 4 : 1;
      // scores of `rows` query rows against every key
      rowsDotT(s, qs, i, rows, kT, Dh, Np);
      for (let t = 0; t < rows; t++) softmaxRow(as + (<usize>((i + t) * N) << 2), s + (<usize>(t * Np) << 2), N, scale);
      i += rows;
    }
    // out = attn·v
    matMul(out + <usize>bh * slab, as, vs, N, N, Dh, false);
  }
}

/**
 * Backward of attentionForward, accumulating into gradQ, gradK, gradV [B,H,N,Dh]:
 *   gradV += attnᵀ·gradOut;  gradAttn = gradOut·vᵀ;  gradScores = attn ⊙ (gradAttn − rowsum(gradAttn ⊙ attn))
 *   gradQ += (gradScores·scale)·k;  gradK += (gradScores·scale)ᵀ·q
 * work: (Dh + 4)·Np + N·N floats, 16-byte aligned.
 */
export function attentionBackward(
  gradQ: usize, gradK: usize, gradV: usize, gradOut: usize, q: usize, k: usize, v: usize, attn: usize,
  B: i32, H: i32, N: i32, Dh: i32, scale: f32, work: usize,
): void {
  attentionBackwardPart(gradQ, gradK, gradV, gradOut, q, k, v, attn, B, H, N, Dh, scale, work, 0, B * H);
}

/** attentionBackward for the (batch, head) slabs bh0 ≤ bh < bh1 only (one thread's share: slabs are independent). */
export function attentionBackwardPart(
  gradQ: usize, gradK: usize, gradV: usize, gradOut: usize, q: usize, k: usize, v: usize, attn: usize,
  B: i32, H: i32, N: i32, Dh: i32, scale: f32, work: usize, bh0: i32, bh1: i32,
): void {
  const Np = attentionPaddedN(N);
  const vT = work;
  const s = vT + (<usize>(Dh * Np) << 2);
  const g = s + (<usize>(4 * Np) << 2);
  const slab = <usize>(N * Dh) << 2;
  const attnSlab = <usize>N * <usize>N << 2;
  for (let bh = bh0; bh < bh1; bh++) {
    const off = <usize>bh * slab;
    const as = attn + <usize>bh * attnSlab;
    const gos = gradOut + off;
    packTransposed(vT, v + off, N, Dh, Np);
    let i = 0;
    for (; i < N; ) {
      const rows = i + 4 <= N ? 4 : 1;
      // gradAttn rows = gradOut·vᵀ
      rowsDotT(s, gos, i, rows, vT, Dh, Np);
      for (let t = 0; t < rows; t++) {
        const ga = s + (<usize>(t * Np) << 2);
        const ar = as + (<usize>((i + t) * N) << 2);
        const gr = g + (<usize>((i + t) * N) << 2);
        // rowsum(gradAttn ⊙ attn) in float64
        let rs: f64 = 0;
        for (let j = 0; j < N; j++) rs += <f64>ld(ga, j) * <f64>ld(ar, j);
        // gradScores = attn ⊙ (gradAttn − rowsum), then ·scale as the gradient of (q·kᵀ)·scale
        for (let j = 0; j < N; j++) st(gr, j, <f32>(<f64>ld(ar, j) * (<f64>ld(ga, j) - rs)) * scale);
      }
      i += rows;
    }
    matMul(gradQ + off, g, k + off, N, N, Dh, true);
    matMulTransA(gradK + off, g, q + off, N, N, Dh);
    matMulTransA(gradV + off, as, gos, N, N, Dh);
  }
}
