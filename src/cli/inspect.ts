// `dino-ref inspect FILE`: what a safetensors file is (a golden case, a dino-ref training
// checkpoint, or weights with official keys), the architecture its shapes imply, the parameter
// count, a fingerprint of the weights, and which keys are missing or unexpected for that
// architecture.

import { createHash } from "node:crypto";
import { readSafetensors, numel, type StTensor } from "../io/safetensors.js";
import { GOLDEN_FORMAT } from "../io/golden.js";
import { CHECKPOINT_FORMAT } from "../train/checkpoint.js";
import { hasSides, matchStateDict } from "../model/stateDict.js";
import { vitConfig, type VitConfig } from "../model/vitConfig.js";
import { vitParamSpecs } from "../model/vitParams.js";
import { dinoHeadParamSpecs, type DinoHeadConfig } from "../model/dinoHead.js";
import type { ParamSpec } from "../model/params.js";
import type { Io } from "./main.js";
import { DinoRefError } from "../tensor/errors.js";

/** sha256 over every tensor's key, dtype, shape and bytes in key order; the first 16 hex digits. */
export function fingerprint(tensors: ReadonlyMap<string, StTensor>): string {
  const h = createHash("sha256");
  for (const key of [...tensors.keys()].sort()) {
    const t = tensors.get(key)!;
    h.update(`${key}|${t.dtype}|${t.shape.join(",")}|`);
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return h.digest("hex").slice(0, 16);
}

/** The backbone a set of official keys implies, or null when there is no patch embedding. */
export function inferVit(w: ReadonlyMap<string, StTensor>, knownHeads?: number): { cfg: VitConfig; notes: string[] } | null {
  const conv = w.get("patch_embed.proj.weight");
  const pos = w.get("pos_embed");
  if (conv === undefined || pos === undefined || conv.shape.length !== 4 || pos.shape.length !== 3) return null;
  const [D, inChans, p] = [conv.shape[0], conv.shape[1], conv.shape[2]];
  const g = Math.round(Math.sqrt(pos.shape[1] - 1));
  let depth = 0;
  while (w.has(`blocks.${depth}.norm1.weight`)) depth++;
  const fc1 = w.get("blocks.0.mlp.fc1.weight");
  const notes: string[] = [];
  // the head count is not in the shapes: a dino-ref checkpoint records it, the official constructors use Dh = 64
  let numHeads = knownHeads ?? (D % 64 === 0 ? D / 64 : 1);
  if (knownHeads === undefined) {
    notes.push(D % 64 === 0 ? `heads ${numHeads} assumed (not stored in the weights; the official constructors use head width 64)` : "heads unknown (not stored in the weights)");
  }
  if (D % numHeads !== 0) numHeads = 1;
  const cfg = vitConfig({ patchSize: p, embedDim: D, depth, numHeads, mlpRatio: fc1 ? fc1.shape[0] / D : 4, qkvBias: w.has("blocks.0.attn.qkv.bias"), imgSize: g * p, inChans });
  return { cfg, notes };
}

/** The DINO head a set of `head.*`-stripped keys implies, or null. */
export function inferHead(w: ReadonlyMap<string, StTensor>, inDim: number): DinoHeadConfig | null {
  const v = w.get("last_layer.weight_v");
  if (v === undefined) return null;
  const linears = [...w.keys()].filter((k) => /^mlp(\.\d+)?\.weight$/.test(k)).map((k) => w.get(k)!);
  const g = w.get("last_layer.weight_g");
  const allOnes = g !== undefined && Array.from(g.data as Float32Array).every((x) => x === 1);
  return {
    inDim,
    outDim: v.shape[0],
    bottleneckDim: v.shape[1],
    nlayers: Math.max(1, linears.length),
    hiddenDim: linears.length > 1 ? linears[0].shape[0] : 2048,
    normLastLayer: allOnes,
  };
}

function describeVit(c: VitConfig): string {
  const names: Record<number, string> = { 192: "vit_tiny", 384: "vit_small", 768: "vit_base" };
  const named = c.depth === 12 && c.mlpRatio === 4 && names[c.embedDim] ? `${names[c.embedDim]}/${c.patchSize}` : "custom ViT";
  return `${named}: patch ${c.patchSize}, width ${c.embedDim}, depth ${c.depth}, mlp ratio ${c.mlpRatio}, qkv bias ${c.qkvBias}, position embedding for ${c.imgSize}×${c.imgSize} px`;
}

export function inspectCommand(paths: readonly string[], io: Io): number {
  if (paths.length !== 1) throw new DinoRefError(`inspect: expected one FILE, got ${paths.length}`);
  const path = paths[0];
  const file = readSafetensors(path);
  const meta = file.metadata;
  const total = [...file.tensors.values()].reduce((n, t) => n + numel(t.shape), 0);
  io.out(`${path}: safetensors, ${file.tensors.size} tensors, ${total.toLocaleString("en-US")} values, fingerprint ${fingerprint(file.tensors)}`);
  if (meta.format === GOLDEN_FORMAT) {
    io.out(`golden case (${GOLDEN_FORMAT}): op ${meta.op}, params ${meta.params}`);
    io.out(`producer: ${meta.producer}`);
    io.out(`inputs: ${[...file.tensors.keys()].filter((k) => k.startsWith("in.")).length}, outputs: ${[...file.tensors.keys()].filter((k) => k.startsWith("out.")).join(", ")}`);
    return 0;
  }
  if (meta.format === CHECKPOINT_FORMAT) io.out(`dino-ref training checkpoint: epoch ${meta.epoch}, iteration ${meta.iteration}; config ${meta.config}`);
  else if (Object.keys(meta).length > 0) io.out(`metadata: ${JSON.stringify(meta)}`);

  const sided = hasSides(file.tensors.keys());
  for (const side of sided ? (["teacher", "student"] as const) : ([null] as const)) {
    // the weights of one network, with module. / backbone. / head. resolved
    const strip = (k: string) => (side ? k.slice(side.length + 1) : k).replace(/^module\./, "");
    const mine = [...file.tensors].filter(([k]) => (side ? k.startsWith(`${side}.`) : true)).map(([k, t]) => [strip(k), t] as const);
    const backbone = new Map(mine.map(([k, t]) => [k.replace(/^backbone\./, ""), t] as const).filter(([k]) => !k.startsWith("head.")));
    const head = new Map(mine.filter(([k]) => k.startsWith("head.")).map(([k, t]) => [k.slice(5), t] as const));
    const label = side ? `${side}: ` : "";
    const vit = inferVit(backbone, meta.format === CHECKPOINT_FORMAT ? (JSON.parse(meta.config) as { numHeads?: number }).numHeads : undefined);
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
    io.out(`${label}parameters: ${count.toLocaleString("en-US")}, fingerprint ${fingerprint(new Map(mine))}`);
    const match = matchStateDict(file.tensors, specs, path, side ?? "teacher");
    const shapeOf = (name: string) => specs.find((sp) => sp.name === name)!.shape.join(", ");
    io.out(`${label}missing keys: ${match.missing.length === 0 ? "none" : match.missing.map((n) => `${n} [${shapeOf(n)}]`).join(", ")}`);
    const unexpected = match.unexpected.filter((u) => !(side && u.why.startsWith("not a")));
    io.out(`${label}unexpected keys: ${unexpected.length === 0 ? "none" : unexpected.map((u) => `${u.key} (${u.why})`).join(", ")}`);
  }
  return 0;
}
