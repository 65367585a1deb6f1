// `dino-ref features --weights FILE --data DIR --out FEATS.safetensors [--patch-tokens]`: the CLS
// features of every image (and its patch tokens), with labels, classes and file names, as
// eval_knn.py --dump_features saves them (src/eval/featureDump.ts): for DIR with train/ and val/
// the splits `train.*` and `val.*`, for any other DIR (one subfolder per class) `images.*`.

import { DinoRefError } from "../tensor/errors.js";
import { selectedBackend } from "../kernels/backend.js";
import { writeSafetensors } from "../io/safetensors.js";
import { fingerprint } from "../io/fingerprint.js";
import { hasEvalSplits, openEvalFolders, openTransformedFolder } from "../data/evalFolder.js";
import { describeEvalTransform, evalTransform } from "../data/evalTransform.js";
import { featureTensors, type FeatureSplit } from "../eval/featureDump.js";
import { evalTransformArgs, loadWeights, type EvalDataArgs, type WeightsArgs } from "./evalInput.js";
import type { Io } from "./io.js";
import { prepareOutputFile } from "../io/outputPath.js";

export const FEATURES_FORMAT = "dino-ref-features/1";

export interface FeaturesArgs extends WeightsArgs, EvalDataArgs {
  out?: string;
  "patch-tokens"?: boolean;
}

export function featuresCommand(a: FeaturesArgs, io: Io): number {
  if (a.data === undefined) throw new DinoRefError("features: --data DIR is required (train/ and val/ class folders, or one folder per class)");
  if (a.out === undefined) throw new DinoRefError("features: --out FILE.safetensors is required");
  if (!a.out.endsWith(".safetensors")) throw new DinoRefError(`features: --out ${a.out}: expected a .safetensors file`);
  prepareOutputFile(a.out, "--out");
  const be = selectedBackend();
  const { path, side, loaded, config } = loadWeights("features", be, a, io);
  const { backbone, cfg } = loaded;
  const t = evalTransformArgs(a, config?.globalSize ?? cfg.imgSize);
  const transform = evalTransform(t.name, t.size);
  const warn = (m: string) => io.err(`warning: ${m}`);
  const skipBad = a["skip-bad"] === true;
  const splits: (FeatureSplit & { files: string[] })[] = [];
  let classes: readonly string[];
  if (hasEvalSplits(a.data)) {
    const f = openEvalFolders(a.data, transform, skipBad, warn);
    splits.push({ name: "train", ds: f.train, files: f.trainFiles }, { name: "val", ds: f.val, files: f.valFiles });
    classes = f.train.classes;
  } else {
    const f = openTransformedFolder(a.data, a.data, transform, skipBad, warn);
    splits.push({ name: "images", ds: f.ds, files: f.files });
    classes = f.ds.classes;
  }
  const tensors = featureTensors(be, backbone, cfg, splits, a["patch-tokens"] === true);
  const metadata: Record<string, string> = {
    format: FEATURES_FORMAT,
    weights: path,
    side,
    weights_fingerprint: fingerprint(new Map(backbone.params.map((p) => [p.name, { dtype: "F32" as const, shape: [...p.shape], data: p.data as Float32Array }]))),
    transform: describeEvalTransform(t.name, t.size),
    features: "CLS token after the final norm, L2-normalised per row (as eval_knn.py --dump_features saves them)",
    ...(a["patch-tokens"] ? { patch_tokens: "the patch tokens after the final norm, not normalised: [N, patches, D], row-major patch grid" } : {}),
    classes: JSON.stringify(classes),
  };
  for (const s of splits) metadata[`${s.name}.files`] = JSON.stringify(s.files);
  writeSafetensors(a.out, tensors, metadata);
  io.out(`${a.out}: ${splits.map((s) => `${s.name} ${s.ds.length} images`).join(", ")}; ${cfg.embedDim} features each${a["patch-tokens"] ? ` and the patch tokens` : ""} (${side} of ${path}; ${describeEvalTransform(t.name, t.size)})`);
  return 0;
}
