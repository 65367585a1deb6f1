// `dino-ref convert IN OUT [--layout official|hf] [--student]`: weights between PyTorch files
// (.pth / .pt / .bin: torch.save's zip or legacy format, read without Python by the restricted
// unpickler) and safetensors, by extension, and between the official and the Hugging Face key
// layouts. Tensors keep their dtype and bits; what is dropped is said.

import { basename } from "node:path";
import { DinoRefError } from "../tensor/errors.js";
import { numel } from "../tensor/named.js";
import type { StTensor } from "../io/safetensors.js";
import { readWeightsFile, writeWeightsFile, formatOfPath } from "../model/weightsFile.js";
import { detectLayout, hfToOfficial, officialToHf, type Layout } from "../model/hfLayout.js";
import { hasSides, networkTensors, type Side } from "../model/stateDict.js";
import { CONVERTED_SOURCE, type NamedWeights } from "../model/officialCheckpoint.js";
import type { Io } from "./io.js";
import { prepareOutputFile } from "../io/outputPath.js";

export interface ConvertArgs {
  layout?: string;
  student?: boolean;
}

export function convertCommand(paths: readonly string[], a: ConvertArgs, io: Io): number {
  if (paths.length !== 2) throw new DinoRefError(`convert: expected IN and OUT (e.g. convert checkpoint.pth checkpoint.safetensors), got ${paths.length} argument(s)`);
  const [input, output] = paths;
  if (a.layout !== undefined && a.layout !== "official" && a.layout !== "hf") throw new DinoRefError(`--layout ${a.layout}: expected official or hf`);
  for (const p of paths) if (formatOfPath(p) === null) throw new DinoRefError(`convert: ${p}: unknown format; expected .pth, .pt, .bin or .safetensors`);
  if (a.student && a.layout !== "hf") throw new DinoRefError("convert: --student picks the backbone a training checkpoint gives to --layout hf; other conversions keep both networks");
  const side: Side = a.student ? "student" : "teacher";
  prepareOutputFile(output, "convert OUT");
  const file = readWeightsFile(input);
  const notes: string[] = [];
  const out = relayout(file, (a.layout as Layout | undefined) ?? file.layout, side, input, notes);
  notes.push(...writeWeightsFile(output, out));
  const values = [...out.tensors.values()].reduce((n, t) => n + numel(t.shape), 0);
  const dtypes = [...new Set([...out.tensors.values()].map((t) => t.dtype))].join(", ");
  const m = out.metadata;
  io.out(`${output}: ${out.tensors.size} tensors (${dtypes}), ${values.toLocaleString("en-US")} values, from ${input} (${file.container}); layout ${detectLayout(out.tensors.keys())}${m.kind ? `, kind ${m.kind}` : ""}${m.epoch ? `, epoch ${m.epoch}` : ""}${m.dropped && file.container !== "safetensors" ? `; dropped: ${m.dropped}` : ""}`);
  for (const n of notes) io.out(`note: ${n}`);
  return 0;
}

/** The weights in `layout`: as they are when the file has it already, else the backbone of `side` renamed. */
function relayout(file: NamedWeights & { layout: Layout }, layout: Layout, side: Side, source: string, notes: string[]): NamedWeights {
  if (layout === file.layout) return file;
  if (layout === "official") {
    const { tensors, unexpected } = hfToOfficial(file.tensors, source);
    for (const u of unexpected) notes.push(`left out ${u.key}: ${u.why}`);
    notes.push(`renamed from the Hugging Face layout; query/key/value concatenated into attn.qkv (${basename(source)})`);
    return { tensors, metadata: { format: "pt", source: CONVERTED_SOURCE, kind: "state_dict" } };
  }
  // official → hf: one backbone (the teacher of a training checkpoint by default)
  const { backbone, head } = networkTensors(file.tensors, side);
  const kept = new Map<string, StTensor>([...backbone].filter(([k]) => k !== "center" && !k.startsWith("optimizer.")));
  const sided = hasSides(file.tensors.keys());
  if (kept.size < file.tensors.size) notes.push(`the Hugging Face layout holds one backbone: took the ${sided ? `${side}'s ` : ""}backbone, left out ${file.tensors.size - kept.size} other tensor(s)${head.size > 0 ? " (a DINO head among them)" : ""}`);
  return { tensors: officialToHf(kept, source), metadata: { format: "pt" } };
}
