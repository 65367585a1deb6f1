// One pre-norm transformer block of the official ViT, forward beside backward:
//   x1  = x  + drop_path(attn(norm1(x)))     attn: qkv Linear → heads → softmax(q·kᵀ·Dh^−0.5)·v → proj Linear
//   out = x1 + drop_path(mlp(norm2(x1)))     mlp: fc1 → exact GELU → fc2
// Shapes: B batch, N tokens (CLS included), D width, H heads, Dh = D/H, Dm = MLP hidden width,
// R = B·N rows. Every row of every output depends only on its own sample. The attention kernels
// read q, k, v straight from qkv's rows and write the merged heads, and without drop path the
// residual adds happen as the proj and fc2 products are stored (matmul's residual), so the block
// makes no copies of its own.

import type { Backend, Tensor } from "../kernels/backend.js";
import type { ParamScope } from "./params.js";
import { linearBackward, linearForward } from "./linear.js";
import { dropPathRateOf, headDim, hiddenDim, type VitConfig } from "./vitConfig.js";
import type { Rng } from "../tensor/rng.js";

/** Scratch reused by every block of one forward (not needed by the backward). */
export interface BlockWork {
  readonly y: Tensor; // [R, D] a branch's output before the residual add (drop path only)
}

export function allocBlockWork(be: Backend, cfg: VitConfig, B: number, N: number): BlockWork {
  return { y: be.empty([B * N, cfg.embedDim]) };
}

/** Drop path of one residual branch: per sample kept (scaled by 1/keep) or dropped. */
export interface DropPathMask {
  /** 1 − rate. */
  readonly keep: number;
  /** [B] 1 = kept, 0 = dropped. */
  readonly mask: Uint8Array;
}

/** The drop-path masks a block's forward drew (to recompute the block exactly in the backward). */
export interface BlockDropPath {
  readonly drop1: DropPathMask | null;
  readonly drop2: DropPathMask | null;
}

/** What blockBackward needs from blockForward. */
export interface BlockCache {
  readonly x: Tensor; // [R, D] block input
  readonly ln1: Tensor; // [R, D] norm1(x)
  readonly mean1: Tensor; // [R]
  readonly rstd1: Tensor; // [R]
  readonly qkv: Tensor; // [R, 3D] = [q | k | v], each D wide, head h at columns h·Dh..
  readonly attn: Tensor | null; // [B, H, N, N] softmax probabilities (null when not kept)
  readonly merged: Tensor; // [R, D] heads concatenated, input of proj
  readonly x1: Tensor; // [R, D] after the attention residual
  readonly ln2: Tensor; // [R, D] norm2(x1)
  readonly mean2: Tensor; // [R]
  readonly rstd2: Tensor; // [R]
  readonly h: Tensor; // [R, Dm] fc1 output (GELU input)
  readonly a: Tensor; // [R, Dm] GELU output (fc2 input)
  readonly drop1: DropPathMask | null;
  readonly drop2: DropPathMask | null;
}

/** The parameters of block i (names relative to `blocks.i.`). */
export function blockParams(params: ParamScope, i: number): ParamScope {
  return { param: (name) => params.param(`blocks.${i}.${name}`), grad: (name) => params.grad(`blocks.${i}.${name}`) };
}

/** Draws one drop-path mask: keep_b = floor(1 − rate + U) per sample; null when the branch is never dropped. */
function drawDropPath(rng: Rng | null, rate: number, B: number): DropPathMask | null {
  if (rng === null || rate === 0) return null;
  const keep = 1 - rate;
  const mask = new Uint8Array(B);
  // mask = floor(keep + U[0, 1))
  for (let b = 0; b < B; b++) mask[b] = Math.floor(keep + rng.uniform());
  return { keep, mask };
}

/** out = x + drop_path(y): out_b = x_b + y_b/keep·mask_b (out = x + y without drop path). x, y, out [R, D]. */
function residualAdd(out: Tensor, x: Tensor, y: Tensor, drop: DropPathMask | null, B: number): void {
  const o = out.data;
  const xd = x.data;
  const yd = y.data;
  const per = o.length / B;
  for (let b = 0; b < B; b++) {
    const end = (b + 1) * per;
    if (drop === null) {
      // out = x + y
      for (let i = b * per; i < end; i++) o[i] = xd[i] + yd[i];
    } else if (drop.mask[b] === 1) {
      // out = x + y/keep (kept sample)
      for (let i = b * per; i < end; i++) o[i] = xd[i] + yd[i] / drop.keep;
    } else {
      // out = x (dropped sample)
      for (let i = b * per; i < end; i++) o[i] = xd[i];
    }
  }
}

/** ∂L/∂y = ∂L/∂out·mask_b/keep, into `dst` (the branch's gradient under drop path). */
function dropPathBackward(dst: Tensor, gradOut: Tensor, drop: DropPathMask, B: number): void {
  const d = dst.data;
  const g = gradOut.data;
  const per = d.length / B;
  for (let b = 0; b < B; b++) {
    for (let i = b * per; i < (b + 1) * per; i++) d[i] = drop.mask[b] === 1 ? g[i] / drop.keep : 0;
  }
}

/** norm1 → qkv; returns qkv [R, 3D] and the norm's outputs. */
function attentionInputs(be: Backend, p: ParamScope, cfg: VitConfig, x: Tensor, B: number, N: number) {
  const D = cfg.embedDim;
  const R = B * N;
  const ln1 = be.empty([R, D]);
  const mean1 = be.empty([R]);
  const rstd1 = be.empty([R]);
  // ln1 = (x − mean)·rstd·γ₁ + β₁
  be.layerNormForward(ln1.data, mean1.data, rstd1.data, x.data, p.param("norm1.weight").data, p.param("norm1.bias").data, R, D, cfg.eps);
  const qkv = be.empty([R, 3 * D]);
  // qkv [R, 3D] = ln1·W_qkvᵀ + b_qkv: q | k | v, each D wide, split into H heads of Dh
  linearForward(be, qkv, ln1, p.param("attn.qkv.weight"), cfg.qkvBias ? p.param("attn.qkv.bias") : null, R, D, 3 * D);
  return { ln1, mean1, rstd1, qkv };
}

/** scale = Dh^−0.5 (a Python double; the kernels round it to float32 as PyTorch does). */
const attentionScale = (cfg: VitConfig) => headDim(cfg) ** -0.5;

/** out = x + drop_path(x_in·Wᵀ + b): fused into the product's store without drop path, else through `work.y`. */
function residualLinear(
  be: Backend, out: Tensor, x: Tensor, input: Tensor, weight: Tensor, bias: Tensor, drop: DropPathMask | null, work: BlockWork,
  B: number, R: number, dIn: number, dOut: number,
): void {
  if (drop === null) {
    // out = x + (input·Wᵀ + b)
    linearForward(be, out, input, weight, bias, R, dIn, dOut, x);
  } else {
    // y = input·Wᵀ + b; out = x + drop_path(y)
    linearForward(be, work.y, input, weight, bias, R, dIn, dOut);
    residualAdd(out, x, work.y, drop, B);
  }
}

/** What the MLP branch keeps for its backward, on `rows` rows. */
interface MlpCache {
  readonly ln2: Tensor; // [rows, D] norm2(x1)
  readonly mean2: Tensor; // [rows]
  readonly rstd2: Tensor; // [rows]
  readonly h: Tensor; // [rows, Dm] fc1 output (GELU input)
  readonly a: Tensor; // [rows, Dm] GELU output (fc2 input)
}

/** The MLP branch on x1 [rows, D]: out = x1 + drop_path(fc2(gelu(fc1(norm2(x1))))) (B samples of rows/B rows each). */
function mlpBranchForward(
  be: Backend, p: ParamScope, cfg: VitConfig, x1: Tensor, out: Tensor, drop: DropPathMask | null, work: BlockWork, B: number, rows: number,
): MlpCache {
  const D = cfg.embedDim;
  const Dm = hiddenDim(cfg);
  const ln2 = be.empty([rows, D]);
  const mean2 = be.empty([rows]);
  const rstd2 = be.empty([rows]);
  // ln2 = (x1 − mean)·rstd·γ₂ + β₂
  be.layerNormForward(ln2.data, mean2.data, rstd2.data, x1.data, p.param("norm2.weight").data, p.param("norm2.bias").data, rows, D, cfg.eps);
  const h = be.empty([rows, Dm]);
  // h = ln2·W₁ᵀ + b₁
  linearForward(be, h, ln2, p.param("mlp.fc1.weight"), p.param("mlp.fc1.bias"), rows, D, Dm);
  const a = be.empty([rows, Dm]);
  // a = h·Φ(h)
  be.geluForward(a.data, h.data, rows * Dm);
  // out = x1 + drop_path(a·W₂ᵀ + b₂)
  residualLinear(be, out, x1, a, p.param("mlp.fc2.weight"), p.param("mlp.fc2.bias"), drop, work, B, rows, Dm, D);
  return { ln2, mean2, rstd2, h, a };
}

/** Buffers of the MLP branch's backward, on `rows` rows (each written whole before it is read). */
interface MlpGradWork {
  readonly gy: Tensor; // [rows, D]
  readonly gLn: Tensor; // [rows, D]
  readonly gA: Tensor; // [rows, Dm]
  readonly gH: Tensor; // [rows, Dm]
}

/**
 * Backward of mlpBranchForward, in place: g [rows, D] holds ∂L/∂out on entry and ∂L/∂x1 on return
 * (the residual path plus norm2's backward); parameter gradients accumulate into p.grad(...).
 */
function mlpBranchBackward(
  be: Backend, p: ParamScope, cfg: VitConfig, g: Tensor, x1: Tensor, c: MlpCache, drop: DropPathMask | null, work: MlpGradWork, B: number, rows: number,
): void {
  const D = cfg.embedDim;
  const Dm = hiddenDim(cfg);
  let gy = g;
  // ∂L/∂y = ∂L/∂out·mask/keep
  if (drop !== null) dropPathBackward((gy = work.gy), g, drop, B);
  // ∂L/∂a = ∂L/∂y·W₂ (written); ∂L/∂W₂ += ∂L/∂yᵀ·a; ∂L/∂b₂ += Σ ∂L/∂y
  linearBackward(be, work.gA, p.grad("mlp.fc2.weight"), p.grad("mlp.fc2.bias"), gy, c.a, p.param("mlp.fc2.weight"), rows, Dm, D, false);
  be.zero(work.gH.data);
  // ∂L/∂h = ∂L/∂a·(Φ(h) + h·φ(h))
  be.geluBackward(work.gH.data, work.gA.data, c.h.data, rows * Dm);
  // ∂L/∂ln2 = ∂L/∂h·W₁ (written); ∂L/∂W₁ += ∂L/∂hᵀ·ln2; ∂L/∂b₁ += Σ ∂L/∂h
  linearBackward(be, work.gLn, p.grad("mlp.fc1.weight"), p.grad("mlp.fc1.bias"), work.gH, c.ln2, p.param("mlp.fc1.weight"), rows, D, Dm, false);
  // ∂L/∂x1 (= g) += norm2 backward of ∂L/∂ln2
  be.layerNormBackward(g.data, p.grad("norm2.weight").data, p.grad("norm2.bias").data, work.gLn.data, x1.data, c.mean2.data, c.rstd2.data, p.param("norm2.weight").data, rows, D);
}

/**
 * The block on x [R, D] into out [R, D]. `dropPath`: a generator (student training only) draws a
 * fresh mask per residual branch when the block's rate (dropPathRate·i/(depth − 1)) is above 0;
 * masks a previous forward drew are used as they are (the backward's recomputation); null: none.
 * `keepAttn` false (a forward without backward): the attention probabilities are not kept
 * (cache.attn null).
 */
export function blockForward(
  be: Backend, p: ParamScope, cfg: VitConfig, i: number, x: Tensor, out: Tensor, work: BlockWork, B: number, N: number,
  dropPath: Rng | BlockDropPath | null, keepAttn = true,
): BlockCache {
  const D = cfg.embedDim;
  const H = cfg.numHeads;
  const Dh = headDim(cfg);
  const R = B * N;
  const rate = dropPathRateOf(cfg, i);
  const drawn = dropPath !== null && "drop1" in dropPath ? dropPath : null;
  const rng = drawn === null ? (dropPath as Rng | null) : null;

  // ---- attention branch: x1 = x + drop_path(proj(softmax(q·kᵀ·scale)·v))
  const { ln1, mean1, rstd1, qkv } = attentionInputs(be, p, cfg, x, B, N);
  const attn = keepAttn ? be.empty([B, H, N, N]) : null;
  const merged = be.empty([R, D]);
  // attn = softmax(q·kᵀ·Dh^−0.5); merged [R, D] = attn·v, the heads concatenated in order
  be.attentionForwardRows(merged.data, attn === null ? null : attn.data, qkv.data, B, H, N, Dh, attentionScale(cfg));
  const drop1 = drawn !== null ? drawn.drop1 : drawDropPath(rng, rate, B);
  const x1 = be.empty([R, D]);
  // x1 = x + drop_path(merged·W_projᵀ + b_proj)
  residualLinear(be, x1, x, merged, p.param("attn.proj.weight"), p.param("attn.proj.bias"), drop1, work, B, R, D, D);

  // ---- MLP branch: out = x1 + drop_path(fc2(gelu(fc1(norm2(x1)))))
  const drop2 = drawn !== null ? drawn.drop2 : drawDropPath(rng, rate, B);
  const mlp = mlpBranchForward(be, p, cfg, x1, out, drop2, work, B, R);
  return { x, ln1, mean1, rstd1, qkv, attn, merged, x1, ...mlp, drop1, drop2 };
}

/** The attention probabilities [B, H, N, N] of the block on norm1(x) (get_last_selfattention). */
export function blockSelfAttention(be: Backend, p: ParamScope, cfg: VitConfig, x: Tensor, attn: Tensor, B: number, N: number): void {
  const { qkv } = attentionInputs(be, p, cfg, x, B, N);
  const merged = be.empty([B * N, cfg.embedDim]);
  be.attentionForwardRows(merged.data, attn.data, qkv.data, B, cfg.numHeads, N, headDim(cfg), attentionScale(cfg));
}

/** Scratch for the backward of every block (each written whole before it is read). */
export interface BlockGradWork {
  readonly gy: Tensor; // [R, D] a branch's output gradient under drop path
  readonly gLn: Tensor; // [R, D] gradient of a norm's output
  readonly gMerged: Tensor; // [R, D]
  readonly gA: Tensor; // [R, Dm]
  readonly gH: Tensor; // [R, Dm]
  readonly gQkv: Tensor; // [R, 3D]
}

export function allocBlockGradWork(be: Backend, cfg: VitConfig, B: number, N: number): BlockGradWork {
  const D = cfg.embedDim;
  const R = B * N;
  const Dm = hiddenDim(cfg);
  return {
    gy: be.empty([R, D]), gLn: be.empty([R, D]), gMerged: be.empty([R, D]), gA: be.empty([R, Dm]), gH: be.empty([R, Dm]), gQkv: be.empty([R, 3 * D]),
  };
}

/**
 * Backward of blockForward, in place: g [R, D] holds ∂L/∂out on entry and ∂L/∂x on return.
 * Parameter gradients are accumulated into p.grad(...). The cache must hold attn (keepAttn).
 */
export function blockBackward(be: Backend, p: ParamScope, cfg: VitConfig, g: Tensor, c: BlockCache, work: BlockGradWork, B: number, N: number): void {
  const D = cfg.embedDim;
  const H = cfg.numHeads;
  const Dh = headDim(cfg);
  const R = B * N;
  if (c.attn === null) throw new Error("blockBackward: the forward did not keep the attention probabilities (keepAttn false)");

  // ---- MLP branch: out = x1 + drop_path(fc2(gelu(fc1(ln2)))); ∂L/∂x1 = g + norm2ᵀ(...), in place on g
  mlpBranchBackward(be, p, cfg, g, c.x1, c, c.drop2, work, B, R);

  // ---- attention branch: x1 = x + drop_path(proj(merged)); ∂L/∂x = ∂L/∂x1 + norm1ᵀ(...)
  let gy = g;
  if (c.drop1 !== null) dropPathBackward((gy = work.gy), g, c.drop1, B);
  // ∂L/∂merged = ∂L/∂y·W_proj (written); ∂L/∂W_proj += ∂L/∂yᵀ·merged; ∂L/∂b_proj += Σ ∂L/∂y
  linearBackward(be, work.gMerged, p.grad("attn.proj.weight"), p.grad("attn.proj.bias"), gy, c.merged, p.param("attn.proj.weight"), R, D, D, false);
  // ∂L/∂v = attnᵀ·∂L/∂out; ∂L/∂scores = attn ⊙ (∂L/∂attn − rowsum); ∂L/∂q = ∂L/∂scores·k·scale; ∂L/∂k = ∂L/∂scoresᵀ·q·scale,
  // written as ∂L/∂qkv = [∂L/∂q | ∂L/∂k | ∂L/∂v] in qkv's row layout
  be.attentionBackwardRows(work.gQkv.data, work.gMerged.data, c.qkv.data, c.attn.data, B, H, N, Dh, attentionScale(cfg));
  // ∂L/∂ln1 = ∂L/∂qkv·W_qkv (written); ∂L/∂W_qkv += ∂L/∂qkvᵀ·ln1; ∂L/∂b_qkv += Σ ∂L/∂qkv
  linearBackward(be, work.gLn, p.grad("attn.qkv.weight"), cfg.qkvBias ? p.grad("attn.qkv.bias") : null, work.gQkv, c.ln1, p.param("attn.qkv.weight"), R, D, 3 * D, false);
  // ∂L/∂x (= g) += norm1 backward of ∂L/∂ln1
  be.layerNormBackward(g.data, p.grad("norm1.weight").data, p.grad("norm1.bias").data, work.gLn.data, c.x.data, c.mean1.data, c.rstd1.data, p.param("norm1.weight").data, R, D);
}

/**
 * What blockBackwardCls needs from blockForwardCls: the attention inputs of every token, the rest
 * for the CLS rows only ([B, ·]).
 */
export interface ClsBlockCache {
  readonly x: Tensor; // [R, D] block input
  readonly ln1: Tensor; // [R, D]
  readonly mean1: Tensor; // [R]
  readonly rstd1: Tensor; // [R]
  readonly qkv: Tensor; // [R, 3D]
  readonly attn: Tensor | null; // [B, H, 1, N] the CLS query's probabilities (null when not kept)
  readonly merged: Tensor; // [B, D] the CLS rows' heads concatenated
  readonly x1: Tensor; // [B, D]
  readonly ln2: Tensor; // [B, D]
  readonly mean2: Tensor; // [B]
  readonly rstd2: Tensor; // [B]
  readonly h: Tensor; // [B, Dm]
  readonly a: Tensor; // [B, Dm]
  readonly drop1: DropPathMask | null;
  readonly drop2: DropPathMask | null;
}

/** rows [B, D] = the CLS rows (token 0 of each sample) of x [B·N, D]. */
function clsRows(be: Backend, x: Tensor, B: number, N: number, D: number): Tensor {
  const out = be.empty([B, D]);
  for (let b = 0; b < B; b++) out.data.set(x.data.subarray(b * N * D, b * N * D + D), b * D);
  return out;
}

/**
 * The block's output at the CLS tokens only, outCls [B, D] = blockForward(x)[:, 0]: all a DINO head
 * (and the teacher's targets) reads of the LAST block. Every token still gets norm1 and qkv (the CLS
 * query attends to all keys and values); attention, proj, norm2 and the MLP run for the CLS rows
 * alone: the same numbers as the whole block's CLS rows (every row is computed on its own), for
 * about a quarter of the work. Drop path and `keepAttn` as in blockForward.
 */
export function blockForwardCls(
  be: Backend, p: ParamScope, cfg: VitConfig, i: number, x: Tensor, outCls: Tensor, B: number, N: number,
  dropPath: Rng | BlockDropPath | null, keepAttn = true,
): ClsBlockCache {
  const D = cfg.embedDim;
  const H = cfg.numHeads;
  const Dh = headDim(cfg);
  const rate = dropPathRateOf(cfg, i);
  const drawn = dropPath !== null && "drop1" in dropPath ? dropPath : null;
  const rng = drawn === null ? (dropPath as Rng | null) : null;

  // ---- attention branch for the CLS query: x1 = x[:, 0] + drop_path(proj(softmax(q₀·kᵀ·scale)·v))
  const { ln1, mean1, rstd1, qkv } = attentionInputs(be, p, cfg, x, B, N);
  const attn = keepAttn ? be.empty([B, H, 1, N]) : null;
  const merged = be.empty([B, D]);
  // merged [B, D] = softmax(q₀·kᵀ·Dh^−0.5)·v for each sample's CLS query
  be.attentionForwardRows(merged.data, attn === null ? null : attn.data, qkv.data, B, H, N, Dh, attentionScale(cfg), 1);
  const drop1 = drawn !== null ? drawn.drop1 : drawDropPath(rng, rate, B);
  const x1 = be.empty([B, D]);
  // x1 = x[:, 0] + drop_path(merged·W_projᵀ + b_proj)
  const work: BlockWork = { y: be.empty([B, D]) };
  residualLinear(be, x1, clsRows(be, x, B, N, D), merged, p.param("attn.proj.weight"), p.param("attn.proj.bias"), drop1, work, B, B, D, D);

  // ---- MLP branch on the CLS rows: out = x1 + drop_path(fc2(gelu(fc1(norm2(x1)))))
  const drop2 = drawn !== null ? drawn.drop2 : drawDropPath(rng, rate, B);
  const mlp = mlpBranchForward(be, p, cfg, x1, outCls, drop2, work, B, B);
  return { x, ln1, mean1, rstd1, qkv, attn, merged, x1, ...mlp, drop1, drop2 };
}

/**
 * Backward of blockForwardCls: gCls [B, D] holds ∂L/∂outCls on entry (and is used as scratch);
 * g [R, D] receives ∂L/∂x (overwritten). Parameter gradients are accumulated into p.grad(...).
 */
export function blockBackwardCls(
  be: Backend, p: ParamScope, cfg: VitConfig, gCls: Tensor, g: Tensor, c: ClsBlockCache, work: BlockGradWork, B: number, N: number,
): void {
  const D = cfg.embedDim;
  const H = cfg.numHeads;
  const Dh = headDim(cfg);
  const Dm = hiddenDim(cfg);
  const R = B * N;
  if (c.attn === null) throw new Error("blockBackwardCls: the forward did not keep the attention probabilities (keepAttn false)");
  const mlpWork: MlpGradWork = { gy: be.empty([B, D]), gLn: be.empty([B, D]), gA: be.empty([B, Dm]), gH: be.empty([B, Dm]) };
  const gMerged = be.empty([B, D]);

  // ---- MLP branch (CLS rows): ∂L/∂x1 (= gCls) = ∂L/∂out + norm2ᵀ(...), in place on gCls
  mlpBranchBackward(be, p, cfg, gCls, c.x1, c, c.drop2, mlpWork, B, B);

  // ---- attention branch: ∂L/∂merged (CLS rows), then ∂L/∂qkv for every token
  const gy = mlpWork.gy;
  let gOut = gCls;
  if (c.drop1 !== null) dropPathBackward((gOut = gy), gCls, c.drop1, B);
  linearBackward(be, gMerged, p.grad("attn.proj.weight"), p.grad("attn.proj.bias"), gOut, c.merged, p.param("attn.proj.weight"), B, D, D, false);
  be.attentionBackwardRows(work.gQkv.data, gMerged.data, c.qkv.data, c.attn.data, B, H, N, Dh, attentionScale(cfg), 1);
  linearBackward(be, work.gLn, p.grad("attn.qkv.weight"), cfg.qkvBias ? p.grad("attn.qkv.bias") : null, work.gQkv, c.ln1, p.param("attn.qkv.weight"), R, D, 3 * D, false);
  // ∂L/∂x = the residual path at the CLS rows (∂L/∂x1) + norm1 backward of ∂L/∂ln1
  be.zero(g.data);
  for (let b = 0; b < B; b++) g.data.set(gCls.data.subarray(b * D, (b + 1) * D), b * N * D);
  be.layerNormBackward(g.data, p.grad("norm1.weight").data, p.grad("norm1.bias").data, work.gLn.data, c.x.data, c.mean1.data, c.rstd1.data, p.param("norm1.weight").data, R, D);
}
