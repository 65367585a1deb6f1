// `dino-ref finetune --weights FILE`: fine-tuning (the paper's transfer by fine-tuning): the
// backbone and a linear head trained with labels on the bundled digits (or a dino-ref run's own
// data), beside the linear probe on the same features (the CLS token the head reads) and the same
// network fine-tuned from initialisation with the same recipe: does the self-supervised start help?

import { selectedBackend } from "../kernels/backend.js";
import { classInterleaved, labelsOf, subset, type ImageDataset } from "../data/dataset.js";
import { classBalancedSubset, labelCount } from "../data/labelSubset.js";
import { loadMnist } from "../data/mnist.js";
import { evaluationSplits } from "../data/splits.js";
import { DEFAULT_FINETUNE, finetune, type FinetuneOptions } from "../eval/finetune.js";
import { DEFAULT_PROBE, probeFeatures, trainLinearProbe } from "../eval/linearProbe.js";
import { DinoRefError } from "../tensor/errors.js";
import { integerArg, numberArg } from "./args.js";
import type { Io } from "./io.js";
import { trainedAndInit, type WeightsArgs } from "./weights.js";
import { jsonNumber } from "./report.js";

/**
 * The probe's base lr here: the features the head reads (the last CLS after LayerNorm) are O(1),
 * and the official 0.001 under-fits them in 100 epochs (mnist-tiny seed 0: 24.65% at 0.001,
 * 30.20% at 0.01, 37.80% at 0.1, 47.65% at 1), so the comparison uses 1 (`--probe-lr`).
 */
export const FINETUNE_PROBE_LR = 1;

export interface FinetuneArgs extends WeightsArgs {
  epochs?: string;
  lr?: string;
  "batch-size"?: string;
  "weight-decay"?: string;
  labels?: string;
  "train-count"?: string;
  "test-count"?: string;
  "probe-epochs"?: string;
  "probe-lr"?: string;
  seed?: string;
  json?: boolean;
}

export function finetuneCommand(a: FinetuneArgs, io: Io): number {
  const opts: FinetuneOptions = {
    epochs: integerArg("epochs", a.epochs, 1, 1000) ?? DEFAULT_FINETUNE.epochs,
    lr: numberArg("lr", a.lr, (x) => x > 0 && x < 1, "a learning rate in (0, 1)") ?? DEFAULT_FINETUNE.lr,
    batchSize: integerArg("batch-size", a["batch-size"], 1, 4096) ?? DEFAULT_FINETUNE.batchSize,
    weightDecay: numberArg("weight-decay", a["weight-decay"], (x) => x >= 0 && x < 1, "a weight decay in [0, 1)") ?? DEFAULT_FINETUNE.weightDecay,
    seed: integerArg("seed", a.seed, 0, 2 ** 40) ?? DEFAULT_FINETUNE.seed,
  };
  const probeEpochs = integerArg("probe-epochs", a["probe-epochs"], 1, 100_000) ?? DEFAULT_PROBE.epochs;
  const probeLr = numberArg("probe-lr", a["probe-lr"], (x) => x > 0 && x <= 10, "a learning rate in (0, 10]") ?? FINETUNE_PROBE_LR;
  const be = selectedBackend();
  const nets = trainedAndInit(be, "finetune", a, io);
  // a dino-ref run's own evaluation splits; the bundled digits for any other weights
  let { train, test }: { train: ImageDataset; test: ImageDataset } = nets.config !== null ? evaluationSplits(nets.config) : loadMnist();
  const dataName = nets.config !== null ? `the run's ${nets.config.dataset} splits` : "the bundled digits";
  const C = train.classes.length;
  if (a.labels !== undefined && a["train-count"] !== undefined) throw new DinoRefError("finetune: give --labels or --train-count, not both");
  if (a.labels !== undefined) {
    const n = labelCount(a.labels, train.length, C);
    train = subset(train, classBalancedSubset(labelsOf(train), C, n, opts.seed), `${n} labelled training images`);
  } else if (a["train-count"] !== undefined) {
    train = subset(train, classInterleaved(train, integerArg("train-count", a["train-count"], 1, train.length)), "training subset");
  }
  if (a["test-count"] !== undefined) test = subset(test, classInterleaved(test, integerArg("test-count", a["test-count"], 1, test.length)), "held-out subset");

  const progress = (who: string) => (epoch: number, loss: number) => io.err(`${who}: epoch ${epoch + 1}/${opts.epochs}, mean loss ${loss.toFixed(4)}`);
  const tuned = finetune(be, nets.trained, nets.cfg, train, test, C, opts, progress(`fine-tuning the ${nets.side}`));
  const fromInit = finetune(be, nets.init, nets.cfg, train, test, C, opts, progress("fine-tuning the net at init"));
  const features = { nLastBlocks: 1, avgpool: false };
  const tr = probeFeatures(be, nets.trained, nets.cfg, train, features);
  const te = probeFeatures(be, nets.trained, nets.cfg, test, features);
  const probe = trainLinearProbe(tr.features, labelsOf(train), te.features, labelsOf(test), tr.dim, C, { ...DEFAULT_PROBE, epochs: probeEpochs, lr: probeLr });

  if (a.json) {
    io.out(JSON.stringify({ top1: jsonNumber(tuned.top1), linear_probe: { top1: jsonNumber(probe.top1), lr: probeLr }, init: { top1: jsonNumber(fromInit.top1) }, epochs: opts.epochs, train: train.length, test: test.length, weights: nets.path, network: nets.side, seed: opts.seed }));
    return 0;
  }
  io.out(`fine-tuning on ${dataName}: ${train.length} labelled training images, ${test.length} held out; ${opts.epochs} epoch(s), AdamW lr ${opts.lr} (cosine), weight decay ${opts.weightDecay}, batch ${opts.batchSize}, no augmentation; top-1 on the held-out images:`);
  io.out(`  ${`${nets.side} of ${nets.path}, fine-tuned`.padEnd(56)} ${tuned.top1.toFixed(2)}%`);
  io.out(`  ${`${nets.side}, linear probe on its CLS (lr ${probeLr}, ${probeEpochs} epochs, best)`.padEnd(56)} ${probe.top1.toFixed(2)}%`);
  io.out(`  ${`same net at init (seed ${nets.seed}), fine-tuned`.padEnd(56)} ${fromInit.top1.toFixed(2)}%`);
  return 0;
}
