// The Hugging Face layout of a DINO ViT backbone (transformers ViTModel, as facebook/dino-vits16,
// -vits8, -vitb16, -vitb8 publish it; the renaming of transformers' convert_dino_to_pytorch.py)
// and the official layout (vision_transformer.py; timm's DINO weights use the same keys), both
// ways. The official attn.qkv [3D, D] is HF's query, key and value [D, D] each (rows 0:D, D:2D,
// 2D:3D; the biases likewise): split one way, concatenated the other, bits unchanged.
//
//   official                       Hugging Face ViTModel (under `vit.` in ViTForImageClassification)
//   cls_token                      embeddings.cls_token
//   pos_embed                      embeddings.position_embeddings
//   patch_embed.proj.{weight,bias} embeddings.patch_embeddings.projection.{weight,bias}
//   blocks.i.norm1                 encoder.layer.i.layernorm_before
//   blocks.i.attn.qkv              encoder.layer.i.attention.attention.{query,key,value}
//   blocks.i.attn.proj             encoder.layer.i.attention.output.dense
//   blocks.i.norm2                 encoder.layer.i.layernorm_after
//   blocks.i.mlp.fc1               encoder.layer.i.intermediate.dense
//   blocks.i.mlp.fc2               encoder.layer.i.output.dense
//   norm                           layernorm

import { DinoRefError } from "../tensor/errors.js";
import type { StTensor } from "../io/safetensors.js";

export type Layout = "official" | "hf";

const HF_PATCH = "embeddings.patch_embeddings.projection.weight";

/** Per block: official name ↔ HF name (weight and bias each), q/k/v apart. */
const BLOCK_PAIRS: readonly [string, string][] = [
  ["attn.proj", "attention.output.dense"],
  ["mlp.fc1", "intermediate.dense"],
  ["mlp.fc2", "output.dense"],
  ["norm1", "layernorm_before"],
  ["norm2", "layernorm_after"],
];
const QKV = ["query", "key", "value"] as const;

/** The layout of a file's keys: "hf" when it has the ViTModel patch embedding (possibly under `vit.`), else "official". */
export function detectLayout(keys: Iterable<string>): Layout {
  for (const k of keys) if (k === HF_PATCH || k === `vit.${HF_PATCH}`) return "hf";
  return "official";
}

/** What `inspect` says about a layout. */
export function describeLayout(layout: Layout): string {
  return layout === "hf"
    ? "Hugging Face ViTModel (facebook/dino-vit*: embeddings.*, encoder.layer.N.attention.attention.query/key/value, ...)"
    : "official (facebookresearch/dino vision_transformer.py; timm's DINO weights use the same keys)";
}

/** Rows of 2-D (or 1-D) tensors of one dtype, stacked along dim 0 (bits copied). */
function concatRows(parts: StTensor[], name: string, source: string): StTensor {
  const [first] = parts;
  for (const p of parts) {
    if (p.dtype !== first.dtype || p.shape.length !== first.shape.length || p.shape.slice(1).some((d, i) => d !== first.shape[i + 1])) {
      throw new DinoRefError(`${source}: the query, key and value tensors of ${name} differ in dtype or shape (${parts.map((q) => `${q.dtype} [${q.shape.join(", ")}]`).join(", ")})`);
    }
  }
  const Type = first.data.constructor as new (n: number) => StTensor["data"];
  const data = new Type(parts.reduce((n, p) => n + p.data.length, 0));
  let at = 0;
  for (const p of parts) {
    (data as Uint8Array).set(p.data as Uint8Array, at);
    at += p.data.length;
  }
  return { dtype: first.dtype, shape: [parts.reduce((n, p) => n + p.shape[0], 0), ...first.shape.slice(1)], data };
}

/** Rows [r0, r1) of a tensor (a copy). */
function rows(t: StTensor, r0: number, r1: number): StTensor {
  const per = t.shape.slice(1).reduce((a, b) => a * b, 1);
  return { dtype: t.dtype, shape: [r1 - r0, ...t.shape.slice(1)], data: t.data.slice(r0 * per, r1 * per) };
}

/**
 * HF ViTModel tensors → official backbone keys, in the official state_dict order. Keys the
 * official backbone does not have (a pooler, a classifier, a mask token) come back as
 * `unexpected` with the reason; a missing piece of a block is an error naming it.
 */
export function hfToOfficial(hf: ReadonlyMap<string, StTensor>, source: string): { tensors: Map<string, StTensor>; unexpected: { key: string; why: string }[] } {
  const prefixed = hf.has(`vit.${HF_PATCH}`);
  const strip = (k: string) => (prefixed && k.startsWith("vit.") ? k.slice(4) : k);
  const byName = new Map<string, StTensor>();
  const used = new Set<string>();
  for (const [k, t] of hf) byName.set(strip(k), t);
  const get = (name: string): StTensor => {
    const t = byName.get(name);
    if (t === undefined) throw new DinoRefError(`${source}: Hugging Face layout without ${prefixed ? "vit." : ""}${name}`);
    used.add(name);
    return t;
  };
  const out = new Map<string, StTensor>();
  out.set("cls_token", get("embeddings.cls_token"));
  out.set("pos_embed", get("embeddings.position_embeddings"));
  out.set("patch_embed.proj.weight", get(HF_PATCH));
  out.set("patch_embed.proj.bias", get("embeddings.patch_embeddings.projection.bias"));
  let depth = 0;
  while (byName.has(`encoder.layer.${depth}.layernorm_before.weight`)) depth++;
  for (let i = 0; i < depth; i++) {
    const b = `blocks.${i}.`;
    const e = `encoder.layer.${i}.`;
    const pair = (ours: string, kind: string) => out.set(`${b}${ours}.${kind}`, get(`${e}${BLOCK_PAIRS.find(([o]) => o === ours)![1]}.${kind}`));
    for (const kind of ["weight", "bias"]) pair("norm1", kind);
    // qkv = [query; key; value] along the output rows
    out.set(`${b}attn.qkv.weight`, concatRows(QKV.map((q) => get(`${e}attention.attention.${q}.weight`)), `${e}attention`, source));
    if (byName.has(`${e}attention.attention.query.bias`)) out.set(`${b}attn.qkv.bias`, concatRows(QKV.map((q) => get(`${e}attention.attention.${q}.bias`)), `${e}attention`, source));
    for (const ours of ["attn.proj", "norm2", "mlp.fc1", "mlp.fc2"]) for (const kind of ["weight", "bias"]) pair(ours, kind);
  }
  out.set("norm.weight", get("layernorm.weight"));
  out.set("norm.bias", get("layernorm.bias"));
  const unexpected: { key: string; why: string }[] = [];
  for (const [k] of hf) {
    const name = strip(k);
    if (used.has(name)) continue;
    const why = name.startsWith("pooler.") ? "the ViTModel pooler; DINO uses the CLS token after the final norm"
      : name.startsWith("classifier.") ? "a classification head (ViTForImageClassification); the backbone is loaded alone"
      : name === "embeddings.mask_token" ? "a mask token (masked image modelling); DINO does not use it"
      : "no parameter of the official backbone corresponds to it";
    unexpected.push({ key: k, why });
  }
  return { tensors: out, unexpected };
}

/** Official backbone tensors (keys without `backbone.`) → HF ViTModel keys, in ViTModel's state_dict order. */
export function officialToHf(official: ReadonlyMap<string, StTensor>, source: string): Map<string, StTensor> {
  const get = (name: string): StTensor => {
    const t = official.get(name);
    if (t === undefined) throw new DinoRefError(`${source}: the backbone has no ${name} (needed for the Hugging Face layout)`);
    return t;
  };
  const extra = [...official.keys()].filter((k) => !/^(cls_token|pos_embed|patch_embed\.proj\.(weight|bias)|norm\.(weight|bias)|blocks\.\d+\.(norm1|norm2|attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)\.(weight|bias))$/.test(k));
  if (extra.length > 0) throw new DinoRefError(`${source}: ${extra.slice(0, 4).join(", ")}${extra.length > 4 ? ", ..." : ""} has no place in the Hugging Face ViTModel layout (a backbone of the official keys only)`);
  const out = new Map<string, StTensor>();
  out.set("embeddings.cls_token", get("cls_token"));
  out.set("embeddings.position_embeddings", get("pos_embed"));
  out.set(HF_PATCH, get("patch_embed.proj.weight"));
  out.set("embeddings.patch_embeddings.projection.bias", get("patch_embed.proj.bias"));
  let depth = 0;
  while (official.has(`blocks.${depth}.norm1.weight`)) depth++;
  for (let i = 0; i < depth; i++) {
    const b = `blocks.${i}.`;
    const e = `encoder.layer.${i}.`;
    const qkv = get(`${b}attn.qkv.weight`);
    const D = qkv.shape[0] / 3;
    if (qkv.shape.length !== 2 || !Number.isInteger(D)) throw new DinoRefError(`${source}: ${b}attn.qkv.weight has shape [${qkv.shape.join(", ")}]; expected [3·D, D]`);
    const bias = official.get(`${b}attn.qkv.bias`);
    QKV.forEach((q, j) => {
      out.set(`${e}attention.attention.${q}.weight`, rows(qkv, j * D, (j + 1) * D));
      if (bias !== undefined) out.set(`${e}attention.attention.${q}.bias`, rows(bias, j * D, (j + 1) * D));
    });
    for (const [ours, theirs] of BLOCK_PAIRS) for (const kind of ["weight", "bias"]) out.set(`${e}${theirs}.${kind}`, get(`${b}${ours}.${kind}`));
  }
  out.set("layernorm.weight", get("norm.weight"));
  out.set("layernorm.bias", get("norm.bias"));
  return out;
}
