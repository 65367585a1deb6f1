// Fine-tuning (the paper's transfer experiments, Table 6): the backbone and a linear head on its
// CLS token trained together with labels, from self-supervised weights or from initialisation.
//   logits = W·cls + b,  W [C, D] ~ trunc_normal(0.02), b = 0     (a timm/DeiT classification head)
//   L = cross-entropy(logits, y), mean over the batch
//   ∂L/∂cls = ∂L/∂logits · W, back through the whole ViT (vitBackward)
//   AdamW (β 0.9/0.999), lr cosine from `lr` to 1e−6 over the run, weight decay on weights only
// Batches come in a seeded order (Rng(seed, STREAM.finetune, epoch)); no augmentation and no
// drop path (the official DeiT recipe adds both, and ~100 epochs: this is the short CPU version).
// Accuracy on the held-out images after the last epoch.

import type { Backend } from "../kernels/backend.js";
import { ParamStore } from "../model/params.js";
import type { VitConfig } from "../model/vitConfig.js";
import { vitParamSpecs } from "../model/vitParams.js";
import { vitForward, vitBackward } from "../model/vit.js";
import { initRng, truncNormalFill } from "../model/init.js";
import { adamwStep, type AdamWState } from "../dino/adamw.js";
import { cosineSchedule } from "../dino/schedules.js";
import type { ImageDataset } from "../data/dataset.js";
import { normalizeTables } from "../data/augment.js";
import { check, DinoRefError } from "../tensor/errors.js";
import { Rng, STREAM } from "../tensor/rng.js";
import { crossEntropy } from "./linearProbe.js";
import { IMAGENET_NORMALIZATION, forEachBatch, normalizedBatch } from "./features.js";

export interface FinetuneOptions {
  readonly epochs: number;
  readonly batchSize: number;
  /** Peak AdamW learning rate (for this batch size; no scaling). */
  readonly lr: number;
  readonly weightDecay: number;
  readonly seed: number;
}

export const DEFAULT_FINETUNE: FinetuneOptions = Object.freeze({ epochs: 2, batchSize: 64, lr: 1e-3, weightDecay: 0.05, seed: 0 });

export interface FinetuneResult {
  /** Percent of held-out images classified right after the last epoch. */
  readonly top1: number;
  /** Mean training loss of each epoch. */
  readonly losses: number[];
}

/** The images [start, start + B) of `order` in `ds` as a normalised batch [B, 3, H, W] (a new tensor of `be`), and their labels. */
function batchOf(be: Backend, ds: ImageDataset, order: ArrayLike<number>, start: number, B: number, tables: Float32Array[]) {
  const images = normalizedBatch(be, ds, start, B, tables, order);
  const labels = Int32Array.from({ length: B }, (_, b) => ds.label(order[start + b]));
  return { images, labels, H: images.shape[2], W: images.shape[3] };
}

/** logits [B, C] = cls [B, D] · Wᵀ + b. */
function headForward(cls: ArrayLike<number>, W: ArrayLike<number>, bias: ArrayLike<number>, B: number, D: number, C: number): Float64Array {
  const logits = new Float64Array(B * C);
  for (let r = 0; r < B; r++) for (let c = 0; c < C; c++) {
    let s = bias[c];
    for (let d = 0; d < D; d++) s += W[c * D + d] * cls[r * D + d];
    logits[r * C + c] = s;
  }
  return logits;
}

/**
 * The classification head's loss and gradients for one batch: L = mean cross-entropy of
 * logits = cls·Wᵀ + b; adds ∂L/∂W [C, D] into gW and ∂L/∂b [C] into gb, returns L and ∂L/∂cls [B, D].
 */
export function headLossAndGrads(
  cls: ArrayLike<number>, W: ArrayLike<number>, bias: ArrayLike<number>, labels: ArrayLike<number>, B: number, D: number, C: number, gW: { [i: number]: number }, gb: { [i: number]: number },
): { loss: number; gradCls: Float64Array } {
  const { loss, grad } = crossEntropy(headForward(cls, W, bias, B, D, C), labels, B, C);
  const gradCls = new Float64Array(B * D);
  for (let r = 0; r < B; r++) for (let c = 0; c < C; c++) {
    const g = grad[r * C + c];
    // ∂L/∂b = Σ_r ∂L/∂logits
    gb[c] += g;
    for (let d = 0; d < D; d++) {
      // ∂L/∂W = ∂L/∂logitsᵀ·cls;  ∂L/∂cls = ∂L/∂logits·W
      gW[c * D + d] += g * cls[r * D + d];
      gradCls[r * D + d] += g * W[c * D + d];
    }
  }
  return { loss, gradCls };
}

/**
 * Fine-tunes a copy of `start` (backbone parameters, untouched) with a fresh linear head on
 * `train` and reports the top-1 accuracy on `test`. `onEpoch` hears each epoch's mean loss.
 */
export function finetune(
  be: Backend, start: ParamStore, cfg: VitConfig, train: ImageDataset, test: ImageDataset, numClasses: number, opts: FinetuneOptions = DEFAULT_FINETUNE, onEpoch?: (epoch: number, loss: number) => void,
): FinetuneResult {
  const { epochs, batchSize, lr, weightDecay, seed } = opts;
  check(Number.isInteger(epochs) && epochs >= 1 && Number.isInteger(batchSize) && batchSize >= 1, () => `finetune: ${epochs} epochs of batch ${batchSize}; expected positive integers`);
  check(train.length > 0 && test.length > 0, "finetune: empty training or test set");
  const D = cfg.embedDim;
  const C = numClasses;
  // the network being trained: a copy of the start weights, with gradients
  const net = ParamStore.create(be, vitParamSpecs(cfg));
  net.flat.data.set(start.flat.data);
  const head = ParamStore.create(be, [{ name: "head.weight", shape: [C, D] }, { name: "head.bias", shape: [C] }]);
  // W ~ trunc_normal(std 0.02), b = 0
  truncNormalFill(head.param("head.weight").data, initRng(seed, "finetune.head.weight"), 0.02);
  const tables = normalizeTables(IMAGENET_NORMALIZATION.mean, IMAGENET_NORMALIZATION.std);
  const steps = Math.ceil(train.length / batchSize);
  const lrs = cosineSchedule(lr, 1e-6, epochs, steps);
  const state: AdamWState = new Map();
  const losses: number[] = [];
  for (let epoch = 0; epoch < epochs; epoch++) {
    const order = new Rng(seed, STREAM.finetune, epoch).permutation(train.length);
    let lossSum = 0;
    for (let s = 0; s < steps; s++) {
      const first = s * batchSize;
      const B = Math.min(batchSize, train.length - first);
      const mark = be.mark();
      const { images, labels, H, W } = batchOf(be, train, order, first, B, tables);
      net.zeroGrads();
      head.zeroGrads();
      const { cls, cache } = vitForward(be, net, cfg, images, B, H, W, { cache: true });
      const { loss, gradCls } = headLossAndGrads(cls.data, head.param("head.weight").data, head.param("head.bias").data, labels, B, D, C, head.grad("head.weight").data, head.grad("head.bias").data);
      if (!Number.isFinite(loss)) throw new DinoRefError(`fine-tuning: the loss is ${loss} at epoch ${epoch}, step ${s}; try a smaller --lr`);
      lossSum += loss * B;
      const g = be.alloc([B, D]);
      g.data.set(gradCls);
      vitBackward(be, net, cfg, cache!, g);
      const it = epoch * steps + s;
      adamwStep(be, [...net.params, ...head.params], [...net.grads, ...head.grads], state, { lr: lrs[it], weightDecay });
      be.release(mark);
    }
    losses.push(lossSum / train.length);
    onEpoch?.(epoch, lossSum / train.length);
  }
  return { top1: headAccuracy(be, net, head, cfg, test, C, batchSize), losses };
}

function headAccuracy(be: Backend, net: ParamStore, head: ParamStore, cfg: VitConfig, test: ImageDataset, C: number, batchSize: number): number {
  const D = cfg.embedDim;
  let correct = 0;
  forEachBatch(be, test, batchSize, (images, start, B, H, W) => {
    const { cls } = vitForward(be, net, cfg, images, B, H, W, { cache: false });
    const logits = headForward(cls.data, head.param("head.weight").data as Float32Array, head.param("head.bias").data as Float32Array, B, D, C);
    for (let r = 0; r < B; r++) {
      let best = 0;
      for (let c = 1; c < C; c++) if (logits[r * C + c] > logits[r * C + best]) best = c;
      if (best === test.label(start + r)) correct++;
    }
  });
  return (100 * correct) / test.length;
}
