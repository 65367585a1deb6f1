// A training run's configuration: the official main_dino.py arguments that matter at toy scale,
// named as in the paper and the code, plus presets named by purpose. `configWarnings` names the
// classic mistakes before a run starts.

import { DinoRefError } from "../tensor/errors.js";
import type { DatasetName } from "../data/splits.js";
import type { AugmentationName } from "../data/multiCrop.js";
import type { KnnFeatures } from "../eval/knnFeatures.js";

export interface TrainConfig {
  /**
   * Dataset: the bundled MNIST digits, the digits on cluttered textured backgrounds with
   * ground-truth masks (the harder variant, for segmentation; rendered with `seed`), or a folder
   * of PNGs (one subfolder per class).
   */
  dataset: DatasetName;
  /** The image folder when dataset is "folder" (split per class 80/20 into train and held-out test). */
  dataPath: string;
  /** With a folder: skip unreadable images with a warning instead of stopping. */
  skipBad: boolean;
  /** Train on the first this many training images only (0: all); for quick runs and tests. */
  trainLimit: number;
  /** ViT backbone. */
  patchSize: number;
  embedDim: number;
  depth: number;
  numHeads: number;
  mlpRatio: number;
  dropPathRate: number;
  /** DINO head. */
  outDim: number;
  hiddenDim: number;
  bottleneckDim: number;
  headLayers: number;
  normLastLayer: boolean;
  /** Multi-crop: 2 global crops and `localCrops` local ones (sizes in pixels). */
  globalSize: number;
  localSize: number;
  localCrops: number;
  globalScale: [number, number];
  localScale: [number, number];
  /**
   * The augmentation of every crop: "official" is DataAugmentationDINO (flip, colour jitter,
   * grayscale, blur, solarisation); "digits" leaves out what changes a digit's identity or erases
   * it at 28 px (src/data/multiCrop.ts AUGMENTATIONS says exactly what).
   */
  augmentation: AugmentationName;
  /** Optimisation (lr is for batch 256 and scaled by batchSize/256, as the official code). */
  batchSize: number;
  epochs: number;
  /**
   * Stop after this many iterations while the schedules still span `epochs` (0: run every epoch).
   * The official recipe's warm-ups and momentum ramp are long; a short run stopped early keeps the
   * teacher momentum near its base value and the lr in its warm-up, as a 100-epoch run does after
   * its first epochs. `--steps` lowers it further.
   */
  stopAfterSteps: number;
  lr: number;
  minLr: number;
  warmupEpochs: number;
  weightDecay: number;
  weightDecayEnd: number;
  clipGrad: number;
  freezeLastLayer: number;
  /** The DINO equations. */
  momentumTeacher: number;
  teacherTemp: number;
  warmupTeacherTemp: number;
  warmupTeacherTempEpochs: number;
  studentTemp: number;
  centerMomentum: number;
  /**
   * Centre the teacher outputs (Eq. 4). false is the ablation "sharpening only" of the collapse
   * study (paper Sec. 5.3): the centre stays zero and is never updated. Always true in the
   * official code.
   */
  centering: boolean;
  /**
   * k-NN evaluation. knnFeatures "cls" is the official eval_knn.py feature (the CLS output);
   * "cls+avgpool" adds the mean of the last block's patch tokens (eval_linear.py --avgpool_patchtokens).
   */
  knnFeatures: KnnFeatures;
  knnK: number;
  knnTemperature: number;
  /** Also measure the teacher's k-NN every this many epochs during training (0: only at the end); logged in metrics.jsonl. */
  knnEveryEpochs: number;
  seed: number;
}

/** Defaults shared by the presets (the official values where they apply at this scale). */
const BASE: TrainConfig = {
  dataset: "mnist",
  dataPath: "",
  skipBad: false,
  trainLimit: 0,
  patchSize: 4,
  embedDim: 64,
  depth: 4,
  numHeads: 4,
  mlpRatio: 4,
  dropPathRate: 0.1,
  outDim: 256,
  hiddenDim: 512,
  bottleneckDim: 64,
  headLayers: 3,
  normLastLayer: true,
  globalSize: 28,
  localSize: 12,
  localCrops: 4,
  globalScale: [0.4, 1],
  localScale: [0.05, 0.4],
  augmentation: "official",
  batchSize: 64,
  epochs: 2,
  stopAfterSteps: 0,
  lr: 0.0005,
  minLr: 1e-6,
  warmupEpochs: 0,
  weightDecay: 0.04,
  weightDecayEnd: 0.4,
  clipGrad: 3,
  freezeLastLayer: 1,
  momentumTeacher: 0.996,
  teacherTemp: 0.04,
  warmupTeacherTemp: 0.04,
  warmupTeacherTempEpochs: 0,
  studentTemp: 0.1,
  centerMomentum: 0.9,
  centering: true,
  knnFeatures: "cls",
  knnK: 20,
  knnTemperature: 0.07,
  knnEveryEpochs: 0,
  seed: 0,
};

/**
 * The recipe every preset shares (docs/training.md has the runs behind it): lr 1e-2 (for batch
 * 256) after a 2-epoch linear warm-up, teacher momentum 0.99 → 1, no drop path, over a 10-epoch
 * schedule stopped early (`stopAfterSteps`: 400 iterations here; the presets below change it).
 */
const RECIPE = {
  epochs: 10,
  stopAfterSteps: 400,
  warmupEpochs: 2,
  lr: 0.01,
  momentumTeacher: 0.99,
  freezeLastLayer: 2,
  dropPathRate: 0,
} satisfies Partial<TrainConfig>;

/**
 * The training levers the recipe study found (docs/training.md, "The recipe study"; every run is
 * a `dino-ref sweep` command there): batch 32 (more iterations per CPU second), the augmentation
 * without flips or solarisation ("digits"), K = 64 prototypes, teacher momentum 0.98 → 1. Each
 * lever was measured against the same net at init with the same features.
 */
const DIGITS_TRAINING = {
  batchSize: 32,
  augmentation: "digits",
  outDim: 64,
  momentumTeacher: 0.98,
} satisfies Partial<TrainConfig>;

/**
 * The digits recipe: those levers with patch 7 on 28 px (16 tokens instead of 49), 14-px local
 * crops at scale 0.25–0.6, and k-NN on the CLS output beside the mean patch token ("cls+avgpool",
 * as eval_linear.py --avgpool_patchtokens).
 */
const DIGITS_RECIPE = {
  ...DIGITS_TRAINING,
  patchSize: 7,
  localSize: 14,
  localScale: [0.25, 0.6],
  knnFeatures: "cls+avgpool",
} satisfies Partial<TrainConfig>;

/** Presets named by purpose; their measured numbers are in the README and docs/training.md. */
export const PRESETS: Record<string, TrainConfig> = {
  // The default (`npm start`, ≤ 5 min on 2 CPU cores): the digits recipe on a 10-epoch schedule
  // (250 iterations per epoch at batch 32) stopped after 1,000 iterations (4 epochs), two epochs
  // after its 2-epoch lr warm-up; the last layer stays frozen for those 4 epochs (freed after 2 epochs it
  // cost ~1 point in the study).
  "mnist-tiny": { ...BASE, ...RECIPE, ...DIGITS_RECIPE, stopAfterSteps: 1000, freezeLastLayer: 4 },
  // The patient user's run (≤ 30 min on 2 CPU cores): the digits recipe over a whole 16-epoch
  // schedule (4,000 iterations): the 2-epoch warm-up to lr 1e-2, then the cosine decay while the
  // teacher momentum climbs from 0.98 to 1; the last layer is freed after 4 epochs. The teacher's
  // k-NN is logged every 4 epochs.
  "mnist-long": { ...BASE, ...RECIPE, ...DIGITS_RECIPE, epochs: 16, stopAfterSteps: 0, freezeLastLayer: 4, knnEveryEpochs: 4 },
  // mnist-tiny's previous recipe, with the official augmentation (DataAugmentationDINO: flips,
  // colour jitter, blur, solarisation), patch 4, K = 256, momentum 0.99 and the official CLS k-NN:
  // 400 iterations at batch 64. Kept to compare against and for porters who train with the
  // official transforms.
  "mnist-official": { ...BASE, ...RECIPE },
  // Segmentation from attention on mnist-clutter (32-px canvases, digit + mask): the digits
  // recipe's training levers (batch 32, no flips or solarisation, K = 64, teacher momentum 0.98,
  // 1,000 iterations of a 10-epoch schedule, the last layer frozen throughout) at patch 4 (an 8×8
  // grid on the canvas), with the crops scaled to the canvas (globals 32 px = the whole canvas at
  // scale 1, locals 16 px = 4×4 patches at scale 0.1–0.5, so that a local crop often holds much of
  // the digit). Measured (docs/training.md, "clutter-small"): lr 1e-2 gave the best head 2.3× and
  // 2.1× its chance level on seeds 0 and 1, lr 5e-3 2.3× and 1.3×; k-NN stays near chance.
  "clutter-small": {
    ...BASE,
    dataset: "mnist-clutter",
    globalSize: 32,
    localSize: 16,
    localScale: [0.1, 0.5],
    ...RECIPE,
    ...DIGITS_TRAINING,
    stopAfterSteps: 1000,
    freezeLastLayer: 4,
  },
  // The collapse study (`dino-ref explain collapse`, ~2 min for its three runs on 2 CPU cores): a
  // smaller network (D 32, depth 2, batch 32, 2 local crops) with K = 1024 prototypes, the
  // mnist-official schedule stopped after 400 iterations. Two changes from mnist-official, both needed for
  // the three regimes of the paper's Fig. 7 at this horizon (docs/training.md, "The collapse
  // preset"): the last layer is never frozen (with fixed random prototypes the student cannot
  // match a collapsed teacher, so the KL of the ablations stalls at 0.1–0.3 instead of → 0), and
  // teacher temperature 0.02 (with 0.04 and a free last layer full DINO itself drifts to the
  // uniform output within 300 iterations; the paper's 0.02 is also a working setting, App. D).
  "collapse-tiny": {
    ...BASE,
    embedDim: 32,
    depth: 2,
    numHeads: 2,
    outDim: 1024,
    hiddenDim: 256,
    batchSize: 32,
    localCrops: 2,
    ...RECIPE,
    freezeLastLayer: 0,
    teacherTemp: 0.02,
    warmupTeacherTemp: 0.02,
  },
};

export const DEFAULT_PRESET = "mnist-tiny";

/** The preset `name`, or an error listing the known ones. */
export function preset(name: string): TrainConfig {
  const p = Object.hasOwn(PRESETS, name) ? PRESETS[name] : undefined;
  if (p === undefined) throw new DinoRefError(`unknown preset '${name}' (known: ${Object.keys(PRESETS).join(", ")})`);
  return { ...p, globalScale: [...p.globalScale], localScale: [...p.localScale] };
}

/** A full config: every field missing from `c` (e.g. one saved before the field existed) takes its default, in the defaults' key order. */
export function withDefaults(c: Partial<TrainConfig>): TrainConfig {
  return { ...BASE, ...c };
}

/** Warnings about settings known to make DINO collapse or not learn. */
export function configWarnings(c: TrainConfig): string[] {
  const w: string[] = [];
  if (c.teacherTemp > 0.07) w.push(`teacherTemp ${c.teacherTemp} is above 0.07: the paper's runs collapse to a uniform teacher around 0.08 (App. D)`);
  if (c.teacherTemp >= c.studentTemp) w.push(`teacherTemp ${c.teacherTemp} is not below studentTemp ${c.studentTemp}: without sharpening the teacher output becomes uniform`);
  if (!c.centering) w.push("centering off: the centre stays zero, and sharpening alone drives the teacher to the same one-hot output for every image (paper Sec. 5.3)");
  if (c.centerMomentum >= 0.999) w.push(`centerMomentum ${c.centerMomentum}: a centre this slow does not prevent collapse (0.999 collapses in the paper, App. D)`);
  if (c.momentumTeacher === 1) w.push("momentumTeacher 1: the teacher never learns");
  if (c.freezeLastLayer >= c.epochs) w.push(`freezeLastLayer ${c.freezeLastLayer} covers the whole run (${c.epochs} epochs): the last layer never trains`);
  return w;
}
