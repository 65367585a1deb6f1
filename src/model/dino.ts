// The DINO network as the official MultiCropWrapper runs it: a ViT backbone and the DINO head.
// Crops of equal resolution go through the backbone together (global crops as one batch, local
// crops as another), the CLS outputs are concatenated crop-major, and the head runs ONCE on all of
// them: out [ncrops·B, K], rows 0..B−1 are crop 0 of every image, B..2B−1 crop 1, ...

import type { Backend, Tensor } from "../kernels/backend.js";
import { ParamStore, type ParamScope, type ParamSpec } from "./params.js";
import type { VitConfig } from "./vitConfig.js";
import { vitForward, vitBackward, type VitCache } from "./vit.js";
import { vitParamSpecs, initVit } from "./vitParams.js";
import { dinoHeadForward, dinoHeadBackward, dinoHeadParamSpecs, initDinoHead, isTrainableHeadParam, type DinoHeadConfig, type DinoHeadCache } from "./dinoHead.js";
import { check } from "../tensor/errors.js";
import { Rng, STREAM } from "../tensor/rng.js";
import type { Bugs } from "../tensor/portingBugs.js";

export interface DinoModelConfig {
  readonly vit: VitConfig;
  readonly head: DinoHeadConfig;
}

/** Every parameter: `backbone.<vit key>` then `head.<head key>`, the official state_dict order. */
export function dinoParamSpecs(cfg: DinoModelConfig): ParamSpec[] {
  return [...vitParamSpecs(cfg.vit, "backbone."), ...dinoHeadParamSpecs(cfg.head, "head.")];
}

/** Whether a parameter receives gradients (weight_g is frozen when normLastLayer). */
export function isTrainable(name: string, cfg: DinoModelConfig): boolean {
  return !name.startsWith("head.") || isTrainableHeadParam(name.slice("head.".length), cfg.head);
}

/** Official initialisation from `seed`; each tensor's values depend only on the seed and its name. */
export function initDino(params: ParamScope, cfg: DinoModelConfig, seed: number): void {
  // each tensor draws from Rng(seed, STREAM.init, key of its full name): order does not matter
  const rng = new Rng(seed, STREAM.init);
  initVit(scope(params, "backbone."), cfg.vit, rng, "backbone.");
  initDinoHead(scope(params, "head."), cfg.head, rng, "head.");
}

/**
 * The backbone of `cfg` as a training run with `seed` starts it: each tensor drawn from (seed, its
 * full name `backbone.<key>`), so this equals the backbone of initDino's student, bit for bit.
 */
export function initBackbone(params: ParamScope, cfg: VitConfig, seed: number): void {
  initVit(params, cfg, new Rng(seed, STREAM.init), "backbone.");
}

/** A new backbone of `cfg` (no gradients) initialised as a training run with `seed` starts it: "the same net at init". */
export function backboneAtInit(be: Backend, cfg: VitConfig, seed: number): ParamStore {
  const init = ParamStore.create(be, vitParamSpecs(cfg), { grads: false });
  initBackbone(init, cfg, seed);
  return init;
}

function scope(params: ParamScope, prefix: string): ParamScope {
  return { param: (n) => params.param(prefix + n), grad: (n) => params.grad(prefix + n) };
}

export interface MultiCropCache {
  readonly groups: { readonly first: number; readonly count: number; readonly cache: VitCache; readonly size: readonly [number, number] }[];
  readonly head: DinoHeadCache;
  readonly B: number;
}

export interface MultiCropOptions {
  /** Keep activations for multiCropBackward (the student); false for the teacher. */
  cache?: boolean;
  /** Drop path on (the student in training), masks from this generator. */
  dropPathRng?: Rng;
  /** Porting mistakes of the resampling and the head (interpolate.*, head.no_l2_bottleneck), for `dino-ref compare`'s diagnosis only. */
  bugs?: Bugs;
}

/**
 * crops: ncrops tensors [B, 3, h, w] (crop-major). Consecutive crops of the same width form one
 * backbone batch. Returns out [ncrops·B, K] and, when asked, the cache for the backward.
 */
export function multiCropForward(be: Backend, params: ParamScope, cfg: DinoModelConfig, crops: readonly Tensor[], opts: MultiCropOptions = {}): { out: Tensor; cache: MultiCropCache | null } {
  check(crops.length >= 1, "multiCropForward: no crops");
  const B = crops[0].shape[0];
  const D = cfg.vit.embedDim;
  const keep = opts.cache ?? false;
  const backbone = scope(params, "backbone.");
  const cls = be.empty([crops.length * B, D]);
  const groups: MultiCropCache["groups"][number][] = [];
  for (let first = 0; first < crops.length; ) {
    const [, C, h, w] = crops[first].shape;
    let count = 1;
    while (first + count < crops.length && crops[first + count].shape[3] === w) count++;
    // the group's crops as one batch [count·B, C, h, w]
    const batch = be.empty([count * B, C, h, w]);
    const per = B * C * h * w;
    for (let i = 0; i < count; i++) {
      const crop = crops[first + i];
      check(crop.shape[0] === B && crop.shape[2] === h && crop.data.length === per, () => `crop ${first + i} has shape [${crop.shape.join(", ")}]; expected [${B}, ${C}, ${h}, ${w}] like crop ${first}`);
      batch.data.set(crop.data, i * per);
    }
    const { cls: groupCls, cache } = vitForward(be, backbone, cfg.vit, batch, count * B, h, w, {
      cache: keep,
      training: opts.dropPathRng !== undefined,
      dropPathRng: opts.dropPathRng,
      bugs: opts.bugs,
    });
    cls.data.set(groupCls.data, first * B * D);
    if (keep) groups.push({ first, count, cache: cache!, size: [h, w] });
    first += count;
  }
  const { y, cache: headCache } = dinoHeadForward(be, scope(params, "head."), cfg.head, cls, crops.length * B, opts.bugs);
  return { out: y, cache: keep ? { groups, head: headCache, B } : null };
}

/** Accumulates the gradients of every trainable parameter from ∂L/∂out [ncrops·B, K]. */
export function multiCropBackward(be: Backend, params: ParamScope, cfg: DinoModelConfig, cache: MultiCropCache, gradOut: Tensor): void {
  const D = cfg.vit.embedDim;
  const B = cache.B;
  const gradCls = dinoHeadBackward(be, scope(params, "head."), cfg.head, cache.head, gradOut);
  const backbone = scope(params, "backbone.");
  for (const g of cache.groups) {
    const part = be.empty([g.count * B, D]);
    part.data.set(gradCls.data.subarray(g.first * B * D, (g.first + g.count) * B * D));
    vitBackward(be, backbone, cfg.vit, g.cache, part);
  }
}
