// The ViT backbone's parameters: official state_dict keys and shapes in named_parameters() order,
// and the official initialisation (trunc-normal 0.02 for Linear weights, cls_token and pos_embed;
// PyTorch's default U(±1/sqrt(fan_in)) for the patch conv). Draws are ours, not PyTorch's.

import type { Rng } from "../tensor/rng.js";
import { initRng, truncNormalFill, uniformFill } from "./init.js";
import type { ParamScope, ParamSpec } from "./params.js";
import { hiddenDim, numPatches0, type VitConfig } from "./vitConfig.js";

/** Parameter keys of block i, relative to `blocks.i.`, with their shapes. */
function blockSpecs(cfg: VitConfig): ParamSpec[] {
  const D = cfg.embedDim;
  const Dm = hiddenDim(cfg);
  return [
    { name: "norm1.weight", shape: [D] },
    { name: "norm1.bias", shape: [D] },
    { name: "attn.qkv.weight", shape: [3 * D, D] },
    ...(cfg.qkvBias ? [{ name: "attn.qkv.bias", shape: [3 * D] }] : []),
    { name: "attn.proj.weight", shape: [D, D] },
    { name: "attn.proj.bias", shape: [D] },
    { name: "norm2.weight", shape: [D] },
    { name: "norm2.bias", shape: [D] },
    { name: "mlp.fc1.weight", shape: [Dm, D] },
    { name: "mlp.fc1.bias", shape: [Dm] },
    { name: "mlp.fc2.weight", shape: [D, Dm] },
    { name: "mlp.fc2.bias", shape: [D] },
  ];
}

/**
 * Every backbone parameter in the official named_parameters() order (own parameters cls_token and
 * pos_embed first, then patch_embed, blocks, norm), names prefixed by `prefix` (e.g. "backbone.").
 */
export function vitParamSpecs(cfg: VitConfig, prefix = ""): ParamSpec[] {
  const D = cfg.embedDim;
  const p = cfg.patchSize;
  const specs: ParamSpec[] = [
    { name: "cls_token", shape: [1, 1, D] },
    { name: "pos_embed", shape: [1, 1 + numPatches0(cfg), D] },
    { name: "patch_embed.proj.weight", shape: [D, cfg.inChans, p, p] },
    { name: "patch_embed.proj.bias", shape: [D] },
  ];
  for (let i = 0; i < cfg.depth; i++) for (const s of blockSpecs(cfg)) specs.push({ name: `blocks.${i}.${s.name}`, shape: s.shape });
  specs.push({ name: "norm.weight", shape: [D] }, { name: "norm.bias", shape: [D] });
  return specs.map((s) => ({ name: prefix + s.name, shape: s.shape }));
}

// one key scheme for every module of the model (backbone and head)
export { initKey } from "./init.js";

/**
 * Initialises the backbone as the official code does: Linear weights, cls_token and pos_embed
 * trunc_normal(std 0.02, a −2, b 2) (absolute bounds: ±100σ), Linear biases 0, LayerNorm 1 / 0,
 * the patch conv weight AND bias U(±1/sqrt(inChans·p²)) (PyTorch's Conv2d default, untouched by
 * `_init_weights`), with the shared initialisers of ./init.ts. Only `rng.seed` is used: each
 * tensor draws from its own Rng(seed, STREAM.init, initKey(keyPrefix + name)), so the result does
 * not depend on order.
 * `keyPrefix` should be the tensor's prefix in the whole model (e.g. "backbone.").
 */
export function initVit(params: ParamScope, cfg: VitConfig, rng: Rng, keyPrefix = ""): void {
  const draw = (name: string) => initRng(rng.seed, keyPrefix + name);
  const p = cfg.patchSize;
  // U(±1/sqrt(fan_in)), fan_in = inChans·p·p
  const bound = 1 / Math.sqrt(cfg.inChans * p * p);
  for (const { name } of vitParamSpecs(cfg)) {
    const data = params.param(name).data;
    if (name === "cls_token" || name === "pos_embed") {
      truncNormalFill(data, draw(name), 0.02, 0, -2, 2);
    } else if (name.startsWith("patch_embed.proj.")) {
      uniformFill(data, draw(name), -bound, bound);
    } else if (/(^|\.)norm\d?\.weight$/.test(name)) {
      data.fill(1);
    } else if (name.endsWith(".bias")) {
      data.fill(0);
    } else {
      truncNormalFill(data, draw(name), 0.02, 0, -2, 2);
    }
  }
}
