// The official DINO Vision Transformer backbone, forward and backward by hand:
//   tokens = [cls; patch_embed(images)] + interpolate_pos_encoding → blocks → final norm → CLS [B, D],
// plus get_last_selfattention and get_intermediate_layers. Shapes: B batch, N = 1 + n tokens
// (n patches), D width, R = B·N rows. Activations come from `be.alloc` (wrap a step in
// be.mark()/be.release()); a sample's outputs never depend on the other samples of its batch.
// The last block runs for the CLS tokens only after its attention inputs (blockForwardCls): the
// final norm and the DINO head read nothing else, and every row is computed on its own, so the
// output is the same; get_last_selfattention and get_intermediate_layers run whole blocks.
// Activation recomputation (opts.recompute): the forward keeps only each block's input and drop-path
// masks, and the backward runs each block's forward again, one block at a time, before its
// backward: one more forward for a cache about 16·depth times smaller (ViT-S/16 at batch 64 then
// fits in wasm32's 4 GiB). The recomputed activations are the same bits, so are the gradients.

import type { Backend, Tensor } from "../kernels/backend.js";
import type { ParamScope } from "./params.js";
import {
  allocBlockGradWork, allocBlockWork, blockBackward, blockBackwardCls, blockForward, blockForwardCls, blockParams, blockSelfAttention,
  type BlockCache, type BlockDropPath, type BlockWork, type ClsBlockCache,
} from "./block.js";
import { patchEmbedBackward, patchEmbedForward, patchGrid, type PatchEmbedCache, type PatchGrid } from "./patchEmbed.js";
import { interpolatePosEncoding, interpolatePosEncodingBackward, posPlan, type PosPlan } from "./posEmbed.js";
import { hiddenDim, numPatches0, type VitConfig } from "./vitConfig.js";
import { vitParamSpecs } from "./vitParams.js";
import { check } from "../tensor/errors.js";
import { numel, shapeString } from "../tensor/named.js";
import type { Rng } from "../tensor/rng.js";
import { NO_BUGS, type Bugs } from "../tensor/portingBugs.js";

export interface VitForwardOptions {
  /** Keep what vitBackward needs (default true). false (teacher, inference): blocks free their activations as they go and `cache` is null. */
  cache?: boolean;
  /** Student training: drop path on, with masks from `dropPathRng` (needed when cfg.dropPathRate > 0). */
  training?: boolean;
  /** Drop-path masks are drawn from it in the order (block, branch, sample); pass a fresh one per step. */
  dropPathRng?: Rng;
  /** Porting mistakes of the pos-embed resampling (interpolate.*), for `dino-ref compare`'s diagnosis only. */
  bugs?: Bugs;
  /**
   * Keep only each block's input and recompute the block in the backward (with the cache). Default:
   * when the whole cache would take more than RECOMPUTE_ABOVE_BYTES (vitCacheBytes).
   */
  recompute?: boolean;
}

/** Above this many bytes of block activations, vitForward recomputes them in the backward by default. */
export const RECOMPUTE_ABOVE_BYTES = 1.5 * 2 ** 30;

/** Bytes of the activations blockForward keeps for the backward, for all blocks of a batch of B images of N tokens. */
export function vitCacheBytes(cfg: VitConfig, B: number, N: number): number {
  const R = B * N;
  const D = cfg.embedDim;
  // x, ln1, merged, x1, ln2 [R, D]; qkv [R, 3D]; h, a [R, Dm]; means and rstds [R]; attn [B, H, N, N]
  const perBlock = R * (8 * D + 2 * hiddenDim(cfg) + 4) + B * cfg.numHeads * N * N;
  return 4 * cfg.depth * perBlock;
}

/** A block's input and the drop-path masks its forward drew: what recomputing it needs. */
interface BlockCheckpoint extends BlockDropPath {
  readonly x: Tensor;
}

export interface VitCache {
  readonly B: number;
  readonly N: number;
  readonly grid: PatchGrid;
  readonly plan: PosPlan;
  readonly patch: PatchEmbedCache;
  /** Every block's cache but the last's (empty when the blocks are recomputed). */
  readonly blocks: BlockCache[];
  /** The last block's cache, computed for the CLS tokens (null when the blocks are recomputed). */
  readonly last: ClsBlockCache | null;
  /** With recomputation: each block's input and masks, the last one's included (null otherwise). */
  readonly checkpoints: BlockCheckpoint[] | null;
  /** [B, D] the last block's output at the CLS tokens (input of the final norm), its mean and rstd [B]. */
  readonly clsIn: Tensor;
  readonly normMean: Tensor;
  readonly normRstd: Tensor;
}

export interface VitBackwardOptions {
  /** Also return ∂L/∂images [B, C, H, W] (default false). */
  gradImages?: boolean;
}

/** Checks the images' shape [B, C, H, W] and every parameter's shape against the config. */
function checkInputs(params: ParamScope, cfg: VitConfig, images: Tensor, B: number, H: number, W: number): PatchGrid {
  const want = [B, cfg.inChans, H, W];
  check(images.shape.length === 4, () => `images have shape ${shapeString(images.shape)}; expected [B, ${cfg.inChans}, H, W] = ${shapeString(want)}`);
  check(images.shape[1] === cfg.inChans, () => `images have ${images.shape[1]} channels (shape ${shapeString(images.shape)}); expected ${cfg.inChans} ([B, ${cfg.inChans}, H, W])`);
  check(images.shape.every((d, i) => d === want[i]), () => `images have shape ${shapeString(images.shape)}; expected ${shapeString(want)}`);
  check(images.data.length === numel(want), () => `images hold ${images.data.length} values; expected ${numel(want)} for ${shapeString(want)}`);
  for (const s of vitParamSpecs(cfg)) {
    const t = params.param(s.name);
    check(t.data.length === numel(s.shape), () => `parameter ${s.name} has ${t.data.length} values (shape ${shapeString(t.shape)}); expected ${shapeString(s.shape)}`);
  }
  return patchGrid(H, W, cfg.patchSize);
}

/**
 * prepare_tokens: x [R, D] with row b·N = cls_token + pos[0] and row b·N + 1 + j = patch_j + pos[1 + j].
 * Allocates the tokens, the resampled pos_embed and the patch-embedding cache.
 */
export function prepareTokens(be: Backend, params: ParamScope, cfg: VitConfig, images: Tensor, B: number, H: number, W: number, bugs: Bugs = NO_BUGS) {
  const grid = checkInputs(params, cfg, images, B, H, W);
  const D = cfg.embedDim;
  const N = 1 + grid.n;
  const plan = posPlan(numPatches0(cfg), H, W, cfg.patchSize, bugs);
  const pos = be.empty([1, N, D]);
  interpolatePosEncoding(pos, params.param("pos_embed"), plan, D);
  const patches = be.empty([B * grid.n, D]);
  const patch = patchEmbedForward(be, patches, images, params.param("patch_embed.proj.weight"), params.param("patch_embed.proj.bias"), B, cfg.inChans, H, W, cfg.patchSize);
  const x = be.empty([B * N, D]);
  const xd = x.data;
  const pd = pos.data;
  const td = patches.data;
  const cls = params.param("cls_token").data;
  for (let b = 0; b < B; b++) {
    // x[b, 0] = cls_token + pos[0]
    for (let c = 0; c < D; c++) xd[b * N * D + c] = cls[c] + pd[c];
    // x[b, 1 + j] = patch_embed(images)[b, j] + pos[1 + j]
    for (let j = 0; j < grid.n; j++) {
      const dst = (b * N + 1 + j) * D;
      const src = (b * grid.n + j) * D;
      for (let c = 0; c < D; c++) xd[dst + c] = td[src + c] + pd[(1 + j) * D + c];
    }
  }
  return { x, grid, N, plan, patch, patches };
}

/** Runs blocks [from, to) on x without keeping activations; returns the output (one of two ping-pong buffers). */
function runBlocksNoCache(be: Backend, params: ParamScope, cfg: VitConfig, x: Tensor, from: number, to: number, work: BlockWork, B: number, N: number, onOutput?: (i: number, out: Tensor) => void): Tensor {
  const bufs = [be.empty([B * N, cfg.embedDim]), be.empty([B * N, cfg.embedDim])];
  let cur = x;
  for (let i = from; i < to; i++) {
    const out = bufs[i % 2];
    const m = be.mark();
    blockForward(be, blockParams(params, i), cfg, i, cur, out, work, B, N, null, false);
    be.release(m);
    onOutput?.(i, out);
    cur = out;
  }
  return cur;
}

/**
 * The final norm on the CLS rows clsIn [B, D] of the last block's output (LayerNorm is per row, so
 * norming only them equals norm(x)[:, 0]): writes cls [B, D], returns the norm's mean and rstd.
 */
function finalNormCls(be: Backend, params: ParamScope, cfg: VitConfig, cls: Tensor, clsIn: Tensor, B: number) {
  const D = cfg.embedDim;
  const mean = be.empty([B]);
  const rstd = be.empty([B]);
  // cls = norm(x)[:, 0]
  be.layerNormForward(cls.data, mean.data, rstd.data, clsIn.data, params.param("norm.weight").data, params.param("norm.bias").data, B, D, cfg.eps);
  return { mean, rstd };
}

/**
 * forward(x): images [B, C, H, W] → cls [B, D], the CLS token after the final norm. With
 * opts.cache (default) the cache for vitBackward is kept in `be`'s memory; otherwise only `cls`
 * stays allocated and cache is null.
 */
export function vitForward(
  be: Backend, params: ParamScope, cfg: VitConfig, images: Tensor, B: number, H: number, W: number, opts: VitForwardOptions = {},
): { cls: Tensor; cache: VitCache | null } {
  const keep = opts.cache ?? true;
  const dropRng = opts.training && cfg.dropPathRate > 0 ? (opts.dropPathRng ?? null) : null;
  check(!(opts.training && cfg.dropPathRate > 0 && dropRng === null), "vitForward: training with dropPathRate > 0 needs opts.dropPathRng");
  const cls = be.empty([B, cfg.embedDim]);
  const last = cfg.depth - 1;
  if (!keep) {
    check(dropRng === null, "vitForward: drop path (training) needs opts.cache");
    const m = be.mark();
    const { x, N } = prepareTokens(be, params, cfg, images, B, H, W, opts.bugs);
    const work = allocBlockWork(be, cfg, B, N);
    const lastIn = runBlocksNoCache(be, params, cfg, x, 0, last, work, B, N);
    const clsIn = be.empty([B, cfg.embedDim]);
    blockForwardCls(be, blockParams(params, last), cfg, last, lastIn, clsIn, B, N, null, false);
    finalNormCls(be, params, cfg, cls, clsIn, B);
    be.release(m);
    return { cls, cache: null };
  }
  const { x, grid, N, plan, patch } = prepareTokens(be, params, cfg, images, B, H, W, opts.bugs);
  const recompute = opts.recompute ?? vitCacheBytes(cfg, B, N) > RECOMPUTE_ABOVE_BYTES;
  const work = allocBlockWork(be, cfg, B, N);
  const blocks: BlockCache[] = [];
  const checkpoints: BlockCheckpoint[] | null = recompute ? [] : null;
  let cur = x;
  for (let i = 0; i < last; i++) {
    const out = be.empty([B * N, cfg.embedDim]);
    const m = be.mark();
    const c = blockForward(be, blockParams(params, i), cfg, i, cur, out, work, B, N, dropRng, !recompute);
    if (checkpoints !== null) {
      // keep the input and the masks, free the rest
      checkpoints.push({ x: cur, drop1: c.drop1, drop2: c.drop2 });
      be.release(m);
    } else {
      blocks.push(c);
    }
    cur = out;
  }
  // the last block for the CLS tokens: its output's CLS rows are all the final norm reads
  const clsIn = be.empty([B, cfg.embedDim]);
  const m = be.mark();
  const c = blockForwardCls(be, blockParams(params, last), cfg, last, cur, clsIn, B, N, dropRng, !recompute);
  if (checkpoints !== null) {
    checkpoints.push({ x: cur, drop1: c.drop1, drop2: c.drop2 });
    be.release(m);
  }
  const { mean, rstd } = finalNormCls(be, params, cfg, cls, clsIn, B);
  return { cls, cache: { B, N, grid, plan, patch, blocks, last: checkpoints === null ? c : null, checkpoints, clsIn, normMean: mean, normRstd: rstd } };
}

/**
 * Backward of vitForward for ∂L/∂cls [B, D]: accumulates into params.grad(...) for every backbone
 * parameter and, with opts.gradImages, returns ∂L/∂images [B, C, H, W] (else null).
 */
export function vitBackward(
  be: Backend, params: ParamScope, cfg: VitConfig, cache: VitCache, gradCls: Tensor, opts: VitBackwardOptions = {},
): { gradImages: Tensor | null } {
  const { B, N, grid, plan, patch } = cache;
  const D = cfg.embedDim;
  check(gradCls.data.length === B * D, () => `vitBackward: gradCls has ${gradCls.data.length} values; expected [B, D] = [${B}, ${D}]`);
  const gradImages = opts.gradImages ? be.alloc([B, cfg.inChans, patch.H, patch.W]) : null;
  const m = be.mark();

  // ---- final norm (CLS rows only): ∂L/∂clsIn = norm backward of ∂L/∂cls
  const gClsIn = be.alloc([B, D]);
  be.layerNormBackward(gClsIn.data, params.grad("norm.weight").data, params.grad("norm.bias").data, gradCls.data, cache.clsIn.data, cache.normMean.data, cache.normRstd.data, params.param("norm.weight").data, B, D);

  // ---- the last block (CLS tokens), into ∂L/∂x of its input, g [R, D]
  const work = allocBlockGradWork(be, cfg, B, N);
  const g = be.empty([B * N, D]);
  const last = cfg.depth - 1;
  if (cache.checkpoints === null) {
    blockBackwardCls(be, blockParams(params, last), cfg, gClsIn, g, cache.last!, work, B, N);
  } else {
    const m = be.mark();
    const point = cache.checkpoints[last];
    const c = blockForwardCls(be, blockParams(params, last), cfg, last, point.x, be.empty([B, D]), B, N, point);
    blockBackwardCls(be, blockParams(params, last), cfg, gClsIn, g, c, work, B, N);
    be.release(m);
  }

  // ---- the other blocks, last to first, in place on g (recomputing each block's forward first, with its masks)
  const forwardWork = cache.checkpoints === null ? null : allocBlockWork(be, cfg, B, N);
  for (let i = last - 1; i >= 0; i--) {
    const p = blockParams(params, i);
    if (cache.checkpoints === null) {
      blockBackward(be, p, cfg, g, cache.blocks[i], work, B, N);
      continue;
    }
    const m = be.mark();
    const point = cache.checkpoints[i];
    const c = blockForward(be, p, cfg, i, point.x, be.empty([B * N, D]), forwardWork!, B, N, point);
    blockBackward(be, p, cfg, g, c, work, B, N);
    be.release(m);
  }

  // ---- prepare_tokens: x = [cls; patches] + pos
  const gPos = be.empty([1, N, D]);
  const gPatches = be.empty([B * grid.n, D]);
  {
    const gd = g.data;
    const gp = gPos.data;
    const gt = gPatches.data;
    const gCls = params.grad("cls_token").data;
    for (let c = 0; c < D; c++) {
      // ∂L/∂cls_token = Σ_b ∂L/∂x[b, 0]
      let s = 0;
      for (let b = 0; b < B; b++) s += gd[b * N * D + c];
      gCls[c] += s;
    }
    for (let t = 0; t < N; t++) {
      for (let c = 0; c < D; c++) {
        // ∂L/∂pos[t] = Σ_b ∂L/∂x[b, t]
        let s = 0;
        for (let b = 0; b < B; b++) s += gd[(b * N + t) * D + c];
        gp[t * D + c] = s;
      }
    }
    // ∂L/∂patches[b, j] = ∂L/∂x[b, 1 + j]
    for (let b = 0; b < B; b++) gt.set(gd.subarray((b * N + 1) * D, (b + 1) * N * D), b * grid.n * D);
  }
  // ∂L/∂pos_embed += resamplingᵀ·∂L/∂pos
  interpolatePosEncodingBackward(params.grad("pos_embed"), gPos, plan, D);
  patchEmbedBackward(be, params.grad("patch_embed.proj.weight"), params.grad("patch_embed.proj.bias"), gradImages, gPatches, params.param("patch_embed.proj.weight"), patch);
  be.release(m);
  return { gradImages };
}

/**
 * get_last_selfattention: blocks 0..depth−2, then the last block's attention probabilities on
 * norm1 of its input: [B, heads, N, N] (its residual, MLP and the final norm are not run).
 */
export function vitLastSelfAttention(be: Backend, params: ParamScope, cfg: VitConfig, images: Tensor, B: number, H: number, W: number, bugs: Bugs = NO_BUGS): Tensor {
  const N = 1 + patchGrid(H, W, cfg.patchSize).n;
  const attn = be.empty([B, cfg.numHeads, N, N]);
  const m = be.mark();
  const { x } = prepareTokens(be, params, cfg, images, B, H, W, bugs);
  const work = allocBlockWork(be, cfg, B, N);
  const last = runBlocksNoCache(be, params, cfg, x, 0, cfg.depth - 1, work, B, N);
  blockSelfAttention(be, blockParams(params, cfg.depth - 1), cfg, last, attn, B, N);
  be.release(m);
  return attn;
}

/**
 * get_intermediate_layers(x, n): the final norm applied to each of the last n blocks' outputs,
 * oldest first: n tensors [B, N, D].
 */
export function vitIntermediateLayers(be: Backend, params: ParamScope, cfg: VitConfig, images: Tensor, B: number, H: number, W: number, n: number): Tensor[] {
  check(Number.isInteger(n) && n >= 1 && n <= cfg.depth, () => `vitIntermediateLayers: n = ${n}; expected an integer in [1, depth = ${cfg.depth}]`);
  const N = 1 + patchGrid(H, W, cfg.patchSize).n;
  const D = cfg.embedDim;
  const outs = Array.from({ length: n }, () => be.empty([B, N, D]));
  const m = be.mark();
  const { x } = prepareTokens(be, params, cfg, images, B, H, W);
  const work = allocBlockWork(be, cfg, B, N);
  const mean = be.empty([B * N]);
  const rstd = be.empty([B * N]);
  runBlocksNoCache(be, params, cfg, x, 0, cfg.depth, work, B, N, (i, out) => {
    const k = i - (cfg.depth - n);
    // outs[k] = norm(x after block i)
    if (k >= 0) be.layerNormForward(outs[k].data, mean.data, rstd.data, out.data, params.param("norm.weight").data, params.param("norm.bias").data, B * N, D, cfg.eps);
  });
  be.release(m);
  return outs;
}
