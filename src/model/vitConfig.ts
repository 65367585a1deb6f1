// The sizes of a Vision Transformer backbone (official `vision_transformer.py`): the three DINO
// presets (vit_tiny / vit_small / vit_base, patch 8 or 16) and validated custom sizes.

import { check } from "../tensor/errors.js";

export interface VitConfig {
  /** p: the patch (and conv stride) size in pixels. */
  readonly patchSize: number;
  /** D: token width. */
  readonly embedDim: number;
  /** Number of transformer blocks. */
  readonly depth: number;
  /** H: attention heads; Dh = D / H. */
  readonly numHeads: number;
  /** MLP hidden width = floor(D·mlpRatio), as `int(dim * mlp_ratio)`. */
  readonly mlpRatio: number;
  /** Whether attn.qkv has a bias (True in the three DINO constructors, False in the bare class). */
  readonly qkvBias: boolean;
  /** The square image size pos_embed is made for: N0 = (imgSize // p)² patch positions. */
  readonly imgSize: number;
  /** Image channels (3). */
  readonly inChans: number;
  /** LayerNorm epsilon (1e-6 in the DINO constructors). */
  readonly eps: number;
  /** Stochastic depth rate of the last block (block i gets rate·i/(depth − 1)); 0 for the teacher. */
  readonly dropPathRate: number;
}

export type VitArch = "vit_tiny" | "vit_small" | "vit_base";

const ARCHS: Record<VitArch, { embedDim: number; numHeads: number }> = {
  vit_tiny: { embedDim: 192, numHeads: 3 },
  vit_small: { embedDim: 384, numHeads: 6 },
  vit_base: { embedDim: 768, numHeads: 12 },
};

/** The defaults of the DINO constructors (depth 12, mlp 4, qkv bias, eps 1e-6, 224 px, no drop path). */
const DEFAULTS = { depth: 12, mlpRatio: 4, qkvBias: true, imgSize: 224, inChans: 3, eps: 1e-6, dropPathRate: 0 } as const;

/** A DINO preset, e.g. vitPreset("vit_small", 16); `overrides` sets e.g. dropPathRate 0.1 for the student. */
export function vitPreset(arch: VitArch, patchSize: 8 | 16, overrides: Partial<VitConfig> = {}): VitConfig {
  const a = ARCHS[arch];
  check(a !== undefined, () => `unknown ViT architecture '${String(arch)}'; expected vit_tiny, vit_small or vit_base`);
  check(patchSize === 8 || patchSize === 16, () => `${arch}: patch size ${patchSize}; the DINO presets use 8 or 16`);
  return vitConfig({ ...DEFAULTS, ...a, patchSize, ...overrides });
}

/** A custom size: patchSize, embedDim, depth and numHeads are required, the rest default as in the DINO presets. */
export function vitConfig(c: Pick<VitConfig, "patchSize" | "embedDim" | "depth" | "numHeads"> & Partial<VitConfig>): VitConfig {
  const cfg: VitConfig = { ...DEFAULTS, ...c };
  const positiveInt = (name: keyof VitConfig) => {
    const v = cfg[name];
    check(typeof v === "number" && Number.isInteger(v) && v > 0, () => `ViT config: ${name} = ${String(v)}; expected a positive integer`);
  };
  for (const name of ["patchSize", "embedDim", "depth", "numHeads", "imgSize", "inChans"] as const) positiveInt(name);
  check(cfg.embedDim % cfg.numHeads === 0, () => `ViT config: embedDim ${cfg.embedDim} is not divisible by numHeads ${cfg.numHeads}`);
  check(cfg.mlpRatio > 0 && Math.floor(cfg.embedDim * cfg.mlpRatio) >= 1, () => `ViT config: mlpRatio ${cfg.mlpRatio}; expected > 0 (hidden width ≥ 1)`);
  check(cfg.imgSize >= cfg.patchSize, () => `ViT config: imgSize ${cfg.imgSize} is smaller than one patch (${cfg.patchSize})`);
  check(cfg.eps > 0, () => `ViT config: eps ${cfg.eps}; expected > 0`);
  check(cfg.dropPathRate >= 0 && cfg.dropPathRate < 1, () => `ViT config: dropPathRate ${cfg.dropPathRate}; expected in [0, 1)`);
  return cfg;
}

/** Dh = D / H. */
export const headDim = (cfg: VitConfig): number => cfg.embedDim / cfg.numHeads;

/** MLP hidden width = int(D·mlpRatio). */
export const hiddenDim = (cfg: VitConfig): number => Math.floor(cfg.embedDim * cfg.mlpRatio);

/** g: side of the square patch grid pos_embed is made for (imgSize // p). */
export const gridSize0 = (cfg: VitConfig): number => Math.floor(cfg.imgSize / cfg.patchSize);

/** N0 = g²: patch positions in pos_embed (which has 1 + N0 rows with the CLS position). */
export const numPatches0 = (cfg: VitConfig): number => gridSize0(cfg) ** 2;

/** Stochastic depth rate of block i: linspace(0, dropPathRate, depth)[i]. */
export function dropPathRateOf(cfg: VitConfig, i: number): number {
  return cfg.depth === 1 ? 0 : (cfg.dropPathRate * i) / (cfg.depth - 1);
}
