// Ops of the contract for the paper's other applications: retrieval_map (revisited Oxford/Paris
// mAP of a cosine ranking), copy_detection (the Copydays recipe from last-block tokens) and
// label_propagation (one step of the DAVIS label propagation).

import { tensor, type StTensor } from "../io/safetensors.js";
import { retrievalScores } from "../eval/retrievalMap.js";
import { copyDetectionScores } from "../eval/copyDetection.js";
import { gemDescriptors } from "../eval/gem.js";
import { propagateLabels } from "../eval/labelPropagation.js";
import { f32Out, f64Out, type OpArgs } from "./args.js";
import type { Backend } from "../kernels/backend.js";

type Op = (args: OpArgs, be: Backend) => Map<string, StTensor>;

/** retrieval_map: Medium and Hard mAP, AP per query and mP@1, 5, 10 of the database ranked by cosine similarity to each query. */
function retrievalMapOp(args: OpArgs, be: Backend): Map<string, StTensor> {
  const queries = args.f32("queries", ["Q", "D"]);
  const database = args.f32("database", ["Ndb", "D"]);
  const relevance = args.input("relevance", "U8", ["Q", "Ndb"]).data as Uint8Array;
  relevance.forEach((c, i) => {
    if (c > 3) args.fail(`tensor in.relevance[${i}] is ${c}; expected 0 (negative), 1 (easy), 2 (hard) or 3 (junk)`);
  });
  const Q = args.dim("Q");
  const { medium, hard } = retrievalScores(be, queries, database, args.dim("D"), relevance);
  return new Map([
    ["map_medium", f64Out([1], Float64Array.of(medium.map))],
    ["map_hard", f64Out([1], Float64Array.of(hard.map))],
    ["ap_medium", f64Out([Q], medium.aps)],
    ["ap_hard", f64Out([Q], hard.aps)],
    ["mp_medium", f64Out([3], medium.mpk)],
    ["mp_hard", f64Out([3], hard.mpk)],
  ]);
}

/** copy_detection: CLS ⊕ GeM descriptors, whitening, cosine top-k, AP per query and mAP. */
function copyDetectionOp(args: OpArgs, be: Backend): Map<string, StTensor> {
  const q = args.f32("query_tokens", ["Q", "N", "D"]);
  const db = args.f32("database_tokens", ["Ndb", "N", "D"]);
  const w = args.f32("whitening_tokens", ["Nw", "N", "D"]);
  const positives = args.input("positives", "U8", ["Q", "Ndb"]).data as Uint8Array;
  const [Q, Ndb, Nw, N, D] = ["Q", "Ndb", "Nw", "N", "D"].map((d) => args.dim(d));
  const p = args.number("gem_p", { positive: true });
  const topk = args.number("topk", { integer: true, min: 1, max: Ndb });
  const lists = Array.from({ length: Q }, (_, i) => {
    const list: number[] = [];
    for (let j = 0; j < Ndb; j++) if (positives[i * Ndb + j] !== 0) list.push(j);
    if (list.length === 0) args.fail(`query ${i} has no positive in in.positives`);
    return list;
  });
  const desc = (t: Float32Array, B: number) => gemDescriptors(t, B, N, D, p);
  const r = copyDetectionScores(be, desc(q, Q), desc(db, Ndb), desc(w, Nw), 2 * D, lists, topk);
  return new Map([
    ["indices", tensor("I64", [Q, topk], BigInt64Array.from(r.indices, (i) => BigInt(i)))],
    ["ap", f64Out([Q], r.aps)],
    ["map", f64Out([1], Float64Array.of(r.map))],
  ]);
}

/** label_propagation: the soft labels of a target frame from its context frames. */
function labelPropagationOp(args: OpArgs, be: Backend): Map<string, StTensor> {
  const target = args.f32("target", ["h", "w", "D"]);
  const context = args.f32("context", ["M", "h", "w", "D"]);
  const segs = args.f32("context_seg", ["M", "C", "h", "w"]);
  const [M, C, h, w, D] = ["M", "C", "h", "w", "D"].map((d) => args.dim(d));
  const N = h * w;
  const seg = propagateLabels(
    be, target, Array.from({ length: M }, (_, m) => context.subarray(m * N * D, (m + 1) * N * D)), Array.from({ length: M }, (_, m) => segs.subarray(m * C * N, (m + 1) * C * N)), h, w, D, C,
    { topk: args.number("topk", { integer: true, min: 1 }), neighborhood: args.number("size_mask_neighborhood", { integer: true, min: 0 }), temperature: args.number("temperature", { positive: true }) },
  );
  return new Map([["seg", f32Out([C, h, w], seg)]]);
}

export const applicationOps: [string, Op][] = [
  ["retrieval_map", retrievalMapOp],
  ["copy_detection", copyDetectionOp],
  ["label_propagation", labelPropagationOp],
];
