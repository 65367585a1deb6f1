// `dino-ref videoseg --weights FILE`: video object segmentation by label propagation as
// eval_video_segmentation.py runs it on DAVIS 2017 (patch features of the last block, the first
// frame's mask and the n_last_frames previous predictions as context, top-k affinities in a
// spatial neighbourhood), scored with the DAVIS J and F measures, on generated clips of moving
// digits (src/data/movingDigits.ts); for the network, the same network at initialisation, raw
// pixel patches, the first mask copied to every frame, and the ceiling of patch-level labels.

import { selectedBackend } from "../kernels/backend.js";
import { MOVING_DIGITS_DEFAULTS, movingDigitsClip, type MovingDigitsConfig, type VideoClip } from "../data/movingDigits.js";
import { writePng } from "../data/png.js";
import { DAVIS_PROPAGATION } from "../eval/labelPropagation.js";
import { clipJf, jfMean, type JfScores } from "../eval/jfMeasures.js";
import { framePatchFeatures, framePixelFeatures, labelsFromSeg, patchLabels, propagateClip, type VideoSegmentationOptions } from "../eval/videoSegmentation.js";
import { videoStrip } from "../eval/videoFigure.js";
import type { ParamStore } from "../model/params.js";
import { DinoRefError } from "../tensor/errors.js";
import { integerArg } from "./args.js";
import type { Io } from "./io.js";
import { trainedAndInit, type WeightsArgs } from "./weights.js";
import { jsonNumber } from "./report.js";
import { prepareOutputFile } from "../io/outputPath.js";

export interface VideosegArgs extends WeightsArgs {
  clips?: string;
  frames?: string;
  size?: string;
  objects?: string;
  "n-last-frames"?: string;
  topk?: string;
  neighborhood?: string;
  seed?: string;
  figure?: string;
  json?: boolean;
}

interface Method {
  readonly label: string;
  readonly key: string;
  /** Predicted label maps per clip and frame. */
  readonly predict: (clip: VideoClip) => Uint8Array[];
  readonly scores: JfScores[];
  /** The predictions of the first clip (for the figure). */
  shown: Uint8Array[];
}

export function videosegCommand(a: VideosegArgs, io: Io): number {
  const cfg: MovingDigitsConfig = {
    ...MOVING_DIGITS_DEFAULTS,
    size: integerArg("size", a.size, 8, 512) ?? MOVING_DIGITS_DEFAULTS.size, // without --size: set below to fit the patch grid
    frames: integerArg("frames", a.frames, 3, 500) ?? MOVING_DIGITS_DEFAULTS.frames,
    objects: integerArg("objects", a.objects, 1, 9) ?? MOVING_DIGITS_DEFAULTS.objects,
  };
  const clips = integerArg("clips", a.clips, 1, 1000) ?? 20;
  const seed = integerArg("seed", a.seed, 0, 2 ** 40) ?? 0;
  const opts: VideoSegmentationOptions = {
    nLastFrames: integerArg("n-last-frames", a["n-last-frames"], 0, 100) ?? DAVIS_PROPAGATION.nLastFrames,
    topk: integerArg("topk", a.topk, 1, 10_000) ?? DAVIS_PROPAGATION.topk,
    neighborhood: integerArg("neighborhood", a.neighborhood, 0, 1000) ?? DAVIS_PROPAGATION.neighborhood,
    temperature: DAVIS_PROPAGATION.temperature,
  };
  const digitSide = Math.round(28 * cfg.digitScale[1]);
  if (cfg.size < digitSide) throw new DinoRefError(`--size ${cfg.size}: frames must hold the ${digitSide}-px digits`);
  if (a.figure !== undefined) prepareOutputFile(a.figure, "--figure");
  const be = selectedBackend();
  const nets = trainedAndInit(be, "videoseg", a, io);
  const p = nets.cfg.patchSize;
  // no --size: the multiple of the patch size nearest the default (48 px; 49 for patch 7) that holds the digits
  if (a.size === undefined) cfg.size = p * Math.max(Math.round(MOVING_DIGITS_DEFAULTS.size / p), Math.ceil(digitSide / p));
  if (cfg.size % p !== 0) throw new DinoRefError(`--size ${cfg.size}: frames must be a multiple of the patch size ${p} of ${nets.path}`);
  const [S, C] = [cfg.size, cfg.objects + 1];
  const [h, w] = [S / p, S / p];

  const propagate = (feats: (clip: VideoClip) => Float32Array[]) => (clip: VideoClip) => propagateClip(be, feats(clip), clip.labels[0], S, S, p, C, opts).labels;
  const network = (net: ParamStore) => (clip: VideoClip) => framePatchFeatures(be, net, nets.cfg, clip.frames);
  const method = (label: string, key: string, predict: (clip: VideoClip) => Uint8Array[]): Method => ({ label, key, predict, scores: [], shown: [] });
  const methods: Method[] = [
    method(`trained ${nets.side}`, "trained", propagate(network(nets.trained))),
    method(`same net at init (seed ${nets.seed})`, "init", propagate(network(nets.init))),
    method("raw pixel patches", "raw_pixels", propagate((clip) => framePixelFeatures(clip.frames, p))),
    method("first mask copied", "first_mask", (clip) => clip.labels.map(() => clip.labels[0])),
    method(`ceiling: true labels on the ${p}-px grid`, "patch_ceiling", (clip) => clip.labels.map((l) => labelsFromSeg(patchLabels(l, S, S, p, C), C, h, w, p))),
  ];
  // DAVIS scores every frame but the first and the last
  const scored = Array.from({ length: cfg.frames - 2 }, (_, i) => i + 1);
  let first: VideoClip | null = null;
  for (let c = 0; c < clips; c++) {
    const clip = movingDigitsClip(c, seed, cfg);
    first ??= clip;
    for (const m of methods) {
      const predicted = m.predict(clip);
      m.scores.push(clipJf(predicted, clip.labels, cfg.objects, S, S, scored));
      if (c === 0) m.shown = predicted;
    }
  }
  const results = methods.map((m) => ({ m, ...jfMean(m.scores) }));

  if (a.figure !== undefined && first !== null) {
    const shownRows = [first.labels, results[0].m.shown, results[1].m.shown];
    writePng(a.figure, videoStrip(first.frames, shownRows, Math.max(1, Math.ceil(64 / S)), Math.max(1, Math.ceil(cfg.frames / 12))));
  }
  if (a.json) {
    const row = (r: (typeof results)[number]) => ({ jf_mean: jsonNumber(r.jf), j_mean: jsonNumber(r.j), f_mean: jsonNumber(r.f) });
    const extra = Object.fromEntries(results.slice(1).map((r) => [r.m.key, row(r)]));
    io.out(JSON.stringify({ ...row(results[0]), ...extra, clips, frames: cfg.frames, objects: cfg.objects, size: S, weights: nets.path, network: nets.side, seed }));
    return 0;
  }
  io.out(`video object segmentation by label propagation (DAVIS protocol: n_last_frames ${opts.nLastFrames}, top ${opts.topk}, neighbourhood ${opts.neighborhood}, T ${opts.temperature}) on ${clips} clips of ${cfg.frames} ${S}×${S} frames with ${cfg.objects} moving digits (seed ${seed}); patch features of the ${nets.side} of ${nets.path}; J and F over frames 2..${cfg.frames - 1}:`);
  io.out(`                                         (J&F)m   J mean   F mean`);
  for (const r of results) io.out(`  ${r.m.label.padEnd(38)} ${(100 * r.jf).toFixed(2).padStart(6)}   ${(100 * r.j).toFixed(2).padStart(6)}   ${(100 * r.f).toFixed(2).padStart(6)}`);
  if (a.figure !== undefined) io.out(`figure: ${a.figure} (clip 0: the frames, the true masks, the trained net's propagated masks, the net at init's)`);
  return 0;
}

