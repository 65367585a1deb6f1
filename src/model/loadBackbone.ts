// A ViT backbone from any weights file: a released backbone (`dino_deitsmall16_pretrain.pth`, as
// is or converted), a training checkpoint (`student.` / `teacher.`, `module.`, `backbone.`
// prefixes; an official checkpoint.pth or a dino-ref checkpoint), a Hugging Face ViTModel file
// (facebook/dino-vit*), safetensors or PyTorch (weightsFile.ts); F16 / BF16 widened to F32. The
// architecture comes from the shapes (inferArchitecture.ts); the head count from the recorded
// config (a dino-ref checkpoint) or args (an official checkpoint) when there is one. Every
// parameter must be present with its exact shape, and finite. All weights loading goes through here.

import { DinoRefError } from "../tensor/errors.js";
import type { StTensor } from "../io/safetensors.js";
import type { Backend } from "../kernels/backend.js";
import { ParamStore } from "./params.js";
import type { VitConfig } from "./vitConfig.js";
import { vitParamSpecs } from "./vitParams.js";
import { inferHead, inferVit } from "./inferArchitecture.js";
import { dinoHeadParamSpecs, resolveDinoHeadConfig, type ResolvedDinoHeadConfig } from "./dinoHead.js";
import { loadMatched, matchStateDict, networkTensors, type Side } from "./stateDict.js";
import { officialFloat32, readWeightsFile, type WeightsFile } from "./weightsFile.js";

export interface LoadedBackbone {
  /** The parameters, without gradients, under their backbone names (`cls_token`, `blocks.0.norm1.weight`, ...). */
  readonly backbone: ParamStore;
  readonly cfg: VitConfig;
  /** The file's metadata (a dino-ref checkpoint's config is there; a converted official checkpoint's args). */
  readonly metadata: Readonly<Record<string, string>>;
  /** What was assumed because the file does not say it (e.g. the head count), and what was converted. */
  readonly notes: readonly string[];
  /** Every tensor of the file under the official keys, float32 (loadHead reads the head from them: the file is read once). */
  readonly tensors: ReadonlyMap<string, StTensor>;
}

/** The official constructors' widths and head counts (vision_transformer.py vit_tiny / vit_small / vit_base). */
const ARCH_HEADS: Readonly<Record<string, { embedDim: number; numHeads: number }>> = {
  vit_tiny: { embedDim: 192, numHeads: 3 },
  vit_small: { embedDim: 384, numHeads: 6 },
  vit_base: { embedDim: 768, numHeads: 12 },
};

/**
 * The head count an official checkpoint's args imply (metadata `args`, field `arch` of
 * main_dino.py: vit_tiny 3, vit_small 6, vit_base 12), when its width matches `embedDim`.
 */
export function argsHeadCount(metadata: Readonly<Record<string, string>>, embedDim: number): number | undefined {
  if (metadata.args === undefined) return undefined;
  try {
    const arch = (JSON.parse(metadata.args) as { arch?: unknown } | null)?.arch;
    const a = typeof arch === "string" && Object.hasOwn(ARCH_HEADS, arch) ? ARCH_HEADS[arch] : undefined;
    return a !== undefined && a.embedDim === embedDim ? a.numHeads : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The head count a weights file states: a dino-ref checkpoint's recorded config, else an official
 * checkpoint's args (its arch, when the width of `backbone`'s patch embedding matches); undefined
 * when neither says (the head count is not in the weights).
 */
export function fileHeadCount(metadata: Readonly<Record<string, string>>, backbone: ReadonlyMap<string, StTensor>): number | undefined {
  const width = backbone.get("patch_embed.proj.weight")?.shape[0] ?? 0;
  return recordedHeadCount(metadata) ?? argsHeadCount(metadata, width);
}

/** The backbone tensors of one side of a weights file, official keys, float32; with the file, the notes and the inferred architecture. */
export function backboneOf(path: string, side: Side = "teacher", heads?: number): { file: WeightsFile; tensors: Map<string, StTensor>; cfg: VitConfig; notes: string[]; unexpected: { key: string; why: string }[] } {
  const file = readWeightsFile(path);
  const official = officialFloat32(file, path);
  const backbone = networkTensors(official.tensors, side).backbone;
  const vit = inferVit(backbone, heads ?? fileHeadCount(file.metadata, backbone));
  if (vit === null) throw new DinoRefError(`${path}: no ViT backbone in this file (expected patch_embed.proj.weight and pos_embed, possibly under backbone. / teacher. / student. / module., or the Hugging Face embeddings.patch_embeddings.projection.weight)`);
  checkRecordedArchitecture(file.metadata, vit.cfg, path);
  return { file, tensors: official.tensors, cfg: vit.cfg, notes: [...official.notes, ...vit.notes], unexpected: official.unexpected };
}

/**
 * The head count a dino-ref training checkpoint records in its metadata (`config`, field
 * `numHeads`), or undefined for any other file (or a config without a valid one).
 */
export function recordedHeadCount(metadata: Readonly<Record<string, string>>): number | undefined {
  if (metadata.config === undefined) return undefined;
  try {
    const heads = (JSON.parse(metadata.config) as { numHeads?: unknown } | null)?.numHeads;
    return typeof heads === "number" && Number.isSafeInteger(heads) && heads > 0 ? heads : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Throws when a dino-ref checkpoint's recorded config describes another backbone than its weights
 * (a config edited by hand, or weights from another run): a silent mismatch would give wrong numbers.
 */
function checkRecordedArchitecture(metadata: Readonly<Record<string, string>>, cfg: VitConfig, path: string): void {
  let recorded: Record<string, unknown>;
  try {
    const parsed = JSON.parse(metadata.config ?? "null") as unknown;
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return;
    recorded = parsed as Record<string, unknown>;
  } catch {
    return;
  }
  const fromWeights: [string, number][] = [["patchSize", cfg.patchSize], ["embedDim", cfg.embedDim], ["depth", cfg.depth], ["mlpRatio", cfg.mlpRatio], ["globalSize", cfg.imgSize]];
  for (const [field, value] of fromWeights) {
    if (recorded[field] !== undefined && recorded[field] !== value) {
      throw new DinoRefError(`${path}: the weights have ${field} ${value} but the checkpoint's config says ${JSON.stringify(recorded[field])} (the weights and the recorded config do not match)`);
    }
  }
  if (recorded.numHeads !== undefined && recorded.numHeads !== cfg.numHeads) {
    throw new DinoRefError(`${path}: the checkpoint's config says numHeads ${JSON.stringify(recorded.numHeads)}, which does not divide the width ${cfg.embedDim} of the weights`);
  }
}

/** Throws, naming the parameter, when a loaded weight is NaN or infinite: no evaluation computes with such weights. */
function checkFinite(params: ParamStore, path: string, what: string): void {
  for (const p of params.params) {
    const data = p.data;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) throw new DinoRefError(`${path}: the ${what}'s ${p.name} holds ${data[i]} at index ${i}; refusing to compute with non-finite weights`);
    }
  }
}

/**
 * The `side` network's backbone of the weights file at `path`, loaded on `be`; every weight must be
 * finite. `heads`: the head count when the file does not record it (default: the official head
 * width 64).
 */
export function loadBackbone(be: Backend, path: string, side: Side = "teacher", heads?: number): LoadedBackbone {
  const { file, tensors, cfg, notes } = backboneOf(path, side, heads);
  const specs = vitParamSpecs(cfg);
  const match = matchStateDict(tensors, specs, path, side);
  const backbone = ParamStore.create(be, specs, { grads: false });
  loadMatched(match, specs, (n) => backbone.param(n), path);
  checkFinite(backbone, path, `${side} backbone`);
  return { backbone, cfg, metadata: file.metadata, notes, tensors };
}

export interface LoadedHead {
  /** The head's parameters under their head names (`mlp.0.weight`, `last_layer.weight_v`, ...). */
  readonly params: ParamStore;
  readonly config: ResolvedDinoHeadConfig;
}

/**
 * The `side` network's DINO head among the tensors loadBackbone read from the file at `path` (keys
 * `head.*`, possibly under the prefixes loadBackbone strips), for inputs of width inDim; null when
 * the file has no head.
 */
export function loadHead(be: Backend, loaded: LoadedBackbone, path: string, inDim: number, side: Side = "teacher"): LoadedHead | null {
  const inferred = inferHead(networkTensors(loaded.tensors, side).head, inDim);
  if (inferred === null) return null;
  const config = resolveDinoHeadConfig(inferred);
  const specs = dinoHeadParamSpecs(config);
  const prefixed = dinoHeadParamSpecs(config, "head.");
  const match = matchStateDict(loaded.tensors, prefixed, path, side);
  const params = ParamStore.create(be, specs, { grads: false });
  loadMatched(match, prefixed, (n) => params.param(n.slice("head.".length)), path);
  checkFinite(params, path, `${side} head`);
  return { params, config };
}
