// Multi-head self-attention core: attn = softmax((q·kᵀ)·scale) per row, out = attn·v, and its
// backward, for every (batch, head) slab. Two layouts of the same numbers:
//   HEADS (0): q, k, v, out and their gradients [B,H,N,Dh] (the golden `attention` op);
//   ROWS  (1): q, k, v are the three D-wide column blocks of the qkv Linear's output [B·N, 3D]
//              (pointers to its columns 0, D, 2D; row stride 3D), out and gradOut are the merged
//              heads [B·NQ, D] (row stride D), gradients land in [B·N, 3D] like qkv: the model's
//              layout, so no head split or merge is ever copied. Only the first NQ tokens of each
//              sample are queries (NQ = 1: the CLS token, all a DINO head reads of the last block);
//              every token is a key and a value. attn is then [B,H,NQ,N].
// Every slab is computed on its own, in a fixed order, so a sample's results do not depend on B
// or on how slabs are split across threads. Dot products are f32 sums in increasing index order
// (SIMD runs across outputs, never across a reduction). The softmax takes a float32 exp (./exp32)
// and f32 row sums over four lanes, combined in a fixed order. The forward consumes each block of
// 4 query rows' probabilities at once (out = p·v), so attn [B,H,N,N] is written only when asked for
// (attn ≠ 0: the training backward and the attention maps read it).

import { exp32x4 } from "./exp32";
import { ld, st, ld4, st4, lo2, hi2, pack4 } from "./lanes";

const HEADS = 0;
const ROWS = 1;

// @ts-ignore: decorator
@inline function splat(ptr: usize, i: i32): v128 {
  return v128.load32_splat(ptr + (<usize>i << 2));
}

// @ts-ignore: decorator
@inline function madd(acc: v128, a: v128, b: v128): v128 {
  return f32x4.add(acc, f32x4.mul(a, b));
}

/** Columns of kᵀ rounded up to 4 (whole SIMD groups; the score kernels take 8, then 4). */
function attentionPaddedN(N: i32): i32 {
  return (N + 3) & ~3;
}

/** bT [Dh, Np] = bᵀ for b [N, Dh] (rows ldb floats apart), columns N..Np−1 zero. */
function packTransposed(bT: usize, b: usize, ldb: i32, N: i32, Dh: i32, Np: i32): void {
  for (let d = 0; d < Dh; d++) {
    const row = bT + (<usize>(d * Np) << 2);
    for (let j = 0; j < N; j++) st(row, j, ld(b, j * ldb + d));
    for (let j = N; j < Np; j++) st(row, j, 0);
  }
}

/** Lanes j..j+3 that are keys (< N) as an all-ones mask. */
// @ts-ignore: decorator
@inline function keyLanes(j: i32, N: i32): v128 {
  return i32x4.lt_s(i32x4.add(i32x4.splat(j), i32x4(0, 1, 2, 3)), i32x4.splat(N));
}

/**
 * z = dot·scale on four lanes of columns j..j+3, the padded columns (≥ N) −Inf. (Row maxima are
 * taken with pmax, one instruction that skips NaN: a NaN score still makes its row NaN, by its exp.)
 */
// @ts-ignore: decorator
@inline function scaled(dot: v128, j: i32, N: i32, vscale: v128): v128 {
  const z = f32x4.mul(dot, vscale);
  return j + 4 > N ? v128.bitselect(z, f32x4.splat(-Infinity), keyLanes(j, N)) : z;
}

/**
 * s [rows, Np] = (a[i0 .. i0+rows) · bTᵀ)·scale, i.e. s[t, j] = (Σ_d a[i0+t, d]·bT[d, j])·scale,
 * for rows 4 or 1 (a's rows lda floats apart). Each sum runs d = 0, 1, …, Dh−1 in f32; scale 1
 * leaves it exact. With maxSlot ≠ 0 (attention scores) the columns j ≥ N are set to −Inf and each
 * row's maximum is stored, splatted, at maxSlot + 16·t.
 */
function rowsDotT(s: usize, a: usize, lda: i32, i0: i32, rows: i32, bT: usize, Dh: i32, Np: i32, N: i32, scale: f32, maxSlot: usize): void {
  const a0 = a + (<usize>(i0 * lda) << 2);
  const vscale = f32x4.splat(scale);
  const rowNp = <usize>Np << 2;
  if (rows == 4) {
    const a1 = a0 + (<usize>lda << 2);
    const a2 = a1 + (<usize>lda << 2);
    const a3 = a2 + (<usize>lda << 2);
    let m0 = f32x4.splat(-Infinity), m1 = m0, m2 = m0, m3 = m0;
    let j = 0;
    for (; j + 8 <= Np; j += 8) {
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
        col += rowNp;
      }
      c00 = scaled(c00, j, N, vscale); c01 = scaled(c01, j + 4, N, vscale);
      c10 = scaled(c10, j, N, vscale); c11 = scaled(c11, j + 4, N, vscale);
      c20 = scaled(c20, j, N, vscale); c21 = scaled(c21, j + 4, N, vscale);
      c30 = scaled(c30, j, N, vscale); c31 = scaled(c31, j + 4, N, vscale);
      st4(s, j, c00);
      st4(s, j + 4, c01);
      st4(s + rowNp, j, c10);
      st4(s + rowNp, j + 4, c11);
      st4(s + 2 * rowNp, j, c20);
      st4(s + 2 * rowNp, j + 4, c21);
      st4(s + 3 * rowNp, j, c30);
      st4(s + 3 * rowNp, j + 4, c31);
      if (maxSlot != 0) {
        m0 = f32x4.pmax(m0, f32x4.pmax(c00, c01));
        m1 = f32x4.pmax(m1, f32x4.pmax(c10, c11));
        m2 = f32x4.pmax(m2, f32x4.pmax(c20, c21));
        m3 = f32x4.pmax(m3, f32x4.pmax(c30, c31));
      }
    }
    if (j < Np) {
      // the last 4 columns
      let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
      let col = bT + (<usize>j << 2);
      for (let d = 0; d < Dh; d++) {
        const b0 = v128.load(col);
        c0 = madd(c0, splat(a0, d), b0);
        c1 = madd(c1, splat(a1, d), b0);
        c2 = madd(c2, splat(a2, d), b0);
        c3 = madd(c3, splat(a3, d), b0);
        col += rowNp;
      }
      c0 = scaled(c0, j, N, vscale);
      c1 = scaled(c1, j, N, vscale);
      c2 = scaled(c2, j, N, vscale);
      c3 = scaled(c3, j, N, vscale);
      st4(s, j, c0);
      st4(s + rowNp, j, c1);
      st4(s + 2 * rowNp, j, c2);
      st4(s + 3 * rowNp, j, c3);
      if (maxSlot != 0) {
        m0 = f32x4.pmax(m0, c0);
        m1 = f32x4.pmax(m1, c1);
        m2 = f32x4.pmax(m2, c2);
        m3 = f32x4.pmax(m3, c3);
      }
    }
    if (maxSlot != 0) {
      v128.store(maxSlot, allLanesMax(m0));
      v128.store(maxSlot, allLanesMax(m1), 16);
      v128.store(maxSlot, allLanesMax(m2), 32);
      v128.store(maxSlot, allLanesMax(m3), 48);
    }
  } else {
    for (let t = 0; t < rows; t++) {
      const at = a0 + (<usize>(t * lda) << 2);
      const st_ = s + <usize>t * rowNp;
      let m = f32x4.splat(-Infinity);
      for (let j = 0; j < Np; j += 4) {
        let c0 = f32x4.splat(0);
        let col = bT + (<usize>j << 2);
        for (let d = 0; d < Dh; d++) {
          c0 = madd(c0, splat(at, d), v128.load(col));
          col += rowNp;
        }
        c0 = scaled(c0, j, N, vscale);
        st4(st_, j, c0);
        m = f32x4.pmax(m, c0);
      }
      if (maxSlot != 0) v128.store(maxSlot + (<usize>t << 4), allLanesMax(m));
    }
  }
}

/** The maximum of the four lanes in every lane (pmax). */
// @ts-ignore: decorator
@inline function allLanesMax(m: v128): v128 {
  const m2 = f32x4.pmax(m, i32x4.shuffle(m, m, 2, 3, 0, 1));
  return f32x4.pmax(m2, i32x4.shuffle(m2, m2, 1, 0, 3, 2));
}

/**
 * c [M, Dh] (+)= p [M, K] · m [K, Dh]: c[i, d] = Σ_k p[i, k]·m[k, d], summed k = 0, 1, …, K−1 in
 * f32, then stored (accumulate false) or added to c (accumulate true). Row strides: p ldp, m ldm,
 * c ldc floats.
 */
function matMul(c: usize, ldc: i32, p: usize, ldp: i32, m: usize, ldm: i32, M: i32, K: i32, Dh: i32, accumulate: bool): void {
  const Dh8 = Dh & ~7;
  const rowP = <usize>ldp << 2;
  const rowM = <usize>ldm << 2;
  const rowC = <usize>ldc << 2;
  let i = 0;
  for (; i + 4 <= M; i += 4) {
    const p0 = p + <usize>i * rowP;
    const c0 = c + <usize>i * rowC;
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
      store4(c0 + rowC, d, c10, accumulate);
      store4(c0 + rowC, d + 4, c11, accumulate);
      store4(c0 + 2 * rowC, d, c20, accumulate);
      store4(c0 + 2 * rowC, d + 4, c21, accumulate);
      store4(c0 + 3 * rowC, d, c30, accumulate);
      store4(c0 + 3 * rowC, d + 4, c31, accumulate);
    }
    for (let t = 0; t < 4; t++) matMulRowTail(c0 + <usize>t * rowC, p0 + <usize>t * rowP, m, rowM, K, Dh, d, accumulate);
  }
  for (; i < M; i++) matMulRowTail(c + <usize>i * rowC, p + <usize>i * rowP, m, rowM, K, Dh, 0, accumulate);
}

/** One row of `matMul` from column d0 on: 4-wide chunks up to Dh & ~3, then single columns. */
function matMulRowTail(ci: usize, pi: usize, m: usize, rowM: usize, K: i32, Dh: i32, d0: i32, accumulate: bool): void {
  const Dh4 = Dh & ~3;
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
    for (let k = 0; k < K; k++) acc += ld(pi, k) * load<f32>(m + <usize>k * rowM + (<usize>d << 2));
    st(ci, d, accumulate ? ld(ci, d) + acc : acc);
  }
}

// @ts-ignore: decorator
@inline function store4(c: usize, d: i32, v: v128, accumulate: bool): void {
  st4(c, d, accumulate ? f32x4.add(ld4(c, d), v) : v);
}

/**
 * c [K, Dh] (+)= pᵀ · m for p [M, K], m [M, Dh]: c[j, d] = Σ_i p[i, j]·m[i, d], summed
 * i = 0, 1, …, M−1 in f32, then stored or added to c (one add). Row strides: p ldp, m ldm, c ldc.
 */
function matMulTransA(c: usize, ldc: i32, p: usize, ldp: i32, m: usize, ldm: i32, M: i32, K: i32, Dh: i32, accumulate: bool): void {
  const Dh8 = Dh & ~7;
  const rowP = <usize>ldp << 2;
  const rowM = <usize>ldm << 2;
  const rowC = <usize>ldc << 2;
  let j = 0;
  for (; j + 4 <= K; j += 4) {
    const c0 = c + <usize>j * rowC;
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
      store4(c0, d, c00, accumulate);
      store4(c0, d + 4, c01, accumulate);
      store4(c0 + rowC, d, c10, accumulate);
      store4(c0 + rowC, d + 4, c11, accumulate);
      store4(c0 + 2 * rowC, d, c20, accumulate);
      store4(c0 + 2 * rowC, d + 4, c21, accumulate);
      store4(c0 + 3 * rowC, d, c30, accumulate);
      store4(c0 + 3 * rowC, d + 4, c31, accumulate);
    }
    for (let t = 0; t < 4; t++) matMulTransATail(c0 + <usize>t * rowC, p + (<usize>(j + t) << 2), rowP, m, rowM, M, Dh, d, accumulate);
  }
  for (; j < K; j++) matMulTransATail(c + <usize>j * rowC, p + (<usize>j << 2), rowP, m, rowM, M, Dh, 0, accumulate);
}

/** One output row j of `matMulTransA` (pj = &p[0, j]) from column d0 on. */
function matMulTransATail(cj: usize, pj: usize, rowP: usize, m: usize, rowM: usize, M: i32, Dh: i32, d0: i32, accumulate: bool): void {
  const Dh4 = Dh & ~3;
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
    store4(cj, d, acc, accumulate);
  }
  for (; d < Dh; d++) {
    let acc: f32 = 0;
    for (let i = 0; i < M; i++) acc += load<f32>(pj + <usize>i * rowP) * load<f32>(m + <usize>i * rowM + (<usize>d << 2));
    st(cj, d, accumulate ? ld(cj, d) + acc : acc);
  }
}

/**
 * p [Np] = softmax of the row z [Np] (already scaled, −Inf past N; its max splatted at maxAt):
 * e = exp32(z − max), Σ e over four lanes ((l0 + l1) + (l2 + l3)), p = e / Σ (0 past N). With
 * attnRow ≠ 0 the N probabilities are also stored there. NaN anywhere in the row makes the whole
 * row NaN (as does +Inf, or a row of −Inf). `sumAt`: 16 bytes of workspace; the sum goes through it
 * (V8 would otherwise redo its horizontal add inside the next loop, at every iteration).
 */
function softmaxRow(p: usize, attnRow: usize, z: usize, N: i32, Np: i32, maxAt: usize, sumAt: usize): void {
  const max = v128.load(maxAt);
  // e = exp(z − max), Σ e per lane (padded lanes: exp(−Inf) = 0)
  let vsum = f32x4.splat(0);
  for (let j = 0; j < Np; j += 4) {
    const e = exp32x4(f32x4.sub(ld4(z, j), max));
    st4(p, j, e);
    vsum = f32x4.add(vsum, e);
  }
  v128.store(sumAt, f32x4.splat((f32x4.extract_lane(vsum, 0) + f32x4.extract_lane(vsum, 1)) + (f32x4.extract_lane(vsum, 2) + f32x4.extract_lane(vsum, 3))));
  const sum = v128.load(sumAt);
  // p = e / Σ e
  for (let j = 0; j < Np; j += 4) st4(p, j, f32x4.div(ld4(p, j), sum));
  if (attnRow != 0) {
    let j = 0;
    for (; j + 4 <= N; j += 4) st4(attnRow, j, ld4(p, j));
    for (; j < N; j++) st(attnRow, j, ld(p, j));
  }
}

/**
 * One row of the softmax backward: g [N] = f32(attn ⊙ (gradAttn − rowsum))·scale, rowsum =
 * Σ_j gradAttn_j·attn_j in float64 (two f64x2 lanes over the first N & ~3 columns, then the rest in
 * order), the products in float64.
 */
function gradScoresRow(g: usize, ga: usize, ar: usize, N: i32, scale: f32): void {
  const N4 = N & ~3;
  let acc0 = f64x2.splat(0);
  let acc1 = f64x2.splat(0);
  let j = 0;
  for (; j < N4; j += 4) {
    const v = ld4(ga, j);
    const a = ld4(ar, j);
    acc0 = f64x2.add(acc0, f64x2.mul(lo2(v), lo2(a)));
    acc1 = f64x2.add(acc1, f64x2.mul(hi2(v), hi2(a)));
  }
  // rowsum(gradAttn ⊙ attn)
  let rs = (f64x2.extract_lane(acc0, 0) + f64x2.extract_lane(acc0, 1)) + (f64x2.extract_lane(acc1, 0) + f64x2.extract_lane(acc1, 1));
  for (; j < N; j++) rs += <f64>ld(ga, j) * <f64>ld(ar, j);
  const vrs = f64x2.splat(rs);
  const vscale = f32x4.splat(scale);
  // gradScores = attn ⊙ (gradAttn − rowsum), then ·scale as the gradient of (q·kᵀ)·scale
  for (j = 0; j < N4; j += 4) {
    const v = ld4(ga, j);
    const a = ld4(ar, j);
    const d = pack4(f64x2.mul(lo2(a), f64x2.sub(lo2(v), vrs)), f64x2.mul(hi2(a), f64x2.sub(hi2(v), vrs)));
    st4(g, j, f32x4.mul(d, vscale));
  }
  for (; j < N; j++) st(g, j, <f32>(<f64>ld(ar, j) * (<f64>ld(ga, j) - rs)) * scale);
}

/** Floats of forward workspace: kᵀ padded to Np columns, 4 score rows, 4 probability rows, 4 row maxima and a sum (4 floats each). */
export function attentionForwardWorkFloats(N: i32, Dh: i32): i32 {
  const Np = attentionPaddedN(N);
  return (Dh + 8) * Np + 20;
}

/** Floats of backward workspace: vᵀ padded, 4 score rows, and gradScores [N, Np]. */
export function attentionBackwardWorkFloats(N: i32, Dh: i32): i32 {
  const Np = attentionPaddedN(N);
  return (Dh + 4 + N) * Np;
}

/** Row stride (floats) of q, k, v and of their gradients in `layout`. */
// @ts-ignore: decorator
@inline function inStride(layout: i32, H: i32, Dh: i32): i32 {
  return layout == ROWS ? 3 * H * Dh : Dh;
}

/** Row stride of out and gradOut in `layout`. */
// @ts-ignore: decorator
@inline function outStride(layout: i32, H: i32, Dh: i32): i32 {
  return layout == ROWS ? H * Dh : Dh;
}

/** Byte offset of slab bh's first row in a tensor of `rows` rows per sample and row stride `ld` (floats) in `layout`. */
// @ts-ignore: decorator
@inline function slabOffset(layout: i32, bh: i32, H: i32, rows: i32, Dh: i32, ld_: i32): usize {
  if (layout == HEADS) return <usize>bh * <usize>(rows * Dh) << 2;
  const b = bh / H;
  const h = bh - b * H;
  return (<usize>(b * rows) * <usize>ld_ + <usize>(h * Dh)) << 2;
}

/**
 * out = softmax((q·kᵀ)·scale)·v and, when attn ≠ 0, attn [B,H,NQ,N] the softmax, for the first NQ
 * tokens of each sample as queries (HEADS: NQ = N). `layout` HEADS or ROWS (see the top of the
 * file). work: attentionForwardWorkFloats(N, Dh) floats, 16-byte aligned.
 */
export function attentionForward(out: usize, attn: usize, q: usize, k: usize, v: usize, B: i32, H: i32, N: i32, Dh: i32, scale: f32, work: usize, layout: i32, NQ: i32): void {
  attentionForwardPart(out, attn, q, k, v, B, H, N, Dh, scale, work, 0, B * H, layout, NQ);
}

/** attentionForward for the (batch, head) slabs bh0 ≤ bh < bh1 only (one thread's share: slabs are independent). */
export function attentionForwardPart(
  out: usize, attn: usize, q: usize, k: usize, v: usize, B: i32, H: i32, N: i32, Dh: i32, scale: f32, work: usize, bh0: i32, bh1: i32, layout: i32, NQ: i32,
): void {
  assert(layout == ROWS || NQ == N, "attentionForwardPart: fewer queries than tokens need the ROWS layout");
  const Np = attentionPaddedN(N);
  const kT = work;
  const s = work + (<usize>(Dh * Np) << 2);
  const p = s + (<usize>(4 * Np) << 2);
  const maxes = p + (<usize>(4 * Np) << 2);
  const sumAt = maxes + 64;
  const ldi = inStride(layout, H, Dh);
  const ldo = outStride(layout, H, Dh);
  const attnSlab = <usize>NQ * <usize>N << 2;
  for (let bh = bh0; bh < bh1; bh++) {
    const inOff = slabOffset(layout, bh, H, N, Dh, ldi);
    const qs = q + inOff;
    const vs = v + inOff;
    const os = out + slabOffset(layout, bh, H, NQ, Dh, ldo);
    packTransposed(kT, k + inOff, ldi, N, Dh, Np);
    for (let i = 0; i < NQ; ) {
      const rows = i + 4 <= NQ ? 4 : 1;
      // scores (q·k)·scale of `rows` query rows against every key and their maxima, the softmax, then out rows = p·v
      rowsDotT(s, qs, ldi, i, rows, kT, Dh, Np, N, scale, maxes);
      for (let t = 0; t < rows; t++) {
        const attnRow: usize = attn == 0 ? 0 : attn + <usize>bh * attnSlab + (<usize>((i + t) * N) << 2);
        softmaxRow(p + (<usize>(t * Np) << 2), attnRow, s + (<usize>(t * Np) << 2), N, Np, maxes + (<usize>t << 4), sumAt);
      }
      matMul(os + (<usize>(i * ldo) << 2), ldo, p, Np, vs, ldi, rows, N, Dh, false);
      i += rows;
    }
  }
}

/**
 * Backward of attentionForward from the saved attn [B,H,NQ,N] (the first NQ tokens of each sample
 * the queries, gradOut [.., NQ, ..]):
 *   gradV (+)= attnᵀ·gradOut;  gradAttn = gradOut·vᵀ;  gradScores = attn ⊙ (gradAttn − rowsum(gradAttn ⊙ attn))
 *   gradQ (+)= (gradScores·scale)·k (rows past NQ: 0);  gradK (+)= (gradScores·scale)ᵀ·q
 * accumulating into gradQ, gradK, gradV when `accumulate`, else overwriting them (every row).
 * work: attentionBackwardWorkFloats(N, Dh) floats, 16-byte aligned.
 */
export function attentionBackward(
  gradQ: usize, gradK: usize, gradV: usize, gradOut: usize, q: usize, k: usize, v: usize, attn: usize,
  B: i32, H: i32, N: i32, Dh: i32, scale: f32, work: usize, layout: i32, accumulate: i32, NQ: i32,
): void {
  attentionBackwardPart(gradQ, gradK, gradV, gradOut, q, k, v, attn, B, H, N, Dh, scale, work, 0, B * H, layout, accumulate, NQ);
}

/** attentionBackward for the (batch, head) slabs bh0 ≤ bh < bh1 only (one thread's share: slabs are independent). */
export function attentionBackwardPart(
  gradQ: usize, gradK: usize, gradV: usize, gradOut: usize, q: usize, k: usize, v: usize, attn: usize,
  B: i32, H: i32, N: i32, Dh: i32, scale: f32, work: usize, bh0: i32, bh1: i32, layout: i32, accumulate: i32, NQ: i32,
): void {
  assert(layout == ROWS || NQ == N, "attentionBackwardPart: fewer queries than tokens need the ROWS layout");
  const Np = attentionPaddedN(N);
  const vT = work;
  const s = vT + (<usize>(Dh * Np) << 2);
  const g = s + (<usize>(4 * Np) << 2);
  const ldi = inStride(layout, H, Dh);
  const ldo = outStride(layout, H, Dh);
  const acc = accumulate != 0;
  const attnSlab = <usize>NQ * <usize>N << 2;
  for (let bh = bh0; bh < bh1; bh++) {
    const inOff = slabOffset(layout, bh, H, N, Dh, ldi);
    const as = attn + <usize>bh * attnSlab;
    const gos = gradOut + slabOffset(layout, bh, H, NQ, Dh, ldo);
    packTransposed(vT, v + inOff, ldi, N, Dh, Np);
    for (let i = 0; i < NQ; ) {
      const rows = i + 4 <= NQ ? 4 : 1;
      // gradAttn rows = gradOut·vᵀ
      rowsDotT(s, gos, ldo, i, rows, vT, Dh, Np, N, 1, 0);
      for (let t = 0; t < rows; t++) {
        const ga = s + (<usize>(t * Np) << 2);
        const ar = as + (<usize>((i + t) * N) << 2);
        const gr = g + (<usize>((i + t) * Np) << 2);
        gradScoresRow(gr, ga, ar, N, scale);
      }
      i += rows;
    }
    matMul(gradQ + inOff, ldi, g, Np, k + inOff, ldi, NQ, N, Dh, acc);
    // the tokens that are no queries get no query gradient
    if (!acc) for (let i = NQ; i < N; i++) memory.fill(gradQ + inOff + (<usize>(i * ldi) << 2), 0, <usize>Dh << 2);
    matMulTransA(gradK + inOff, ldi, g, Np, q + inOff, ldi, NQ, N, Dh, acc);
    matMulTransA(gradV + inOff, ldi, as, N, gos, ldo, NQ, N, Dh, acc);
  }
}
