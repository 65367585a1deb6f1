// C[M,N] (+)= op(A)·op(B) (+ bias[N]) (then + residual[M,N]) in the GotoBLAS loop order, with a
// 4×8 register tile of f32x4 accumulators. Every C element is summed in one fixed order: init,
// + a0·b0, + a1·b1, … (k ascending, f32 mul then f32 add, no FMA), and a residual is added to the
// finished sum as it is stored (a Linear's output plus the skip connection, out = x + (x·Wᵀ + b),
// without a second pass), so a result depends on its own row and column only.
//
// Shapes (M/K/N legend of the matmul files): NN: A [M,K], B [K,N]; NT: A [M,K], B stored [N,K];
// TN: A stored [K,M], B [K,N]; C [M,N]; bias [N] or null (0). Pointers are byte offsets.

import { ld, st } from "./lanes";

/** Register tile: MR rows of C by NR columns (two f32x4 per row). */
const MR = 4;
const NR = 8;
/** K block: a packed A micro-panel (KC × MR floats = 6 KiB) stays in L1 during a sweep over N. */
const KC_MAX = 384;
/** M block: the packed A block (MC × KC floats = 192 KiB) stays in L2 with the packed B block. */
const MC_MAX = 128;
/** N block: bounds the packed B block (KC × NC floats ≤ 3 MiB) for wide outputs (the DINO head). */
const NC_MAX = 2048;

const LAYOUT_NN = 0;
const LAYOUT_NT = 1;
const LAYOUT_TN = 2;

/** Tile start modes: the first K block starts from 0, C, bias or C + bias; later ones from C. */
const INIT_LOAD_C = 1;
const INIT_ADD_BIAS = 2;

// @ts-ignore: decorator
@inline function roundUp(x: i32, m: i32): i32 {
  return (x + m - 1) / m * m;
}

/** Length of every K block but the last: K split into equal blocks of at most KC_MAX, rounded to 4. */
// @ts-ignore: decorator
@inline function blockK(K: i32): i32 {
  if (K <= 0) return 0;
  const blocks = (K + KC_MAX - 1) / KC_MAX;
  return min(roundUp((K + blocks - 1) / blocks, 4), KC_MAX);
}

/** Bytes of workspace `matmul` needs for these sizes (packed B, packed A, padded bias, edge tile). */
export function matmulWorkspaceBytes(M: i32, K: i32, N: i32): i32 {
  const kc = blockK(K);
  const nc = roundUp(min(N, NC_MAX), NR);
  const mc = roundUp(min(M, MC_MAX), MR);
  return 4 * (kc * nc + mc * kc + nc + MR * NR);
}

/**
 * C[M,N] = resid + (init + op(A)·op(B)), init = (accumulate ? C : 0) + (bias ? bias : 0), resid
 * [M,N] or 0 (none). `layout`: 0 NN, 1 NT, 2 TN. `work`: matmulWorkspaceBytes(M, K, N) bytes,
 * 16-byte aligned. K = 0 gives C = resid + init.
 */
export function matmul(
  c: usize, a: usize, b: usize, bias: usize,
  M: i32, K: i32, N: i32, layout: i32, accumulate: i32, work: usize, resid: usize,
): void {
  matmulBlock(c, a, b, bias, M, K, N, layout, accumulate, work, 0, M, 0, N, resid);
}

/**
 * The block C[m0:m1, n0:n1] of `matmul` (same arguments, same sizes M, K, N), nothing else of C:
 * the unit of work of one thread (src/kernels/threads.ts). Every element gets the very operations
 * `matmul` gives it (the K blocking depends on K only), so any split of C into blocks computed
 * separately, in any order or concurrently, is bit-identical to one `matmul` call.
 * `work`: matmulWorkspaceBytes(m1 − m0, K, n1 − n0) bytes, 16-byte aligned, private to the call.
 */
export function matmulPart(
  c: usize, a: usize, b: usize, bias: usize,
  M: i32, K: i32, N: i32, layout: i32, accumulate: i32, work: usize,
  m0: i32, m1: i32, n0: i32, n1: i32, resid: usize,
): void {
  assert(0 <= m0 && m0 < m1 && m1 <= M && 0 <= n0 && n0 < n1 && n1 <= N, "matmulPart: block outside C");
  matmulBlock(c, a, b, bias, M, K, N, layout, accumulate, work, m0, m1, n0, n1, resid);
}

// @ts-ignore: decorator
@inline function matmulBlock(
  c: usize, a: usize, b: usize, bias: usize,
  M: i32, K: i32, N: i32, layout: i32, accumulate: i32, work: usize,
  m0: i32, m1: i32, n0: i32, n1: i32, resid: usize,
): void {
  const firstMode = (accumulate != 0 ? INIT_LOAD_C : 0) | (bias != 0 ? INIT_ADD_BIAS : 0);
  if (K == 0) {
    initOnly(c, bias, N, firstMode, m0, m1, n0, n1, resid);
    return;
  }
  const kcMax = blockK(K);
  const ncMax = roundUp(min(n1 - n0, NC_MAX), NR);
  const mcMax = roundUp(min(m1 - m0, MC_MAX), MR);
  const packedB = work; // [ncMax/NR panels][kc][NR]
  const packedA = packedB + (<usize>(kcMax * ncMax) << 2); // [mcMax/MR panels][kc][MR]
  const packedBias = packedA + (<usize>(mcMax * kcMax) << 2); // [ncMax]
  const tile = packedBias + (<usize>ncMax << 2); // [MR][NR]
  const ldc = <usize>N << 2;

  for (let jc = n0; jc < n1; jc += NC_MAX) {
    const nc = min(NC_MAX, n1 - jc);
    if (bias != 0) packBias(packedBias, bias, jc, nc);
    for (let pc = 0; pc < K; pc += kcMax) {
      const kc = min(kcMax, K - pc);
      const mode = pc == 0 ? firstMode : INIT_LOAD_C;
      // the residual joins the finished sums, after the last K block
      const residBlock: usize = pc + kc < K ? 0 : resid;
      packB(packedB, b, layout, K, N, pc, kc, jc, nc);
      for (let ic = m0; ic < m1; ic += MC_MAX) {
        const mc = min(MC_MAX, m1 - ic);
        packA(packedA, a, layout, M, K, ic, mc, pc, kc);
        // A micro-panel (MR × kc) stays in L1 while the B micro-panels stream from L2
        for (let ir = 0; ir < mc; ir += MR) {
          const pa = packedA + (<usize>(ir * kc) << 2);
          const mi = min(MR, mc - ir);
          for (let jr = 0; jr < nc; jr += NR) {
            const pb = packedB + (<usize>(jr * kc) << 2);
            const pbias = packedBias + (<usize>jr << 2);
            const nj = min(NR, nc - jr);
            const at = (<usize>(ic + ir) * ldc) + (<usize>(jc + jr) << 2);
            const pcTile = c + at;
            const prTile: usize = residBlock == 0 ? 0 : residBlock + at;
            if (mi == MR && nj == NR) {
              tile4x8(kc, pa, pb, pcTile, ldc, mode, pbias, prTile);
            } else {
              // edge: run the same tile on a padded copy, write back the mi × nj part
              if (mode & INIT_LOAD_C) copyTile(tile, NR << 2, pcTile, ldc, mi, nj, true);
              tile4x8(kc, pa, pb, tile, NR << 2, mode, pbias, 0);
              copyTileBack(pcTile, ldc, tile, mi, nj, prTile);
            }
          }
        }
      }
    }
  }
}

/**
 * One MR × NR tile: C_tile = start + Σ_k a[k] ⊗ b[k] over a packed A micro-panel [kc][MR] and a
 * packed B micro-panel [kc][NR]; start is 0, C, bias or C + bias as `mode` says; then, when pr ≠ 0,
 * C_tile = resid_tile + C_tile (pr the residual's tile, rows ldc bytes apart like C's).
 */
// @ts-ignore: decorator
@inline function tile4x8(kc: i32, pa: usize, pb: usize, pc: usize, ldc: usize, mode: i32, pbias: usize, pr: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  if (mode & INIT_LOAD_C) {
    c00 = v128.load(pc); c01 = v128.load(pc, 16);
    c10 = v128.load(pc + ldc); c11 = v128.load(pc + ldc, 16);
    c20 = v128.load(pc + 2 * ldc); c21 = v128.load(pc + 2 * ldc, 16);
    c30 = v128.load(pc + 3 * ldc); c31 = v128.load(pc + 3 * ldc, 16);
  }
  if (mode & INIT_ADD_BIAS) {
    const b0 = v128.load(pbias), b1 = v128.load(pbias, 16);
    c00 = f32x4.add(c00, b0); c01 = f32x4.add(c01, b1);
    c10 = f32x4.add(c10, b0); c11 = f32x4.add(c11, b1);
    c20 = f32x4.add(c20, b0); c21 = f32x4.add(c21, b1);
    c30 = f32x4.add(c30, b0); c31 = f32x4.add(c31, b1);
  }
  // one k step per iteration: unrolling by 2 or 4 measured 10–25% slower (V8 spills registers)
  const end = pb + (<usize>kc << 5);
  while (pb < end) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let x = v128.load32_splat(pa);
    // c[r] += a[r]·b  (f32 mul, then f32 add)
    c00 = f32x4.add(c00, f32x4.mul(x, b0)); c01 = f32x4.add(c01, f32x4.mul(x, b1));
    x = v128.load32_splat(pa, 4);
    c10 = f32x4.add(c10, f32x4.mul(x, b0)); c11 = f32x4.add(c11, f32x4.mul(x, b1));
    x = v128.load32_splat(pa, 8);
    c20 = f32x4.add(c20, f32x4.mul(x, b0)); c21 = f32x4.add(c21, f32x4.mul(x, b1));
    x = v128.load32_splat(pa, 12);
    c30 = f32x4.add(c30, f32x4.mul(x, b0)); c31 = f32x4.add(c31, f32x4.mul(x, b1));
    pa += 16;
    pb += 32;
  }
  if (pr != 0) {
    // out = resid + (the finished sum)
    c00 = f32x4.add(v128.load(pr), c00); c01 = f32x4.add(v128.load(pr, 16), c01);
    c10 = f32x4.add(v128.load(pr + ldc), c10); c11 = f32x4.add(v128.load(pr + ldc, 16), c11);
    c20 = f32x4.add(v128.load(pr + 2 * ldc), c20); c21 = f32x4.add(v128.load(pr + 2 * ldc, 16), c21);
    c30 = f32x4.add(v128.load(pr + 3 * ldc), c30); c31 = f32x4.add(v128.load(pr + 3 * ldc, 16), c31);
  }
  v128.store(pc, c00); v128.store(pc, c01, 16);
  v128.store(pc + ldc, c10); v128.store(pc + ldc, c11, 16);
  v128.store(pc + 2 * ldc, c20); v128.store(pc + 2 * ldc, c21, 16);
  v128.store(pc + 3 * ldc, c30); v128.store(pc + 3 * ldc, c31, 16);
}

/** Copies an mi × nj block between a C tile and the padded MR × NR edge tile (zero-filling it when `clear`). */
function copyTile(dst: usize, ldd: usize, src: usize, lds: usize, mi: i32, nj: i32, clear: bool): void {
  if (clear) memory.fill(dst, 0, MR * NR * 4);
  for (let r = 0; r < mi; r++) {
    memory.copy(dst + <usize>r * ldd, src + <usize>r * lds, <usize>nj << 2);
  }
}

/** Writes the mi × nj part of the padded edge tile back to C, each value added to resid's (pr ≠ 0). */
function copyTileBack(dst: usize, ldd: usize, tile: usize, mi: i32, nj: i32, pr: usize): void {
  for (let r = 0; r < mi; r++) {
    const to = dst + <usize>r * ldd;
    const from = tile + (<usize>(r * NR) << 2);
    if (pr == 0) {
      memory.copy(to, from, <usize>nj << 2);
    } else {
      const rr = pr + <usize>r * ldd;
      // out = resid + (the finished sum)
      for (let j = 0; j < nj; j++) st(to, j, ld(rr, j) + ld(from, j));
    }
  }
}

/** packedBias[j] = bias[jc + j] for j < nc, 0 up to the next multiple of NR. */
function packBias(dst: usize, bias: usize, jc: i32, nc: i32): void {
  for (let j = 0; j < nc; j++) st(dst, j, ld(bias, jc + j));
  for (let j = nc; j < roundUp(nc, NR); j++) st(dst, j, 0);
}

/**
 * Packs op(B)[pc:pc+kc, jc:jc+nc] into panels of NR columns: dst[panel][k][j], zero-padded past nc.
 * NN/TN read B [K,N] rows; NT reads B stored [N,K] (op(B) = Bᵀ), i.e. columns of op(B) are rows.
 */
function packB(dst: usize, b: usize, layout: i32, K: i32, N: i32, pc: i32, kc: i32, jc: i32, nc: i32): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const nj = min(NR, nc - jr);
    const panel = dst + (<usize>(jr * kc) << 2);
    if (layout == LAYOUT_NT) {
      // op(B)[k, j] = B[j, k]
      for (let j = 0; j < nj; j++) {
        const row = b + (<usize>(jc + jr + j) * <usize>K << 2) + (<usize>pc << 2);
        for (let k = 0; k < kc; k++) st(panel, k * NR + j, ld(row, k));
      }
      for (let j = nj; j < NR; j++) {
        for (let k = 0; k < kc; k++) st(panel, k * NR + j, 0);
      }
    } else if (nj == NR) {
      for (let k = 0; k < kc; k++) {
        const src = b + ((<usize>(pc + k) * <usize>N + <usize>(jc + jr)) << 2);
        const to = panel + (<usize>k << 5);
        v128.store(to, v128.load(src));
        v128.store(to, v128.load(src, 16), 16);
      }
    } else {
      for (let k = 0; k < kc; k++) {
        const src = b + ((<usize>(pc + k) * <usize>N + <usize>(jc + jr)) << 2);
        for (let j = 0; j < nj; j++) st(panel, k * NR + j, ld(src, j));
        for (let j = nj; j < NR; j++) st(panel, k * NR + j, 0);
      }
    }
  }
}

/**
 * Packs op(A)[ic:ic+mc, pc:pc+kc] into panels of MR rows: dst[panel][k][r], zero-padded past mc.
 * NN/NT read A [M,K] (four rows at a time, transposed 4×4 in registers); TN reads A stored [K,M].
 */
function packA(dst: usize, a: usize, layout: i32, M: i32, K: i32, ic: i32, mc: i32, pc: i32, kc: i32): void {
  for (let ir = 0; ir < mc; ir += MR) {
    const mi = min(MR, mc - ir);
    const panel = dst + (<usize>(ir * kc) << 2);
    if (layout == LAYOUT_TN) {
      // op(A)[i, k] = A[k, i]: MR consecutive floats of row k
      for (let k = 0; k < kc; k++) {
        const src = a + ((<usize>(pc + k) * <usize>M + <usize>(ic + ir)) << 2);
        if (mi == MR) {
          v128.store(panel + (<usize>k << 4), v128.load(src));
        } else {
          for (let r = 0; r < MR; r++) st(panel, k * MR + r, r < mi ? ld(src, r) : 0);
        }
      }
    } else {
      const r0 = a + ((<usize>(ic + ir) * <usize>K + <usize>pc) << 2);
      const lda = <usize>K << 2;
      let k = 0;
      if (mi == MR) {
        for (; k + 4 <= kc; k += 4) {
          // rows r0..r3, k..k+3 → four [k][r] vectors (4×4 transpose)
          const x0 = v128.load(r0 + (<usize>k << 2));
          const x1 = v128.load(r0 + lda + (<usize>k << 2));
          const x2 = v128.load(r0 + 2 * lda + (<usize>k << 2));
          const x3 = v128.load(r0 + 3 * lda + (<usize>k << 2));
          const t0 = v128.shuffle<f32>(x0, x1, 0, 4, 1, 5);
          const t1 = v128.shuffle<f32>(x2, x3, 0, 4, 1, 5);
          const t2 = v128.shuffle<f32>(x0, x1, 2, 6, 3, 7);
          const t3 = v128.shuffle<f32>(x2, x3, 2, 6, 3, 7);
          const to = panel + (<usize>k << 4);
          v128.store(to, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
          v128.store(to, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7), 16);
          v128.store(to, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), 32);
          v128.store(to, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7), 48);
        }
      }
      for (; k < kc; k++) {
        for (let r = 0; r < MR; r++) {
          st(panel, k * MR + r, r < mi ? load<f32>(r0 + <usize>r * lda + (<usize>k << 2)) : 0);
        }
      }
    }
  }
}

/** K = 0: C[m0:m1, n0:n1] = resid + init, the empty sum. */
function initOnly(c: usize, bias: usize, N: i32, mode: i32, m0: i32, m1: i32, n0: i32, n1: i32, resid: usize): void {
  for (let i = m0; i < m1; i++) {
    const off = <usize>i * <usize>N << 2;
    const row = c + off;
    for (let j = n0; j < n1; j++) {
      let s: f32 = mode & INIT_LOAD_C ? ld(row, j) : 0;
      if (mode & INIT_ADD_BIAS) s = s + ld(bias, j);
      if (resid != 0) s = ld(resid + off, j) + s;
      st(row, j, s);
    }
  }
}

/** gradBias[N] += Σ_m gradC[m, :], rows added onto gradBias one at a time in ascending m (streams gradC once). */
export function matmulBiasGrad(gradBias: usize, gradC: usize, M: i32, N: i32): void {
  matmulBiasGradPart(gradBias, gradC, M, N, 0, N);
}

/** matmulBiasGrad on columns n0 ≤ j < n1 only (one thread's share; n0 a multiple of 4): the same adds per column. */
export function matmulBiasGradPart(gradBias: usize, gradC: usize, M: i32, N: i32, n0: i32, n1: i32): void {
  const n4 = n0 + ((n1 - n0) & ~3);
  for (let m = 0; m < M; m++) {
    const row = gradC + (<usize>m * <usize>N << 2);
    let j = n0;
    for (; j < n4; j += 4) {
      // gradBias[j] = gradBias[j] + gradC[m, j]
      const at = gradBias + (<usize>j << 2);
      v128.store(at, f32x4.add(v128.load(at), v128.load(row + (<usize>j << 2))));
    }
    for (; j < n1; j++) st(gradBias, j, ld(gradBias, j) + ld(row, j));
  }
}
