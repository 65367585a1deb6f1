// `dino-ref trace --weights FILE (--input X.safetensors | --image PNG...) --out TRACE.safetensors
// [--case]`: every intermediate of the backbone (and of the head, when the file has one) under the
// trace names of docs/porting.md; with --case a vit_trace case file that `check` recomputes.

import { DinoRefError } from "../tensor/errors.js";
import { readSafetensors, tensor, writeSafetensors } from "../io/safetensors.js";
import { selectedBackend } from "../kernels/backend.js";
import { loadBackbone, loadHead } from "../model/loadBackbone.js";
import { normalizedImageBatch } from "../data/imageBatch.js";
import { traceOn, traceWeightsOf, vitTraceCase } from "../ops/traceCase.js";
import { integerArg } from "./args.js";
import type { Io } from "./io.js";
import { prepareOutputFile } from "../io/outputPath.js";

export interface TraceArgs {
  weights?: string;
  input?: string;
  image?: string[];
  out?: string;
  case?: boolean;
  student?: boolean;
  heads?: string;
  "no-head"?: boolean;
}

/** The one F32 tensor `x` [B, 3, H, W] of an --input file. */
function readInput(path: string): { shape: number[]; data: Float32Array } {
  const file = readSafetensors(path);
  const x = file.tensors.get("x");
  if (x === undefined) throw new DinoRefError(`${path}: no tensor named x (expected one float32 tensor x [B, 3, H, W], already normalised)`);
  if (x.dtype !== "F32") throw new DinoRefError(`${path}: tensor x has dtype ${x.dtype}; expected F32`);
  if (x.shape.length !== 4 || x.shape[1] !== 3 || x.shape.some((d) => d === 0)) {
    throw new DinoRefError(`${path}: tensor x has shape [${x.shape.join(", ")}]; expected [B, 3, H, W]`);
  }
  return { shape: [...x.shape], data: x.data as Float32Array };
}

export function traceCommand(a: TraceArgs, io: Io): number {
  if (a.weights === undefined) throw new DinoRefError("trace: --weights FILE is required");
  if (a.out === undefined) throw new DinoRefError("trace: --out TRACE.safetensors is required");
  prepareOutputFile(a.out, "--out");
  const images = a.image ?? [];
  if ((a.input === undefined) === (images.length === 0)) throw new DinoRefError("trace: give either --input X.safetensors or --image PNG... (one of the two)");
  const heads = integerArg("heads", a.heads, 1);
  const x = a.input !== undefined ? readInput(a.input) : normalizedImageBatch(images);
  const be = selectedBackend();
  const side = a.student ? "student" : "teacher";
  const loaded = loadBackbone(be, a.weights, side, heads);
  const { backbone, cfg, notes } = loaded;
  if (x.shape[2] < cfg.patchSize || x.shape[3] < cfg.patchSize) throw new DinoRefError(`trace: the images are ${x.shape[2]}×${x.shape[3]} px, smaller than one ${cfg.patchSize}×${cfg.patchSize} patch`);
  const head = a["no-head"] ? null : loadHead(be, loaded, a.weights, cfg.embedDim, side);
  for (const note of notes) io.err(`${a.weights}: ${note}`);
  const weights = traceWeightsOf(cfg, backbone, head);
  const source = `${a.weights} on ${a.input ?? images.join(", ")}`;
  if (a.case) {
    const { tensors, metadata } = vitTraceCase(be, weights, x, source);
    writeSafetensors(a.out, tensors, metadata);
    io.out(`${a.out}: vit_trace case, ${tensors.filter(([n]) => n.startsWith("out.")).length} outputs (check it with: dino-ref check ${a.out})`);
    return 0;
  }
  const trace = traceOn(be, weights, x);
  writeSafetensors(a.out, [...trace].map(([name, t]) => [name, tensor("F32", t.shape, t.data)]), {
    producer: `dino-ref trace (${be.name} kernels, float32)`,
    description: `every intermediate of ${source}, in forward order`,
  });
  io.out(`${a.out}: ${trace.size} intermediates (${head === null ? "backbone" : "backbone and head"}, depth ${cfg.depth}, batch ${x.shape[0]}, ${x.shape[2]}×${x.shape[3]} px)`);
  return 0;
}
