// The architecture a set of official-key weights implies, from the shapes alone: patch size,
// width, depth, MLP ratio, qkv bias and the position-embedding grid of the backbone; layers, widths
// and the normalised last layer of a DINO head. The head count is not in the shapes: a dino-ref
// checkpoint records it, the official constructors use heads of width 64.

import type { StTensor } from "../io/safetensors.js";
import { vitConfig, type VitConfig } from "./vitConfig.js";
import type { DinoHeadConfig } from "./dinoHead.js";

/** The backbone a set of official keys implies (keys without `backbone.`), or null when there is no patch embedding. */
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

export function describeVit(c: VitConfig): string {
  const names: Record<number, string> = { 192: "vit_tiny", 384: "vit_small", 768: "vit_base" };
  const named = c.depth === 12 && c.mlpRatio === 4 && names[c.embedDim] ? `${names[c.embedDim]}/${c.patchSize}` : "custom ViT";
  return `${named}: patch ${c.patchSize}, width ${c.embedDim}, depth ${c.depth}, mlp ratio ${c.mlpRatio}, qkv bias ${c.qkvBias}, position embedding for ${c.imgSize}×${c.imgSize} px`;
}

