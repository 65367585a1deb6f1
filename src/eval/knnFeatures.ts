// The features a run's k-NN evaluation sees: the backbone's CLS output (official eval_knn.py), or
// the CLS output beside the mean of the last block's patch tokens (official eval_linear.py with
// --avgpool_patchtokens, interleaved as it leaves them). Both through the final norm.

import type { Backend } from "../kernels/backend.js";
import type { ParamScope } from "../model/params.js";
import type { VitConfig } from "../model/vitConfig.js";
import type { ImageDataset } from "../data/dataset.js";
import { extractFeatures } from "./features.js";
import { probeFeatures } from "./linearProbe.js";

/** The k-NN feature choices of a training config (`knnFeatures`). */
export const KNN_FEATURES = ["cls", "cls+avgpool"] as const;
export type KnnFeatures = (typeof KNN_FEATURES)[number];

/** Features [N, dim] of every image of `ds` for the k-NN: dim = D ("cls") or 2·D ("cls+avgpool"). */
export function knnFeatureVectors(be: Backend, backbone: ParamScope, cfg: VitConfig, ds: ImageDataset, kind: KnnFeatures): { features: Float32Array; dim: number } {
  if (kind === "cls") return { features: extractFeatures(be, backbone, cfg, ds), dim: cfg.embedDim };
  return probeFeatures(be, backbone, cfg, ds, { nLastBlocks: 1, avgpool: true });
}
