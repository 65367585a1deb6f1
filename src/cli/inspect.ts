// `dino-ref inspect FILE`: what a weights file is (a golden case, a dino-ref training checkpoint,
// an official .pth or its conversion, a Hugging Face ViTModel file), its container and key layout,
// the architecture its shapes imply, the parameter count, a fingerprint of the weights, and which
// keys are missing or unexpected for that architecture.

import { fingerprint } from "../io/fingerprint.js";
import { numel } from "../tensor/named.js";
import { GOLDEN_FORMAT } from "../io/golden.js";
import { CHECKPOINT_FORMAT } from "../train/checkpoint.js";
import { hasSides, matchStateDict, networkTensors } from "../model/stateDict.js";
import { inferVit, inferHead, describeVit } from "../model/inferArchitecture.js";
import { fileHeadCount } from "../model/loadBackbone.js";
import { officialFloat32, readWeightsFile } from "../model/weightsFile.js";
import { describeLayout } from "../model/hfLayout.js";
import { vitParamSpecs } from "../model/vitParams.js";
import { dinoHeadParamSpecs } from "../model/dinoHead.js";
import type { ParamSpec } from "../model/params.js";
import type { Io } from "./io.js";
import { DinoRefError } from "../tensor/errors.js";

export function inspectCommand(paths: readonly string[], io: Io): number {
  if (paths.length !== 1) throw new DinoRefError(`inspect: expected one FILE, got ${paths.length}`);
  const path = paths[0];
  const file = readWeightsFile(path);
  const meta = file.metadata;
  const total = [...file.tensors.values()].reduce((n, t) => n + numel(t.shape), 0);
  const dtypes = [...new Set([...file.tensors.values()].map((t) => t.dtype))].join(", ");
  io.out(`${path}: ${file.container}, ${file.tensors.size} tensors (${dtypes}), ${total.toLocaleString("en-US")} values, fingerprint ${fingerprint(file.tensors)}`);
  if (meta.format === GOLDEN_FORMAT) {
    io.out(`golden case (${GOLDEN_FORMAT}): op ${meta.op}, params ${meta.params}`);
    io.out(`producer: ${meta.producer}`);
    io.out(`inputs: ${[...file.tensors.keys()].filter((k) => k.startsWith("in.")).length}, outputs: ${[...file.tensors.keys()].filter((k) => k.startsWith("out.")).join(", ")}`);
    return 0;
  }
  if (meta.format === CHECKPOINT_FORMAT) io.out(`dino-ref training checkpoint: epoch ${meta.epoch}, iteration ${meta.iteration}; config ${meta.config}`);
  else if (file.container !== "safetensors") {
    // what the converter would record: the kind, epoch and args of a checkpoint, what holds no weights
    io.out(`PyTorch ${meta.kind === "training_checkpoint" ? "training checkpoint" : "state_dict"}${meta.epoch ? `, epoch ${meta.epoch}` : ""}${meta.dropped ? `; not weights (left out by convert): ${meta.dropped}` : ""}${meta.student_prefix ? `; student keys under '${meta.student_prefix}'` : ""}`);
    if (meta.args !== undefined) io.out(`args: ${meta.args}`);
  } else if (Object.keys(meta).length > 0) io.out(`metadata: ${JSON.stringify(meta)}`);
  io.out(`layout: ${describeLayout(file.layout)}`);
  // the official keys in float32 (a Hugging Face file renamed, F16 / BF16 widened): what the commands load
  const official = officialFloat32(file, path);
  for (const n of official.notes) io.out(`note: ${n}`);
  if (official.unexpected.length > 0) io.out(`left out of the backbone: ${official.unexpected.map((u) => `${u.key} (${u.why})`).join(", ")}`);
  const tensors = official.tensors;

  const sided = hasSides(tensors.keys());
  for (const side of sided ? (["teacher", "student"] as const) : ([null] as const)) {
    // the weights of one network, with module. / backbone. / head. resolved
    const { all: mine, backbone, head } = networkTensors(tensors, side ?? "teacher");
    const label = side ? `${side}: ` : "";
    const vit = inferVit(backbone, fileHeadCount(meta, backbone));
    if (vit === null) {
      io.out(`${label}no ViT backbone found (no patch_embed.proj.weight / pos_embed)`);
      continue;
    }
    const headCfg = inferHead(head, vit.cfg.embedDim);
    const specs: ParamSpec[] = headCfg ? [...vitParamSpecs(vit.cfg, "backbone."), ...dinoHeadParamSpecs(headCfg, "head.")] : vitParamSpecs(vit.cfg);
    const count = specs.reduce((n, s) => n + numel(s.shape), 0);
    io.out(`${label}${describeVit(vit.cfg)}`);
    for (const n of vit.notes) io.out(`${label}  ${n}`);
    if (headCfg) io.out(`${label}DINO head: ${headCfg.nlayers} layers, hidden ${headCfg.hiddenDim}, bottleneck ${headCfg.bottleneckDim}, out_dim ${headCfg.outDim}, weight_g ${headCfg.normLastLayer ? "all 1 (norm_last_layer)" : "trained"}`);
    io.out(`${label}parameters: ${count.toLocaleString("en-US")}, fingerprint ${fingerprint(mine)}`);
    const match = matchStateDict(tensors, specs, path, side ?? "teacher");
    const shapeOf = (name: string) => specs.find((sp) => sp.name === name)!.shape.join(", ");
    io.out(`${label}missing keys: ${match.missing.length === 0 ? "none" : match.missing.map((n) => `${n} [${shapeOf(n)}]`).join(", ")}`);
    const unexpected = match.unexpected.filter((u) => !(side && u.why.startsWith("not a")));
    io.out(`${label}unexpected keys: ${unexpected.length === 0 ? "none" : unexpected.map((u) => `${u.key} (${u.why})`).join(", ")}`);
  }
  return 0;
}
