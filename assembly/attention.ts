// Multi-head self-attention core: attn = softmax((q·kᵀ)·scale) per row, out = attn·v, and its
// backward, for every (batch, head) slab. Two layouts of the same numbers:
//   HEADS (0): q, k, v, out and their gradients [B,H,N,Dh] (the golden `attention` op);
//   ROWS  (1): q, k, v are the three D-wide column blocks of the qkv Linear's output [B·N, 3D]
//              (pointers to its columns 0, D, 2D; row stride 3D), out and gradOut are the merged
//              heads [B·N, D] (row stride D), gradients land in [B·N, 3D] like qkv: the model's
//              layout, so no head split or merge is ever copied.
// Every slab is computed on its own, in a fixed order, so a sample's results do not depend on B
// or on how slabs are split across threads. Dot products are f32 sums in increasing index order
// (SIMD runs across outputs, never across a reduction). The softmax takes a float32 exp (./exp32)
// and f32 row sums over four lanes, combined in a fixed order. The forward consumes each block of
// 4 query rows' probabilities at once (out = p·v), so attn [B,H,N,N] is written only when asked for
// (attn ≠ 0: the training backward and the attention maps read it).

import { exp32x4 } from "./exp32";
import { ld, st, ld4, st4 } from "./lanes";

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

/** Columns of kᵀ rounded up to 8, so the score kernel never needs a column tail. */
function attentionPaddedN(N: i32): i32 {
  return (N + 7) & ~7;
}

/** bT [Dh, Np] = bᵀ for b [N, Dh] (rows ldb floats apart), columns N..Np−1 zero. */
function packTransposed(bT: usize, b: usize, ldb: i32, N: i32, Dh: i32, Np: i32): void {
  for (let d = 0; d < Dh; d++) {
    const row = bT + (<usize>(d * Np) << 2);
    for (let j = 0; j < N; j++) st(row, j, ld(b, j * ldb + d));
    for (let j = N; j < Np; j++) st(row, j, 0);
  }
}

/**
 * s [rows, Np] = a[i0 .. i0+rows) · bTᵀ, i.e. s[t, j] = Σ_d a[i0+t, d]·bT[d, j], for rows 4 or 1
 * (a's rows lda floats apart). Each sum runs d = 0, 1, …, Dh−1 in f32.
 */
function rowsDotT(s: usize, a: usize, lda: i32, i0: i32, rows: i32, bT: usize, Dh: i32, Np: i32): void {
  const a0 = a + (<usize>(i0 * lda) << 2);
  if (rows == 4) {
    const a1 = a0 + (<usize>lda << 2);
    const a2 = a1 + (<usize>lda << 2);
    const a3 = a2 + (<usize>lda << 2);
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
      const at = a0 + (<usize>(t * lda) << 2);
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

/** Lanes j..j+3 that are keys (< N) as an all-ones mask. */
// @ts-ignore: decorator
@inline function keyLanes(j: i32, N: i32): v128 {
  return i32x4.lt_s(i32x4.add(i32x4.splat(j), i32x4(0, 1, 2, 3)), i32x4.splat(N));
}

/**
 * p [Np] = softmax(s [Np]·scale) over the first N entries (p = 0 beyond): z = f32(s·scale),
 * e = exp32(z − max), Σ e over four lanes ((l0 + l1) + (l2 + l3)), p = e / Σ. With attnRow ≠ 0 the
 * N probabilities are also stored there. NaN anywhere in the row makes the whole row NaN (as does
 * +Inf, or a row of −Inf). `slot`: 16 bytes of workspace. The row's max and sum go through it: V8
 * would otherwise recompute their horizontal reductions inside the next loop, at every iteration.
 */
function softmaxRow(p: usize, attnRow: usize, s: usize, N: i32, Np: i32, scale: f32, slot: usize): void {
  const vscale = f32x4.splat(scale);
  const minusInf = f32x4.splat(-Infinity);
  let vmax = minusInf;
  // z = (q·k)·scale, max over the keys; padded lanes −Inf. pmax (one instruction) skips NaN, but a
  // NaN z gives a NaN e below, and so a NaN row, all the same
  for (let j = 0; j < Np; j += 4) {
    let z = f32x4.mul(ld4(s, j), vscale);
    if (j + 4 > N) z = v128.bitselect(z, minusInf, keyLanes(j, N));
    st4(s, j, z);
    vmax = f32x4.pmax(vmax, z);
  }
  const m2 = f32x4.pmax(vmax, i32x4.shuffle(vmax, vmax, 2, 3, 0, 1));
  v128.store(slot, f32x4.pmax(m2, i32x4.shuffle(m2, m2, 1, 0, 3, 2)));
  const max = v128.load(slot);
  // e = exp(z − max), Σ e per lane
  let vsum = f32x4.splat(0);
  for (let j = 0; j < Np; j += 4) {
    let e = exp32x4(f32x4.sub(ld4(s, j), max));
    // padded lanes: exactly 0 (−Inf − max is −Inf, or NaN when max is −Inf: the row is NaN anyway)
    if (j + 4 > N) e = v128.and(e, keyLanes(j, N));
    st4(p, j, e);
    vsum = f32x4.add(vsum, e);
  }
  v128.store(slot, f32x4.splat((f32x4.extract_lane(vsum, 0) + f32x4.extract_lane(vsum, 1)) + (f32x4.extract_lane(vsum, 2) + f32x4.extract_lane(vsum, 3))));
  const sum = v128.load(slot);
  // p = e / Σ e
  for (let j = 0; j < Np; j += 4) st4(p, j, f32x4.div(ld4(p, j), sum));
  if (attnRow != 0) {
    let j = 0;
    for (; j + 4 <= N; j += 4) st4(attnRow, j, ld4(p, j));
    for (; j < N; j++) st(attnRow, j, ld(p, j));
  }
}

/** Floats of forward workspace: kᵀ padded to Np columns, 4 score rows, 4 probability rows and a 4-float slot. */
export function attentionForwardWorkFloats(N: i32, Dh: i32): i32 {
  const Np = attentionPaddedN(N);
  return (Dh + 8) * Np + 4;
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

/** Byte offset of slab bh's first row in a tensor of row stride `ld` (floats) in `layout`. */
// @ts-ignore: decorator
@inline function slabOffset(layout: i32, bh: i32, H: i32, N: i32, Dh: i32, ld_: i32): usize {
  if (layout == HEADS) return <usize>bh * <usize>(N * Dh) << 2;
  const b = bh / H;
  const h = bh - b * H;
  return (<usize>(b * N) * <usize>ld_ + <usize>(h * Dh)) << 2;
}

/**
 * out = softmax((q·kᵀ)·scale)·v and, when attn ≠ 0, attn [B,H,N,N] the softmax. `layout` HEADS or
 * ROWS (see the top of the file). work: attentionForwardWorkFloats(N, Dh) floats, 16-byte aligned.
 */
export function attentionForward(out: usize, attn: usize, q: usize, k: usize, v: usize, B: i32, H: i32, N: i32, Dh: i32, scale: f32, work: usize, layout: i32): void {
  attentionForwardPart(out, attn, q, k, v, B, H, N, Dh, scale, work, 0, B * H, layout);
}

/** attentionForward for the (batch, head) slabs bh0 ≤ bh < bh1 only (one thread's share: slabs are independent). */
export function attentionForwardPart(
  out: usize, attn: usize, q: usize, k: usize, v: usize, B: i32, H: i32, N: i32, Dh: i32, scale: f32, work: usize, bh0: i32, bh1: i32, layout: i32,
): void {
  const Np = attentionPaddedN(N);
  const kT = work;
  const s = work + (<usize>(Dh * Np) << 2);
  const p = s + (<usize>(4 * Np) << 2);
  const slot = p + (<usize>(4 * Np) << 2);
  const ldi = inStride(layout, H, Dh);
  const ldo = outStride(layout, H, Dh);
  const attnSlab = <usize>N * <usize>N << 2;
  for (let bh = bh0; bh < bh1; bh++) {
    const inOff = slabOffset(layout, bh, H, N, Dh, ldi);
    const qs = q + inOff;
    const vs = v + inOff;
    const os = out + slabOffset(layout, bh, H, N, Dh, ldo);
    packTransposed(kT, k + inOff, ldi, N, Dh, Np);
    for (let i = 0; i < N; ) {
      const rows = i + 4 <= N ? 4 : 1;
      // scores of `rows` query rows against every key, their softmax, then out rows = p·v
      rowsDotT(s, qs, ldi, i, rows, kT, Dh, Np);
      for (let t = 0; t < rows; t++) {
        const attnRow = attn == 0 ? 0 : attn + <usize>bh * attnSlab + (<usize>((i + t) * N) << 2);
        softmaxRow(p + (<usize>(t * Np) << 2), attnRow, s + (<usize>(t * Np) << 2), N, Np, scale, slot);
      }
      matMul(os + (<usize>(i * ldo) << 2), ldo, p, Np, vs, ldi, rows, N, Dh, false);
      i += rows;
    }
  }
}

/**
 * Backward of attentionForward from the saved attn:
 *   gradV (+)= attnᵀ·gradOut;  gradAttn = gradOut·vᵀ;  gradScores = attn ⊙ (gradAttn − rowsum(gradAttn ⊙ attn))
 *   gradQ (+)= (gradScores·scale)·k;  gradK (+)= (gradScores·scale)ᵀ·q
 * accumulating into gradQ, gradK, gradV when `accumulate`, else overwriting them.
 * work: attentionBackwardWorkFloats(N, Dh) floats, 16-byte aligned.
 */
export function attentionBackward(
  gradQ: usize, gradK: usize, gradV: usize, gradOut: usize, q: usize, k: usize, v: usize, attn: usize,
  B: i32, H: i32, N: i32, Dh: i32, scale: f32, work: usize, layout: i32, accumulate: i32,
): void {
  attentionBackwardPart(gradQ, gradK, gradV, gradOut, q, k, v, attn, B, H, N, Dh, scale, work, 0, B * H, layout, accumulate);
}

/** attentionBackward for the (batch, head) slabs bh0 ≤ bh < bh1 only (one thread's share: slabs are independent). */
export function attentionBackwardPart(
  gradQ: usize, gradK: usize, gradV: usize, gradOut: usize, q: usize, k: usize, v: usize, attn: usize,
  B: i32, H: i32, N: i32, Dh: i32, scale: f32, work: usize, bh0: i32, bh1: i32, layout: i32, accumulate: i32,
): void {
  const Np = attentionPaddedN(N);
  const vT = work;
  const s = vT + (<usize>(Dh * Np) << 2);
  const g = s + (<usize>(4 * Np) << 2);
  const ldi = inStride(layout, H, Dh);
  const ldo = outStride(layout, H, Dh);
  const acc = accumulate != 0;
  const attnSlab = <usize>N * <usize>N << 2;
  for (let bh = bh0; bh < bh1; bh++) {
    const inOff = slabOffset(layout, bh, H, N, Dh, ldi);
    const as = attn + <usize>bh * attnSlab;
    const gos = gradOut + slabOffset(layout, bh, H, N, Dh, ldo);
    packTransposed(vT, v + inOff, ldi, N, Dh, Np);
    for (let i = 0; i < N; ) {
      const rows = i + 4 <= N ? 4 : 1;
      // gradAttn rows = gradOut·vᵀ
      rowsDotT(s, gos, ldo, i, rows, vT, Dh, Np);
      for (let t = 0; t < rows; t++) {
        const ga = s + (<usize>(t * Np) << 2);
        const ar = as + (<usize>((i + t) * N) << 2);
        const gr = g + (<usize>((i + t) * Np) << 2);
        // rowsum(gradAttn ⊙ attn) in float64
        let rs: f64 = 0;
        for (let j = 0; j < N; j++) rs += <f64>ld(ga, j) * <f64>ld(ar, j);
        // gradScores = attn ⊙ (gradAttn − rowsum), then ·scale as the gradient of (q·kᵀ)·scale
        for (let j = 0; j < N; j++) st(gr, j, <f32>(<f64>ld(ar, j) * (<f64>ld(ga, j) - rs)) * scale);
      }
      i += rows;
    }
    matMul(gradQ + inOff, ldi, g, Np, k + inOff, ldi, N, N, Dh, acc);
    matMulTransA(gradK + inOff, ldi, g, Np, q + inOff, ldi, N, N, Dh, acc);
    matMulTransA(gradV + inOff, ldi, as, N, gos, ldo, N, N, Dh, acc);
  }
}
