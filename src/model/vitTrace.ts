// Every intermediate of the backbone (and of the DINO head, when given) under the names of
// `dino-ref trace` and the `vit_trace` golden op, in forward order, so that a port can find the
// first layer where its numbers go wrong. Built from the same block and head functions as
// vitForward; training never calls it. Shapes: B batch, n patches, T = 1 + n tokens, D width,
// H heads, Dm MLP width, Db bottleneck, K head outputs.

import type { Backend, Tensor } from "../kernels/backend.js";
import type { ParamScope } from "./params.js";
import type { VitConfig } from "./vitConfig.js";
import { hiddenDim } from "./vitConfig.js";
import { allocBlockWork, blockForward, blockParams } from "./block.js";
import { prepareTokens } from "./vit.js";
import { linearForward } from "./linear.js";
import { dinoHeadForward, resolveDinoHeadConfig, type DinoHeadConfig } from "./dinoHead.js";
import { NO_BUGS, type Bugs } from "../tensor/portingBugs.js";

/** What each block records, in forward order (the trace name is `blocks.<i>.<part>`). */
export const TRACE_BLOCK_PARTS = [
  "norm1", "attn.qkv", "attn.weights", "attn.proj", "resid1", "norm2", "mlp.fc1", "mlp.act", "mlp.fc2", "out",
] as const;

/** The head's records, in forward order. */
export const TRACE_HEAD_PARTS = ["head.mlp", "head.bottleneck", "head.logits"] as const;

/** Every trace name for a backbone of `depth` blocks (and a head), in forward order. */
export function traceNames(depth: number, withHead: boolean): string[] {
  const names = ["patch_embed", "tokens"];
  for (let i = 0; i < depth; i++) for (const part of TRACE_BLOCK_PARTS) names.push(`blocks.${i}.${part}`);
  names.push("norm", "cls");
  if (withHead) names.push(...TRACE_HEAD_PARTS);
  return names;
}

export interface TracedTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface TraceHead {
  readonly params: ParamScope;
  readonly config: DinoHeadConfig;
}

/**
 * Runs the backbone on images [B, C, H, W] (and the head on the CLS rows) and returns every
 * intermediate, copied out of `be`'s memory, keyed by its trace name in forward order. `bugs`:
 * known porting mistakes switched on (only when `dino-ref compare` diagnoses a vit_trace case).
 */
export function vitTrace(
  be: Backend, params: ParamScope, cfg: VitConfig, images: Tensor, B: number, H: number, W: number, head: TraceHead | null = null, bugs: Bugs = NO_BUGS,
): Map<string, TracedTensor> {
  const trace = new Map<string, TracedTensor>();
  const record = (name: string, shape: readonly number[], t: Tensor) => trace.set(name, { shape, data: Float32Array.from(t.data) });
  const D = cfg.embedDim;
  const Dm = hiddenDim(cfg);
  const mark = be.mark();
  try {
    const { x, N, grid, patches } = prepareTokens(be, params, cfg, images, B, H, W, bugs);
    const R = B * N;
    record("patch_embed", [B, grid.n, D], patches);
    // tokens = [cls; patch_embed] + the (resampled) position embedding
    record("tokens", [B, N, D], x);
    const work = allocBlockWork(be, cfg, B, N);
    const proj = be.alloc([R, D]);
    const fc2 = be.alloc([R, D]);
    let cur = x;
    for (let i = 0; i < cfg.depth; i++) {
      const p = blockParams(params, i);
      const out = be.alloc([R, D]);
      const c = blockForward(be, p, cfg, i, cur, out, work, B, N, null);
      // the two branches' outputs before their residual adds (the block adds them as it stores): the same products again
      linearForward(be, proj, c.merged, p.param("attn.proj.weight"), p.param("attn.proj.bias"), R, D, D);
      linearForward(be, fc2, c.a, p.param("mlp.fc2.weight"), p.param("mlp.fc2.bias"), R, Dm, D);
      const at = `blocks.${i}.`;
      record(`${at}norm1`, [B, N, D], c.ln1);
      record(`${at}attn.qkv`, [B, N, 3 * D], c.qkv);
      record(`${at}attn.weights`, [B, cfg.numHeads, N, N], c.attn!);
      record(`${at}attn.proj`, [B, N, D], proj);
      record(`${at}resid1`, [B, N, D], c.x1);
      record(`${at}norm2`, [B, N, D], c.ln2);
      record(`${at}mlp.fc1`, [B, N, Dm], c.h);
      record(`${at}mlp.act`, [B, N, Dm], c.a);
      record(`${at}mlp.fc2`, [B, N, D], fc2);
      record(`${at}out`, [B, N, D], out);
      cur = out;
    }
    // norm = the final LayerNorm on every token; cls = its CLS rows (what vitForward returns)
    const norm = be.alloc([R, D]);
    const mean = be.alloc([R]);
    const rstd = be.alloc([R]);
    be.layerNormForward(norm.data, mean.data, rstd.data, cur.data, params.param("norm.weight").data, params.param("norm.bias").data, R, D, cfg.eps);
    record("norm", [B, N, D], norm);
    const cls = be.alloc([B, D]);
    for (let b = 0; b < B; b++) cls.data.set(norm.data.subarray(b * N * D, b * N * D + D), b * D);
    record("cls", [B, D], cls);
    if (head !== null) {
      const hc = resolveDinoHeadConfig(head.config);
      const { y, cache } = dinoHeadForward(be, head.params, hc, cls, B, bugs);
      // head.mlp: the MLP's output z; head.bottleneck: z/max(‖z‖, 1e-12); head.logits: the weight-normalised last layer
      record("head.mlp", [B, hc.bottleneckDim], cache.pre[cache.pre.length - 1]);
      record("head.bottleneck", [B, hc.bottleneckDim], cache.u);
      record("head.logits", [B, hc.outDim], y);
    }
    return trace;
  } finally {
    be.release(mark);
  }
}
