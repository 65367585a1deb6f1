// `dino-ref attention IMAGE... --checkpoint FILE --out DIR`: the last block's CLS attention per
// head as PNG heat maps, their mean, and the threshold masks over the image.

import { basename, extname, join } from "node:path";
import { mkdirSync } from "node:fs";
import { DinoRefError } from "../tensor/errors.js";
import { readSafetensors } from "../io/safetensors.js";
import { readPng, writePng } from "../data/png.js";
import { wasmBackend } from "../model/backend.js";
import { ParamStore, type ParamScope } from "../model/params.js";
import type { VitConfig } from "../model/vitConfig.js";
import { vitParamSpecs } from "../model/vitParams.js";
import { matchStateDict, loadMatched, type Side } from "../model/stateDict.js";
import { CHECKPOINT_FORMAT, checkpointConfig, loadCheckpoint } from "../train/checkpoint.js";
import { createTrainState } from "../train/run.js";
import type { TrainConfig } from "../train/config.js";
import { clsAttention, attentionPictures } from "../eval/attentionMaps.js";
import { inferVit } from "./inspect.js";
import type { Io } from "./main.js";

/**
 * A backbone from a dino-ref training checkpoint (its config, also returned as `training`) or from
 * official-key weights (architecture inferred; `training` null).
 */
export function loadBackbone(path: string, side: Side): { backbone: ParamScope; cfg: VitConfig; training: TrainConfig | null } {
  const file = readSafetensors(path);
  if (file.metadata.format === CHECKPOINT_FORMAT) {
    const training = checkpointConfig(path);
    const state = createTrainState(training);
    loadCheckpoint(path, state);
    return { backbone: (side === "teacher" ? state.teacher : state.student).scope("backbone."), cfg: state.model.vit, training };
  }
  const stripped = new Map([...file.tensors].map(([k, t]) => [k.replace(/^(teacher|student)\./, "").replace(/^module\./, "").replace(/^backbone\./, ""), t] as const));
  const vit = inferVit(stripped);
  if (vit === null) throw new DinoRefError(`${path}: no ViT backbone in this file (expected patch_embed.proj.weight and pos_embed, possibly under backbone. / teacher.)`);
  const specs = vitParamSpecs(vit.cfg);
  const match = matchStateDict(file.tensors, specs, path, side);
  const store = ParamStore.create(specs, { grads: false });
  loadMatched(match, specs, (n) => store.param(n), path);
  return { backbone: store, cfg: vit.cfg, training: null };
}

export interface AttentionArgs {
  checkpoint?: string;
  out?: string;
  threshold?: string;
  zoom?: string;
  student?: boolean;
}

export function attentionCommand(images: readonly string[], a: AttentionArgs, io: Io): number {
  if (images.length === 0) throw new DinoRefError("attention: expected at least one IMAGE (PNG)");
  if (a.checkpoint === undefined) throw new DinoRefError("attention: --checkpoint FILE is required");
  if (a.out === undefined) throw new DinoRefError("attention: --out DIR is required");
  const threshold = a.threshold === undefined ? 0.6 : Number(a.threshold);
  if (!(threshold > 0 && threshold <= 1)) throw new DinoRefError(`--threshold ${a.threshold}: expected the share of attention mass to keep, in (0, 1]`);
  const zoom = a.zoom === undefined ? 0 : Number(a.zoom);
  if (!(Number.isInteger(zoom) && zoom >= 0)) throw new DinoRefError(`--zoom ${a.zoom}: expected a non-negative integer (0: automatic)`);
  const { backbone, cfg } = loadBackbone(a.checkpoint, a.student ? "student" : "teacher");
  mkdirSync(a.out, { recursive: true });
  for (const path of images) {
    const written = writeAttentionPictures(backbone, cfg, path, a.out, threshold, zoom, io);
    io.out(`${path}: ${written} pictures in ${a.out}`);
  }
  return 0;
}

/** Writes the pictures of one PNG into `outDir` as <name>-<picture>.png; returns how many. */
export function writeAttentionPictures(backbone: ParamScope, cfg: VitConfig, path: string, outDir: string, threshold: number, zoom: number, io: Io): number {
  const maps = clsAttention(wasmBackend, backbone, cfg, readPng(path), path);
  if (maps.cropped) io.err(maps.cropped);
  // small images (digits) are enlarged so that a person can see them: at least 224 px by default
  const z = zoom > 0 ? zoom : Math.max(1, Math.ceil(224 / Math.min(maps.image.width, maps.image.height)));
  const name = basename(path, extname(path));
  const pictures = attentionPictures(maps, cfg.patchSize, threshold, z);
  for (const [kind, img] of pictures) writePng(join(outDir, `${name}-${kind}.png`), img);
  return pictures.size;
}
