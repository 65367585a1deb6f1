// Ops of the contract that run the ViT backbone: interpolate_pos_encoding, vit_forward,
// vit_backward, vit_trace (every intermediate, and the head's when the case has one). Weights come from `in.model.<official key>`; the size of pos_embed fixes the grid
// it was made for. The parameters live in a ParamStore on the backend given, as in training.

import type { StTensor } from "../io/safetensors.js";
import type { Backend, Tensor } from "../kernels/backend.js";
import type { OpImpl } from "./opImpl.js";
import { ParamStore } from "../model/params.js";
import { interpolatePosEncoding, posPlan } from "../model/posEmbed.js";
import { vitBackward, vitForward, vitLastSelfAttention } from "../model/vit.js";
import { vitTrace, type TraceHead } from "../model/vitTrace.js";
import { caseHead } from "./headOps.js";
import { vitConfig, type VitConfig } from "../model/vitConfig.js";
import { vitParamSpecs } from "../model/vitParams.js";
import { shapeString } from "../tensor/named.js";
import { tokensOf, vitActivationBytes } from "../model/memory.js";
import { f32Out, type OpArgs } from "./args.js";
import type { Bugs } from "../tensor/portingBugs.js";

type Op = OpImpl;

/** interpolate_pos_encoding: pos_embed [1, 1 + N0, D] resampled for an image of height × width pixels. */
function interpolatePosEncodingOp(args: OpArgs, _be: Backend, bugs: Bugs): Map<string, StTensor> {
  const pos = args.f32("pos_embed", [1, "1+N0", "D"]);
  const [N0, D] = [args.dim("1+N0") - 1, args.dim("D")];
  const p = args.number("patch_size", { integer: true, positive: true });
  const height = args.number("height", { integer: true, positive: true });
  const width = args.number("width", { integer: true, positive: true });
  const n = Math.floor(height / p) * Math.floor(width / p);
  args.budget(4 * (1 + n) * D, `the position embedding of ${n} patches for a ${height}×${width} image`);
  const plan = posPlan(N0, height, width, p, bugs);
  const shape = [1, 1 + plan.rows * plan.cols, D];
  const out: Tensor = { shape, data: new Float32Array(shape[1] * D) };
  interpolatePosEncoding(out, { shape: [1, 1 + N0, D], data: pos }, plan, D);
  return new Map([["pos_embed", f32Out(shape, out.data as Float32Array)]]);
}

/** The backbone config from the op's params; pos_embed's grid g gives imgSize = g·p. */
function configFrom(args: OpArgs): VitConfig {
  const patchSize = args.number("patch_size", { integer: true, positive: true });
  const pos = args.input("model.pos_embed", "F32", [1, "1+N0", "D"]);
  const g = Math.round(Math.sqrt(pos.shape[1] - 1));
  if (g * g !== pos.shape[1] - 1) args.fail(`tensor in.model.pos_embed has shape ${shapeString(pos.shape)}: ${pos.shape[1] - 1} patch positions are not a square grid`);
  return vitConfig({
    patchSize,
    embedDim: args.number("embed_dim", { integer: true, positive: true }),
    depth: args.number("depth", { integer: true, positive: true, max: Math.max(1, args.modulesUnder("model.blocks.")) }),
    numHeads: args.number("num_heads", { integer: true, positive: true }),
    mlpRatio: args.has("mlp_ratio") ? args.number("mlp_ratio", { positive: true }) : 4,
    qkvBias: args.has("qkv_bias") ? args.boolean("qkv_bias") : true,
    imgSize: g * patchSize,
    eps: args.has("eps") ? args.number("eps", { positive: true }) : 1e-6,
  });
}

/** Every backbone parameter from `in.model.<key>` (shapes checked; no key missing, none unexpected) into `params`. */
function loadParams(args: OpArgs, cfg: VitConfig, params: ParamStore): ParamStore {
  const specs = vitParamSpecs(cfg);
  const given = args.prefixed("model.");
  const known = new Set(specs.map((s) => s.name));
  for (const name of given.keys()) if (!known.has(name)) args.fail(`tensor in.model.${name} is not a parameter of this backbone (depth ${cfg.depth}, qkv_bias ${cfg.qkvBias})`);
  for (const s of specs) params.param(s.name).data.set(args.f32(`model.${s.name}`, s.shape));
  return params;
}

/** Runs forward (and backward when gradCls is given) on `be`; copies every output out of wasm memory. */
function runVit(args: OpArgs, be: Backend, bugs: Bugs, withBackward: boolean): Map<string, StTensor> {
  const cfg = configFrom(args);
  const images = args.f32("images", ["B", cfg.inChans, "H", "W"]);
  const [B, H, W] = [args.dim("B"), args.dim("H"), args.dim("W")];
  const gradCls = withBackward ? args.f32("grad_cls", [B, cfg.embedDim]) : null;
  const N = tokensOf(cfg, H, W);
  args.budget(vitActivationBytes(cfg, B, N, withBackward), `the backbone's activations on ${B} image(s) of ${N} tokens`);
  const mark = be.mark();
  try {
    const params = loadParams(args, cfg, ParamStore.create(be, vitParamSpecs(cfg)));
    const img = be.alloc([B, cfg.inChans, H, W]);
    img.data.set(images);
    const { cls, cache } = vitForward(be, params, cfg, img, B, H, W, { bugs });
    // get_last_selfattention (the training forward keeps only the CLS query's row of the last block)
    const attn = vitLastSelfAttention(be, params, cfg, img, B, H, W, bugs);
    const out = new Map<string, StTensor>([
      ["cls", f32Out([B, cfg.embedDim], Float32Array.from(cls.data))],
      ["last_attn", f32Out(attn.shape, Float32Array.from(attn.data))],
    ]);
    if (gradCls !== null) {
      const g = be.alloc([B, cfg.embedDim]);
      g.data.set(gradCls);
      const { gradImages } = vitBackward(be, params, cfg, cache!, g, { gradImages: true });
      for (const s of vitParamSpecs(cfg)) out.set(`grad.model.${s.name}`, f32Out(s.shape, Float32Array.from(params.grad(s.name).data)));
      out.set("grad_images", f32Out([B, cfg.inChans, H, W], Float32Array.from(gradImages!.data)));
    }
    return out;
  } finally {
    be.release(mark);
  }
}

/** vit_forward: cls [B, D] after the final norm, last_attn [B, H, N, N] (the last block's softmax on norm1 of its input). */
const vitForwardOp: Op = (args, be, bugs) => runVit(args, be, bugs, false);

/** vit_backward: ∂(Σ grad_cls·cls)/∂ every backbone parameter (grad.model.<key>) and ∂/∂images (grad_images). */
const vitBackwardOp: Op = (args, be, bugs) => runVit(args, be, bugs, true);

/**
 * vit_trace: every intermediate of the backbone on in.x [B, 3, H, W] (model.<key>), and of the
 * head (head.<key>, when the case has any) on the CLS rows, under the trace names of
 * src/model/vitTrace.ts.
 */
function vitTraceOp(args: OpArgs, be: Backend, bugs: Bugs): Map<string, StTensor> {
  const cfg = configFrom(args);
  const images = args.f32("x", ["B", cfg.inChans, "H", "W"]);
  const [B, H, W] = [args.dim("B"), args.dim("H"), args.dim("W")];
  const head = args.prefixed("head.").size > 0 ? caseHead(args, cfg.embedDim, B) : null;
  const N = tokensOf(cfg, H, W);
  // the trace keeps every intermediate: about the activations a backward keeps, once more as copies
  args.budget(2 * vitActivationBytes(cfg, B, N, true), `the trace of every intermediate on ${B} image(s) of ${N} tokens`);
  const mark = be.mark();
  try {
    const params = loadParams(args, cfg, ParamStore.create(be, vitParamSpecs(cfg), { grads: false }));
    let traceHead: TraceHead | null = null;
    if (head !== null) {
      const store = ParamStore.create(be, head.specs, { grads: false });
      head.specs.forEach((s, i) => store.param(s.name).data.set(head.values[i]));
      traceHead = { params: store, config: head.cfg };
    }
    const img = be.alloc([B, cfg.inChans, H, W]);
    img.data.set(images);
    const trace = vitTrace(be, params, cfg, img, B, H, W, traceHead, bugs);
    return new Map([...trace].map(([name, t]) => [name, f32Out(t.shape, t.data)]));
  } finally {
    be.release(mark);
  }
}

export const vitOps: [string, Op][] = [
  ["interpolate_pos_encoding", interpolatePosEncodingOp],
  ["vit_forward", vitForwardOp],
  ["vit_backward", vitBackwardOp],
  ["vit_trace", vitTraceOp],
];
