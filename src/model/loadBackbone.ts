// A ViT backbone from any weights file with official state_dict keys: a released backbone
// (`dino_deitsmall16_pretrain.pth` converted), a converted training checkpoint (`student.` /
// `teacher.`, `module.`, `backbone.` prefixes), or a dino-ref training checkpoint. The architecture
// comes from the shapes (inferArchitecture.ts); the head count from the checkpoint's recorded
// config when there is one. Every parameter must be present with its exact shape, and finite.

import { readSafetensors } from "../io/safetensors.js";
import { DinoRefError } from "../tensor/errors.js";
import type { Backend } from "../kernels/backend.js";
import { ParamStore } from "./params.js";
import type { VitConfig } from "./vitConfig.js";
import { vitParamSpecs } from "./vitParams.js";
import { inferVit } from "./inferArchitecture.js";
import { loadMatched, matchStateDict, networkTensors, type Side } from "./stateDict.js";

export interface LoadedBackbone {
  /** The parameters, without gradients, under their backbone names (`cls_token`, `blocks.0.norm1.weight`, ...). */
  readonly backbone: ParamStore;
  readonly cfg: VitConfig;
  /** The file's safetensors metadata (a dino-ref checkpoint's config is there). */
  readonly metadata: Readonly<Record<string, string>>;
  /** What was assumed because the file does not say it (e.g. the head count). */
  readonly notes: readonly string[];
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
function checkFinite(backbone: ParamStore, specs: readonly { name: string }[], path: string, side: Side): void {
  for (const { name } of specs) {
    const data = backbone.param(name).data;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) throw new DinoRefError(`${path}: the ${side} backbone's ${name} holds ${data[i]} at index ${i}; refusing to compute with non-finite weights`);
    }
  }
}

/** The `side` network's backbone of the weights file at `path`, loaded on `be`; every weight must be finite. */
export function loadBackbone(be: Backend, path: string, side: Side = "teacher"): LoadedBackbone {
  const file = readSafetensors(path);
  const vit = inferVit(networkTensors(file.tensors, side).backbone, recordedHeadCount(file.metadata));
  if (vit === null) throw new DinoRefError(`${path}: no ViT backbone in this file (expected patch_embed.proj.weight and pos_embed, possibly under backbone. / teacher. / student. / module.)`);
  checkRecordedArchitecture(file.metadata, vit.cfg, path);
  const specs = vitParamSpecs(vit.cfg);
  const match = matchStateDict(file.tensors, specs, path, side);
  const backbone = ParamStore.create(be, specs, { grads: false });
  loadMatched(match, specs, (n) => backbone.param(n), path);
  checkFinite(backbone, specs, path, side);
  return { backbone, cfg: vit.cfg, metadata: file.metadata, notes: vit.notes };
}
