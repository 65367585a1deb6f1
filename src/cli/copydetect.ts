// `dino-ref copydetect --weights FILE`: copy detection as eval_copy_detection.py measures it on
// Copydays (CLS ⊕ GeM descriptors, whitening learned on distractor-like images, cosine top 20, mAP)
// on generated strong copies hidden among distractors (src/data/copyDetectionSet.ts), for the
// network and the same network at initialisation; raw pixels (cosine, no whitening) as the
// reference that needs no network.

import { selectedBackend } from "../kernels/backend.js";
import { COPY_DETECTION_DEFAULTS, makeCopyDetectionSet } from "../data/copyDetectionSet.js";
import { copyDetectionDescriptors, copyDetectionScores, COPY_DETECTION_TOPK, type CopyDetectionScores } from "../eval/copyDetection.js";
import { checkFinite, pixelFeatures } from "../eval/features.js";
import type { ParamStore } from "../model/params.js";
import { DinoRefError } from "../tensor/errors.js";
import { integerArg } from "./args.js";
import type { Io } from "./io.js";
import { trainedAndInit, type WeightsArgs } from "./weights.js";
import { jsonNumber } from "./report.js";

export interface CopyDetectArgs extends WeightsArgs {
  originals?: string;
  copies?: string;
  distractors?: string;
  whitening?: string;
  seed?: string;
  json?: boolean;
}

export function copyDetectCommand(a: CopyDetectArgs, io: Io): number {
  const options = {
    originals: integerArg("originals", a.originals, 1, 1000) ?? COPY_DETECTION_DEFAULTS.originals,
    copies: integerArg("copies", a.copies, 1, 20) ?? COPY_DETECTION_DEFAULTS.copies,
    distractors: integerArg("distractors", a.distractors, 0, 1999) ?? COPY_DETECTION_DEFAULTS.distractors,
    whitening: integerArg("whitening", a.whitening, 0, 8000) ?? COPY_DETECTION_DEFAULTS.whitening,
    seed: integerArg("seed", a.seed, 0, 2 ** 40) ?? COPY_DETECTION_DEFAULTS.seed,
  };
  if (options.whitening === 1) throw new DinoRefError("--whitening 1: a whitening needs at least 2 images (0 turns it off)");
  if (options.originals + options.distractors < COPY_DETECTION_TOPK) throw new DinoRefError(`copydetect: a database of ${options.originals + options.distractors} images; the official evaluation retrieves the top ${COPY_DETECTION_TOPK}, so give at least ${COPY_DETECTION_TOPK} originals + distractors`);
  const be = selectedBackend();
  const nets = trainedAndInit(be, "copydetect", a, io);
  const set = makeCopyDetectionSet({ ...options, whitening: Math.max(options.whitening, 2) });
  const E = 2 * nets.cfg.embedDim;
  const positives = Array.from(set.original, (o) => [o]);
  const score = (net: ParamStore, what: string): CopyDetectionScores => {
    const d = (ds: typeof set.queries) => {
      const f = copyDetectionDescriptors(be, net, nets.cfg, ds);
      checkFinite(f, () => `the ${what} descriptors of ${nets.path}`);
      return f;
    };
    return copyDetectionScores(be, d(set.queries), d(set.database), options.whitening > 0 ? d(set.whitening) : null, E, positives);
  };
  const trained = score(nets.trained, nets.side);
  const init = score(nets.init, "initialisation");
  const qp = pixelFeatures(set.queries);
  const raw = copyDetectionScores(be, qp.features, pixelFeatures(set.database).features, null, qp.dim, positives);
  const top1 = (s: CopyDetectionScores) => Array.from(set.original).filter((o, q) => s.indices[q * COPY_DETECTION_TOPK] === o).length / set.original.length;

  if (a.json) {
    const row = (s: CopyDetectionScores) => ({ map: jsonNumber(s.map), top1: jsonNumber(top1(s)) });
    io.out(JSON.stringify({ ...row(trained), init: row(init), raw_pixels: row(raw), queries: set.queries.length, database: set.database.length, whitening: options.whitening, weights: nets.path, network: nets.side, seed: options.seed }));
    return 0;
  }
  io.out(`copy detection (Copydays protocol: CLS + GeM(p = 4) descriptors, ${options.whitening > 0 ? `whitening learned on ${options.whitening} other images` : "no whitening"}, cosine top ${COPY_DETECTION_TOPK}, mAP) of ${set.queries.length} strong copies (crop + 2 of colour, overlay, rescale, blur, JPEG) of ${options.originals} originals among ${options.distractors} distractors (seed ${options.seed}); ${nets.side} of ${nets.path}:`);
  const pct = (x: number) => (100 * x).toFixed(2).padStart(6);
  io.out("                                    mAP   original first");
  for (const [label, s] of [[`trained ${nets.side}`, trained], [`same net at init (seed ${nets.seed})`, init], ["raw pixels (no whitening)", raw]] as const) {
    io.out(`  ${label.padEnd(30)} ${pct(s.map)}   ${pct(top1(s))}`);
  }
  return 0;
}
