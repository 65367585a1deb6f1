// `dino-ref retrieval --weights FILE`: image retrieval as eval_image_retrieval.py measures it on
// revisited Oxford/Paris (CLS features, cosine ranking, Medium and Hard mAP with junk removed), on
// the generated instance-retrieval set (src/data/retrievalSet.ts), for the network, the same
// network at initialisation and raw pixels.

import { selectedBackend } from "../kernels/backend.js";
import { makeRetrievalSet, RETRIEVAL_DEFAULTS } from "../data/retrievalSet.js";
import { checkFinite, extractFeatures, pixelFeatures } from "../eval/features.js";
import { retrievalScores, type RevisitedMaps } from "../eval/retrievalMap.js";
import type { ImageDataset } from "../data/dataset.js";
import { integerArg } from "./args.js";
import type { Io } from "./io.js";
import { trainedAndInit, type WeightsArgs } from "./weights.js";
import { jsonNumber } from "./report.js";

export interface RetrievalArgs extends WeightsArgs {
  queries?: string;
  easy?: string;
  hard?: string;
  junk?: string;
  distractors?: string;
  seed?: string;
  json?: boolean;
}

export function retrievalCommand(a: RetrievalArgs, io: Io): number {
  const options = {
    queries: integerArg("queries", a.queries, 1, 1000) ?? RETRIEVAL_DEFAULTS.queries,
    easy: integerArg("easy", a.easy, 0, 20) ?? RETRIEVAL_DEFAULTS.easy,
    hard: integerArg("hard", a.hard, 0, 20) ?? RETRIEVAL_DEFAULTS.hard,
    junk: integerArg("junk", a.junk, 0, 20) ?? RETRIEVAL_DEFAULTS.junk,
    distractors: integerArg("distractors", a.distractors, 0, 1999) ?? RETRIEVAL_DEFAULTS.distractors,
    seed: integerArg("seed", a.seed, 0, 2 ** 40) ?? RETRIEVAL_DEFAULTS.seed,
  };
  const be = selectedBackend();
  const nets = trainedAndInit(be, "retrieval", a, io);
  const set = makeRetrievalSet(options);
  const D = nets.cfg.embedDim;
  const features = (net: typeof nets.trained, ds: ImageDataset, what: string) => {
    const f = extractFeatures(be, net, nets.cfg, ds);
    checkFinite(f, () => `the ${what} features of ${nets.path}`);
    return f;
  };
  const score = (net: typeof nets.trained, what: string) => retrievalScores(be, features(net, set.queries, what), features(net, set.database, what), D, set.relevance);
  const trained = score(nets.trained, nets.side);
  const init = score(nets.init, "initialisation");
  const qp = pixelFeatures(set.queries);
  const raw = retrievalScores(be, qp.features, pixelFeatures(set.database).features, qp.dim, set.relevance);

  const row = (m: RevisitedMaps) => ({ map: jsonNumber(m.medium.map), map_hard: jsonNumber(m.hard.map), mp_at_1: jsonNumber(m.medium.mpk[0]), mp_at_10: jsonNumber(m.medium.mpk[2]) });
  if (a.json) {
    io.out(JSON.stringify({ ...row(trained), init: row(init), raw_pixels: row(raw), queries: set.queries.length, database: set.database.length, weights: nets.path, network: nets.side, seed: options.seed }));
    return 0;
  }
  io.out(`image retrieval (revisited Oxford/Paris protocol) on ${set.queries.length} queries and ${set.database.length} database images (${options.easy} easy, ${options.hard} hard, ${options.junk} junk renderings per query, ${options.distractors} distractors; seed ${options.seed}); CLS features of the ${nets.side} of ${nets.path}:`);
  const pct = (x: number) => (Number.isFinite(x) ? (100 * x).toFixed(2).padStart(6) : "   n/a");
  io.out("                                 mAP Medium  mAP Hard  mP@1 (M)  mP@10 (M)");
  for (const [label, m] of [[`trained ${nets.side}`, trained], [`same net at init (seed ${nets.seed})`, init], ["raw pixels", raw]] as const) {
    io.out(`  ${label.padEnd(30)} ${pct(m.medium.map)}     ${pct(m.hard.map)}    ${pct(m.medium.mpk[0])}    ${pct(m.medium.mpk[2])}`);
  }
  return 0;
}
