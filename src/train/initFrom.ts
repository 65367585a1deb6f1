// `train --init FILE`: a run that starts from existing weights instead of its seed's
// initialisation (continuing self-supervised training from released weights). What the file
// holds decides what is loaded:
//   a backbone (a released *_pretrain.pth, a Hugging Face ViTModel file, ...): the student's and
//     the teacher's backbones; the DINO heads start from the seed, the centre at zero;
//   one network with a head (backbone.* and head.*): both backbones and both heads;
//   a training checkpoint (official checkpoint.pth, converted or not, or a dino-ref checkpoint):
//     the student from the student, the teacher from the teacher, and the centre.
// AdamW's moments and the schedules always start fresh (iteration 0): a run that continues the
// same schedule is `--resume`. The architecture is the file's: the fields it determines
// (initArchitecture) replace the preset's; a --set / --config value that contradicts the file is
// an error naming the field (trainConfigFrom in src/cli/train.ts).

import { DinoRefError } from "../tensor/errors.js";
import type { StTensor } from "../io/safetensors.js";
import { officialFloat32, readWeightsFile } from "../model/weightsFile.js";
import { fileHeadCount } from "../model/loadBackbone.js";
import { inferHead, inferVit } from "../model/inferArchitecture.js";
import { hasSides, matchStateDict, networkTensors, type Side } from "../model/stateDict.js";
import { dinoParamSpecs } from "../model/dino.js";
import type { TrainConfig } from "./config.js";
import type { TrainState } from "./trainState.js";

/** The fields of a training config that an init file determines. */
export const INIT_ARCHITECTURE_FIELDS = ["patchSize", "embedDim", "depth", "numHeads", "mlpRatio", "globalSize", "outDim", "hiddenDim", "bottleneckDim", "headLayers", "normLastLayer"] as const;
export type InitArchitecture = Partial<Pick<TrainConfig, (typeof INIT_ARCHITECTURE_FIELDS)[number]>>;

export type InitKind = "backbone" | "network" | "training checkpoint";

/** An init file, read: its tensors in the official layout (float32), what it holds, and the architecture it implies. */
export interface InitSource {
  readonly path: string;
  readonly kind: InitKind;
  readonly tensors: ReadonlyMap<string, StTensor>;
  /** Fields the file fixes; a field it cannot know (the heads of an unrecorded width) is absent. */
  readonly architecture: InitArchitecture;
  /** Fields only assumed from the file (the head count at width 64 per head): a --set may change them. */
  readonly assumed: readonly (keyof InitArchitecture)[];
  readonly notes: readonly string[];
}

/** What summary.json says about the start. */
export interface InitRecord {
  file: string;
  kind: InitKind;
  loaded: string[];
  fresh: string[];
  notes: string[];
  /** Set when the run was resumed: its checkpoint holds the weights it started from this file (loaded / fresh say how it started). */
  resumed?: true;
}

/** Reads an init file and the architecture it implies. */
export function readInitSource(path: string): InitSource {
  const file = readWeightsFile(path);
  const official = officialFloat32(file, path);
  const sided = hasSides(official.tensors.keys());
  const { backbone, head } = networkTensors(official.tensors, "teacher");
  const knownHeads = fileHeadCount(file.metadata, backbone);
  const vit = inferVit(backbone, knownHeads);
  if (vit === null) throw new DinoRefError(`--init ${path}: no ViT backbone in this file (expected patch_embed.proj.weight and pos_embed, possibly under backbone. / teacher. / student. / module., or a Hugging Face ViTModel file)`);
  const c = vit.cfg;
  if (!c.qkvBias) throw new DinoRefError(`--init ${path}: the blocks have no attn.qkv.bias; dino-ref trains ViTs with a qkv bias (as the DINO constructors)`);
  if (c.inChans !== 3) throw new DinoRefError(`--init ${path}: the patch embedding takes ${c.inChans} channels; training uses RGB images (3)`);
  const notes = [...official.notes];
  for (const u of official.unexpected) notes.push(`left out ${u.key}: ${u.why}`);
  const architecture: InitArchitecture = { patchSize: c.patchSize, embedDim: c.embedDim, depth: c.depth, mlpRatio: c.mlpRatio, globalSize: c.imgSize };
  const assumed: (keyof InitArchitecture)[] = [];
  if (knownHeads !== undefined) architecture.numHeads = knownHeads;
  else if (c.embedDim % 64 === 0) {
    architecture.numHeads = c.embedDim / 64;
    assumed.push("numHeads");
    notes.push(`numHeads ${c.embedDim / 64} assumed (not stored in the weights; the official constructors use heads of width 64; --set numHeads=N to change)`);
  } else notes.push("numHeads from the run's config (not stored in the weights)");
  const h = inferHead(head, c.embedDim);
  if (h !== null) Object.assign(architecture, { outDim: h.outDim, hiddenDim: h.hiddenDim, bottleneckDim: h.bottleneckDim, headLayers: h.nlayers, normLastLayer: h.normLastLayer });
  const kind: InitKind = sided ? "training checkpoint" : h !== null ? "network" : "backbone";
  return { path, kind, tensors: official.tensors, architecture, assumed, notes };
}

/** Loads an init source into a fresh training state (whose architecture matches it) and says what was loaded and what starts fresh. */
export function applyInit(state: TrainState, src: InitSource): InitRecord {
  const specs = dinoParamSpecs(state.model);
  const withHead = src.kind !== "backbone";
  const wanted = specs.filter((s) => withHead || s.name.startsWith("backbone."));
  const loaded: string[] = [];
  for (const [store, side] of [[state.student, "student"], [state.teacher, "teacher"]] as const) {
    const match = matchStateDict(src.tensors, specs, src.path, side as Side);
    const missing = wanted.filter((s) => !match.tensors.has(s.name));
    if (missing.length > 0) {
      throw new DinoRefError(`--init ${src.path}: the ${side} lacks ${missing.length} parameter(s) of this model: ${missing.slice(0, 6).map((s) => `${s.name} [${s.shape.join(", ")}]`).join(", ")}${missing.length > 6 ? ", ..." : ""}`);
    }
    for (const s of wanted) store.param(s.name).data.set(match.tensors.get(s.name)!.data as Float32Array);
    const from = src.kind === "training checkpoint" ? `the file's ${side}` : "the file";
    loaded.push(`${side} backbone (from ${from})`);
    if (withHead) loaded.push(`${side} DINO head (from ${from})`);
  }
  const fresh: string[] = [];
  if (!withHead) fresh.push("student and teacher DINO heads (initialised from the seed; the teacher's a copy of the student's)");
  const center = src.tensors.get("center");
  if (src.kind === "training checkpoint" && center !== undefined) {
    if (center.dtype !== "F32" || center.shape.length !== 2 || center.shape[0] !== 1 || center.shape[1] !== state.center.length) {
      throw new DinoRefError(`--init ${src.path}: center is ${center.dtype} [${center.shape.join(", ")}]; expected F32 [1, ${state.center.length}]`);
    }
    state.center = Float32Array.from(center.data as Float32Array);
    loaded.push("centre");
  } else fresh.push("centre (zeros)");
  fresh.push("AdamW moments and step counts", "schedules (lr, weight decay, teacher momentum and temperature) from iteration 0");
  return { file: src.path, kind: src.kind, loaded, fresh, notes: [...src.notes] };
}
