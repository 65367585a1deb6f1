// DINOHead (`vision_transformer.py DINOHead`), forward and backward by hand on any Backend: an MLP (Linear, GELU, …,
// Linear; no activation after the last), the L2 bottleneck z/max(‖z‖, 1e-12), and a weight-normalised
// Linear without bias, W_i = g_i·v_i/‖v_i‖. With g = 1 every output is a cosine in [−1, 1].
//
// Shapes: R rows, Din input width, Dh hidden width (hidden_dim), Db bottleneck width, K output dim.
// Not supported: use_bn (BatchNorm1d in the MLP); the contract's dino_head op has no such param.

import { DinoRefError } from "../tensor/errors.js";
import { shapeString } from "../tensor/named.js";
import type { Backend, Tensor } from "../kernels/backend.js";
import { linearBackward, linearForward } from "./linear.js";
import type { ParamScope, ParamSpec } from "./params.js";
import { l2NormalizeRowsBackward, l2NormalizeRowsForward } from "./l2Normalize.js";
import { weightNormBackward, weightNormForward } from "./weightNorm.js";
import { initRng, truncNormalFill, uniformFill } from "./init.js";
import type { Rng } from "../tensor/rng.js";
import { NO_BUGS, type Bugs } from "../tensor/portingBugs.js";

/** DINOHead(in_dim, out_dim, norm_last_layer, nlayers, hidden_dim, bottleneck_dim), official defaults. */
export interface DinoHeadConfig {
  inDim: number;
  outDim: number;
  /** default 2048 */
  hiddenDim?: number;
  /** default 256 */
  bottleneckDim?: number;
  /** default 3; like the official code, values below 1 mean 1 */
  nlayers?: number;
  /** default true: g stays 1 (weight_g frozen), every output a cosine */
  normLastLayer?: boolean;
}

export type ResolvedDinoHeadConfig = Required<DinoHeadConfig>;

/** Fills in the defaults and checks the sizes; nlayers = max(nlayers, 1) as in the official code. */
export function resolveDinoHeadConfig(cfg: DinoHeadConfig): ResolvedDinoHeadConfig {
  const r: ResolvedDinoHeadConfig = {
    inDim: cfg.inDim,
    outDim: cfg.outDim,
    hiddenDim: cfg.hiddenDim ?? 2048,
    bottleneckDim: cfg.bottleneckDim ?? 256,
    nlayers: Math.max(cfg.nlayers ?? 3, 1),
    normLastLayer: cfg.normLastLayer ?? true,
  };
  for (const key of ["inDim", "outDim", "hiddenDim", "bottleneckDim", "nlayers"] as const) {
    const v = r[key];
    if (!Number.isInteger(v) || v < 1) throw new DinoRefError(`DINOHead: ${key} must be a positive integer, got ${cfg[key]}`);
  }
  return r;
}

/** One Linear of the MLP: its state_dict prefix (without the trailing dot) and widths. */
export interface HeadLinear {
  readonly name: string;
  readonly dIn: number;
  readonly dOut: number;
}

/**
 * The MLP's Linears in order. nlayers 1: `mlp` is a bare Linear(Din, Db) (keys mlp.weight,
 * mlp.bias); otherwise an nn.Sequential with a GELU after every Linear but the last, so the
 * Linears sit at even indices: mlp.0, mlp.2, …, mlp.{2(nlayers−1)}.
 */
export function dinoHeadLinears(config: DinoHeadConfig): HeadLinear[] {
  const c = resolveDinoHeadConfig(config);
  if (c.nlayers === 1) return [{ name: "mlp", dIn: c.inDim, dOut: c.bottleneckDim }];
  const layers: HeadLinear[] = [];
  for (let l = 0; l < c.nlayers; l++) {
    const dIn = l === 0 ? c.inDim : c.hiddenDim;
    const dOut = l === c.nlayers - 1 ? c.bottleneckDim : c.hiddenDim;
    layers.push({ name: `mlp.${2 * l}`, dIn, dOut });
  }
  return layers;
}

/**
 * The head's parameters in named_parameters() order: each MLP Linear's weight [out,in] and bias
 * [out], then last_layer.weight_g [K,1] and last_layer.weight_v [K,Db] (weight_norm registers g
 * first). `prefix` (e.g. "head.") is prepended to every name.
 */
export function dinoHeadParamSpecs(config: DinoHeadConfig, prefix = ""): ParamSpec[] {
  const c = resolveDinoHeadConfig(config);
  const specs: ParamSpec[] = [];
  for (const l of dinoHeadLinears(c)) {
    specs.push({ name: `${prefix}${l.name}.weight`, shape: [l.dOut, l.dIn] });
    specs.push({ name: `${prefix}${l.name}.bias`, shape: [l.dOut] });
  }
  specs.push({ name: `${prefix}last_layer.weight_g`, shape: [c.outDim, 1] });
  specs.push({ name: `${prefix}last_layer.weight_v`, shape: [c.outDim, c.bottleneckDim] });
  return specs;
}

/**
 * Whether the optimizer trains this head parameter (name with or without a prefix such as
 * "head."): everything except last_layer.weight_g when norm_last_layer (requires_grad False there).
 */
export function isTrainableHeadParam(name: string, config: Pick<DinoHeadConfig, "normLastLayer">): boolean {
  const frozenG = config.normLastLayer ?? true;
  return !(frozenG && (name === "last_layer.weight_g" || name.endsWith(".last_layer.weight_g")));
}

/**
 * Initialises the head as the official code does (`vision_transformer.py DINOHead._init_weights`, `utils.py trunc_normal_`): every MLP Linear weight
 * trunc_normal(std 0.02, absolute bounds ±2), biases 0; weight_v PyTorch's default Linear init
 * U(±1/√Db); weight_g = 1. Only `rng.seed` is used: each tensor draws from its own
 * Rng(seed, STREAM.init, initKey(keyPrefix + name)), keyPrefix being the head's place in the model
 * ("head." for DINO's MultiCropWrapper), so the values depend only on the seed and the full key.
 */
export function initDinoHead(params: ParamScope, config: DinoHeadConfig, rng: Rng, keyPrefix = "head."): void {
  const seed = rng.seed;
  const c = resolveDinoHeadConfig(config);
  checkDinoHeadParams(params, c);
  for (const l of dinoHeadLinears(c)) {
    // W ~ trunc_normal(0, 0.02, −2, 2); b = 0
    truncNormalFill(params.param(`${l.name}.weight`).data, initRng(seed, `${keyPrefix}${l.name}.weight`), 0.02);
    params.param(`${l.name}.bias`).data.fill(0);
  }
  // v ~ U(−1/√Db, 1/√Db) (kaiming_uniform with a = √5); g = 1
  const bound = 1 / Math.sqrt(c.bottleneckDim);
  uniformFill(params.param("last_layer.weight_v").data, initRng(seed, `${keyPrefix}last_layer.weight_v`), -bound, bound);
  params.param("last_layer.weight_g").data.fill(1);
}

/** Checks that every head parameter exists with the shape `config` implies; DinoRefError otherwise. */
export function checkDinoHeadParams(params: ParamScope, config: DinoHeadConfig): void {
  for (const s of dinoHeadParamSpecs(config)) {
    let t: Tensor;
    try {
      t = params.param(s.name);
    } catch (e) {
      if (!(e instanceof DinoRefError)) throw e;
      throw new DinoRefError(`DINOHead: parameter ${s.name} ${shapeString(s.shape)} is missing (${e.message})`);
    }
    if (t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) {
      throw new DinoRefError(`DINOHead: parameter ${s.name} has shape ${shapeString(t.shape)}, expected ${shapeString(s.shape)} for ${describe(resolveDinoHeadConfig(config))}`);
    }
  }
}

function describe(c: ResolvedDinoHeadConfig): string {
  return `DINOHead(in_dim=${c.inDim}, out_dim=${c.outDim}, nlayers=${c.nlayers}, hidden_dim=${c.hiddenDim}, bottleneck_dim=${c.bottleneckDim})`;
}

/** What the backward needs from the forward. Allocated by the backend: keep it until the backward. */
export interface DinoHeadCache {
  readonly R: number;
  /** The caller's input [R,Din]: the caller keeps it alive until the backward. */
  readonly x: Tensor;
  /** Each MLP Linear's output h_l [R, dOut_l]; the last one is z [R,Db]. */
  readonly pre: readonly Tensor[];
  /** GELU(h_l) [R,Dh] for every Linear but the last (the next Linear's input). */
  readonly act: readonly Tensor[];
  /** ‖z_r‖₂ [R] (unclamped). */
  readonly zNorm: Tensor;
  /** u = z/max(‖z‖, 1e-12) [R,Db]. */
  readonly u: Tensor;
  /** ‖v_i‖₂ [K]. */
  readonly vNorm: Tensor;
  /** The effective last-layer weight W = g·v/‖v‖ [K,Db]. */
  readonly w: Tensor;
  /** head.no_l2_bottleneck (diagnosis only): u = z, no normalisation. */
  readonly noL2: boolean;
}

function checkInput(what: string, t: Tensor, shape: readonly number[], expected: string): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new DinoRefError(`DINOHead: ${what} has shape ${shapeString(t.shape)}, expected ${expected} = ${shapeString(shape)}`);
  }
}

/**
 * y [R,K] = last_layer(normalize(mlp(x))) for x [R,Din]. Everything it allocates (y and the cache)
 * comes from `be.alloc`: the caller marks before and releases after the backward.
 * head.no_l2_bottleneck (diagnosis only): y = last_layer(mlp(x)).
 */
export function dinoHeadForward(
  be: Backend, params: ParamScope, config: DinoHeadConfig, x: Tensor, R: number, bugs: Bugs = NO_BUGS,
): { y: Tensor; cache: DinoHeadCache } {
  const c = resolveDinoHeadConfig(config);
  const [Db, K] = [c.bottleneckDim, c.outDim];
  checkInput("x", x, [R, c.inDim], "[R, in_dim]");
  checkDinoHeadParams(params, c);
  const linears = dinoHeadLinears(c);

  // allocate first: on wasm an allocation may move memory, so views are read only at each call
  const pre = linears.map((l) => be.empty([R, l.dOut]));
  const act = linears.slice(0, -1).map((l) => be.empty([R, l.dOut]));
  const zNorm = be.empty([R]);
  const u = be.empty([R, Db]);
  const vNorm = be.empty([K]);
  const w = be.empty([K, Db]);
  const y = be.empty([R, K]);

  // MLP: h_l = a_{l−1}·W_lᵀ + b_l (a_{−1} = x); a_l = GELU(h_l) for all but the last
  linears.forEach((l, i) => {
    const input = i === 0 ? x : act[i - 1];
    linearForward(be, pre[i], input, params.param(`${l.name}.weight`), params.param(`${l.name}.bias`), R, l.dIn, l.dOut);
    if (i < act.length) be.geluForward(act[i].data, pre[i].data, R * l.dOut);
  });
  const noL2 = bugs.has("head.no_l2_bottleneck");
  // L2 bottleneck: u = z/max(‖z‖, 1e-12)
  if (noL2) u.data.set(pre[pre.length - 1].data);
  else l2NormalizeRowsForward(u.data, zNorm.data, pre[pre.length - 1].data, R, Db);
  // weight norm: W_i = g_i·v_i/‖v_i‖
  weightNormForward(w.data, vNorm.data, params.param("last_layer.weight_v").data, params.param("last_layer.weight_g").data, K, Db);
  // y = u·Wᵀ (no bias)
  linearForward(be, y, u, w, null, R, Db, K);
  return { y, cache: { R, x, pre, act, zNorm, u, vNorm, w, noL2 } };
}

/**
 * Backward of dinoHeadForward for ∂L/∂y [R,K]: returns ∂L/∂x [R,Din] (allocated by `be`) and
 * ACCUMULATES into the gradients of every trainable head parameter. With norm_last_layer,
 * last_layer.weight_g is frozen: its gradient slot (if the store has one) is left untouched
 * (zero), and the trainer must treat weight_g as frozen (see isTrainableHeadParam): no AdamW
 * step, no weight decay, no clipping for it.
 */
export function dinoHeadBackward(be: Backend, params: ParamScope, config: DinoHeadConfig, cache: DinoHeadCache, gradY: Tensor): Tensor {
  const c = resolveDinoHeadConfig(config);
  const { R, x, pre, act, zNorm, u, vNorm, w } = cache;
  const [Db, K] = [c.bottleneckDim, c.outDim];
  checkInput("grad_y", gradY, [R, K], "[R, out_dim]");
  const linears = dinoHeadLinears(c);

  const gradX = be.empty([R, c.inDim]);
  const mark = be.mark();
  try {
    // ∂u, ∂a are written whole by their products; G and ∂h are sums that start from zero
    const gradU = be.empty([R, Db]);
    const gradW = be.alloc([K, Db]);
    const gradPre = linears.map((l) => be.alloc([R, l.dOut]));
    const gradAct = linears.slice(0, -1).map((l) => be.empty([R, l.dOut]));

    // last layer y = u·Wᵀ: ∂L/∂u = ∂L/∂y·W, G = ∂L/∂W = (∂L/∂y)ᵀ·u
    linearBackward(be, gradU, gradW, null, gradY, u, w, R, Db, K, false);
    // weight norm: G → ∂L/∂v (and ∂L/∂g only when g is trainable)
    const gradG = isTrainableHeadParam("last_layer.weight_g", c) ? params.grad("last_layer.weight_g").data : null;
    weightNormBackward(
      params.grad("last_layer.weight_v").data,
      gradG,
      gradW.data,
      params.param("last_layer.weight_v").data,
      params.param("last_layer.weight_g").data,
      vNorm.data,
      K,
      Db,
    );
    // L2 bottleneck: ∂L/∂u → ∂L/∂z
    if (cache.noL2) gradPre[pre.length - 1].data.set(gradU.data);
    else l2NormalizeRowsBackward(gradPre[pre.length - 1].data, gradU.data, u.data, zNorm.data, R, Db);
    // MLP, last Linear first: ∂L/∂a_{l−1}, ∂L/∂W_l, ∂L/∂b_l from ∂L/∂h_l; then through the GELU
    for (let i = linears.length - 1; i >= 0; i--) {
      const l = linears[i];
      const input = i === 0 ? x : act[i - 1];
      const gradInput = i === 0 ? gradX : gradAct[i - 1];
      linearBackward(be, gradInput, params.grad(`${l.name}.weight`), params.grad(`${l.name}.bias`), gradPre[i], input, params.param(`${l.name}.weight`), R, l.dIn, l.dOut, false);
      // ∂L/∂h_{l−1} = ∂L/∂a_{l−1}·GELU′(h_{l−1})
      if (i > 0) be.geluBackward(gradPre[i - 1].data, gradAct[i - 1].data, pre[i - 1].data, R * linears[i - 1].dOut);
    }
  } finally {
    be.release(mark);
  }
  return gradX;
}
