// Features of image sets as tensors, as the official eval_knn.py --dump_features saves them
// (trainfeat.pth / testfeat.pth: CLS features after the final norm, L2-normalised per row;
// trainlabels.pth / testlabels.pth: int64 labels), one safetensors file for all splits:
//   <split>.features [N, D] F32, <split>.labels [N] I64, and with patch tokens
//   <split>.patch_tokens [N, n, D] F32 (after the final norm, not normalised).
// The file names and classes go in the metadata (the command writes it).

import type { Backend } from "../kernels/backend.js";
import type { ParamScope } from "../model/params.js";
import type { VitConfig } from "../model/vitConfig.js";
import type { ImageDataset } from "../data/dataset.js";
import { labelsOf } from "../data/dataset.js";
import { tensor, type StTensor } from "../io/safetensors.js";
import { extractFeatures, extractTokens } from "./features.js";
import { l2NormalizeRows } from "./knn.js";

export interface FeatureSplit {
  /** "train", "val", or "images" for a single folder. */
  name: string;
  ds: ImageDataset;
}

/** The tensors of a feature dump of `splits` (see the header). */
export function featureTensors(be: Backend, backbone: ParamScope, cfg: VitConfig, splits: readonly FeatureSplit[], patchTokens: boolean): [string, StTensor][] {
  const D = cfg.embedDim;
  const out: [string, StTensor][] = [];
  for (const { name, ds } of splits) {
    const N = ds.length;
    const tokens = patchTokens ? extractTokens(be, backbone, cfg, ds) : null;
    const cls = tokens ? tokens.cls : extractFeatures(be, backbone, cfg, ds);
    // nn.functional.normalize(features, dim=1, p=2), as eval_knn.py before it saves them
    out.push([`${name}.features`, tensor("F32", [N, D], l2NormalizeRows(cls, N, D))]);
    out.push([`${name}.labels`, tensor("I64", [N], BigInt64Array.from(labelsOf(ds), (y) => BigInt(y)))]);
    if (tokens) out.push([`${name}.patch_tokens`, tensor("F32", [N, tokens.n, D], tokens.patches)]);
  }
  return out;
}
