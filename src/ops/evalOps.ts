// Ops of the contract that are evaluations: knn (weighted k-NN vote) and attention_mask.

import { tensor, type StTensor } from "../io/safetensors.js";
import { knnClassify } from "../eval/knn.js";
import { attentionMask } from "../eval/attentionMask.js";
import { f64Out, type OpArgs } from "./args.js";
import type { Bugs } from "../tensor/portingBugs.js";
import type { Backend } from "../kernels/backend.js";
import type { OpImpl } from "./opImpl.js";

type Op = OpImpl;

/** Integer labels of an I64 tensor as numbers, each checked to be a safe integer. */
function labels(args: OpArgs, name: string, dims: (string | number)[]): Int32Array {
  const data = args.input(name, "I64", dims).data as BigInt64Array;
  return Int32Array.from(data, (v, i) => {
    if (v < 0n || v > 2147483647n) args.fail(`tensor in.${name}[${i}] is ${v}; expected a class index`);
    return Number(v);
  });
}

/** knn: top-1 predictions and top-1/top-5 accuracy (percent) of the weighted k-NN vote. */
function knnOp(args: OpArgs, be: Backend, bugs: Bugs): Map<string, StTensor> {
  const train = args.f32("train_features", ["Ntr", "D"]);
  const test = args.f32("test_features", ["Nte", "D"]);
  const numClasses = args.number("num_classes", { integer: true, min: 1 });
  // the vote table (float64 per class) and the normalised copies of both feature sets
  args.budget(8 * numClasses + 4 * (train.length + test.length), `the votes of ${numClasses} classes`);
  const result = knnClassify(be, train, labels(args, "train_labels", ["Ntr"]), test, labels(args, "test_labels", ["Nte"]), args.dim("D"), {
    k: args.number("k", { integer: true, min: 1 }),
    temperature: args.number("temperature", { positive: true }),
    numClasses,
    bugs,
  });
  return new Map([
    ["predictions", tensor("I64", [result.predictions.length], BigInt64Array.from(result.predictions, (p) => BigInt(p)))],
    ["top1", f64Out([1], Float64Array.of(result.top1))],
    ["top5", f64Out([1], Float64Array.of(result.top5))],
  ]);
}

/** attention_mask: per head, the patches holding `threshold` of the CLS attention mass. */
function attentionMaskOp(args: OpArgs): Map<string, StTensor> {
  const attn = args.f32("attn", ["H", "N"]);
  const [H, N] = [args.dim("H"), args.dim("N")];
  const mask = attentionMask(attn, H, N, args.number("threshold", { min: 0, max: 1 }));
  return new Map([["mask", tensor("U8", [H, N], mask)]]);
}

export const evalOps: [string, Op][] = [
  ["knn", knnOp],
  ["attention_mask", attentionMaskOp],
];
