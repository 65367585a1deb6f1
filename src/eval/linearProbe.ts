// Linear probe (official eval_linear.py): the backbone is frozen, its features are the CLS tokens
// of the last n blocks (each through the final norm), or, with avgpool, the last block's CLS and
// the mean of its patch tokens INTERLEAVED per dimension [cls_0, avg_0, cls_1, avg_1, ...] as the
// official torch.stack(..., dim=-1) leaves them; a linear layer W [C, dim] + b is trained with SGD (momentum 0.9, no weight decay), a cosine
// learning rate per epoch, cross-entropy; top-1 / top-5 on the held-out images, best epoch kept.
// Difference from the official script: features are computed once, without training-time
// augmentation (RandomResizedCrop + flip), which keeps a CPU probe to seconds; the README says so.

import type { Backend } from "../kernels/backend.js";
import type { ParamScope } from "../model/params.js";
import type { VitConfig } from "../model/vitConfig.js";
import { vitIntermediateLayers } from "../model/vit.js";
import { inferenceBatch, tokensOf } from "../model/memory.js";
import type { ImageDataset } from "../data/dataset.js";
import { forEachBatch } from "./features.js";
import { Rng, STREAM } from "../tensor/rng.js";
import { check } from "../tensor/errors.js";

export interface ProbeFeatureOptions {
  /** CLS tokens of the last n blocks (official default 4). */
  nLastBlocks: number;
  /** Add the mean of the last block's patch tokens (only with nLastBlocks = 1, as the official code). */
  avgpool: boolean;
}

/** Probe features [N, dim] of every image, dim = D·(n + avgpool). */
export function probeFeatures(be: Backend, backbone: ParamScope, cfg: VitConfig, ds: ImageDataset, opts: ProbeFeatureOptions, batchSize = 128): { features: Float32Array; dim: number } {
  const { nLastBlocks: n, avgpool } = opts;
  check(!avgpool || n === 1, () => `linear probe: avgpool works with nLastBlocks = 1 only (the official features interleave one CLS and one average), got ${n}`);
  const D = cfg.embedDim;
  const dim = D * (n + (avgpool ? 1 : 0));
  const features = new Float32Array(ds.length * dim);
  if (ds.length > 0) {
    // fewer images per batch when a batch would not fit --max-memory (the same features); the n kept layers [N, D] per image
    const { width, height } = ds.image(0);
    batchSize = inferenceBatch(cfg, height, width, batchSize, "probe features", 4 * n * tokensOf(cfg, height, width) * D);
  }
  forEachBatch(be, ds, batchSize, (images, start, B, H, W) => {
    const layers = vitIntermediateLayers(be, backbone, cfg, images, B, H, W, n); // n × [B, N, D]
    const N = layers[0].shape[1];
    for (let b = 0; b < B; b++) {
      const row = (start + b) * dim;
      if (avgpool) {
        const x = layers[0].data;
        for (let d = 0; d < D; d++) {
          // [cls_d, avg_d] interleaved: the official stack(..., dim=-1) then flatten
          let s = 0;
          for (let t = 1; t < N; t++) s += x[(b * N + t) * D + d];
          features[row + 2 * d] = x[b * N * D + d];
          features[row + 2 * d + 1] = s / (N - 1);
        }
      } else {
        // concatenation of the CLS tokens, oldest block first
        layers.forEach((l, i) => features.set(l.data.subarray(b * N * D, b * N * D + D), row + i * D));
      }
    }
  });
  return { features, dim };
}

export interface ProbeOptions {
  epochs: number;
  /** Base learning rate for batch 256 (scaled by batchSize / 256 as the official script). */
  lr: number;
  batchSize: number;
  momentum: number;
  seed: number;
}

export const DEFAULT_PROBE: ProbeOptions = { epochs: 100, lr: 0.001, batchSize: 128, momentum: 0.9, seed: 0 };

export interface ProbeResult {
  top1: number;
  top5: number;
  bestEpoch: number;
}

/** Cross-entropy mean over rows of logits [R, C] and its gradient (softmax − onehot)/R, in float64. */
export function crossEntropy(logits: ArrayLike<number>, labels: ArrayLike<number>, R: number, C: number): { loss: number; grad: Float64Array } {
  const grad = new Float64Array(R * C);
  let loss = 0;
  for (let r = 0; r < R; r++) {
    let max = -Infinity;
    for (let c = 0; c < C; c++) max = Math.max(max, logits[r * C + c]);
    let sum = 0;
    for (let c = 0; c < C; c++) sum += Math.exp(logits[r * C + c] - max);
    // −log softmax(z)_y = log Σ exp(z − max) − (z_y − max)
    loss += Math.log(sum) - (logits[r * C + labels[r]] - max);
    for (let c = 0; c < C; c++) grad[r * C + c] = (Math.exp(logits[r * C + c] - max) / sum - (c === labels[r] ? 1 : 0)) / R;
  }
  return { loss: loss / R, grad };
}

/** Trains the linear layer on (trainF, trainY) and reports the best top-1 (and its top-5) on the test set. */
export function trainLinearProbe(trainF: Float32Array, trainY: ArrayLike<number>, testF: Float32Array, testY: ArrayLike<number>, dim: number, C: number, opts: ProbeOptions = DEFAULT_PROBE): ProbeResult {
  const Ntr = trainY.length;
  check(trainF.length === Ntr * dim && testF.length === testY.length * dim, () => `linear probe: features do not match ${dim} dimensions per image`);
  const rng = new Rng(opts.seed, STREAM.probe);
  // W ~ N(0, 0.01²), b = 0 (the official LinearClassifier)
  const W = Float64Array.from({ length: C * dim }, () => 0.01 * rng.normal());
  const b = new Float64Array(C);
  const vW = new Float64Array(C * dim);
  const vb = new Float64Array(C);
  const baseLr = (opts.lr * opts.batchSize) / 256;
  let best: ProbeResult = { top1: -1, top5: 0, bestEpoch: -1 };
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    // CosineAnnealingLR(T_max = epochs, eta_min = 0), stepped per epoch
    const lr = 0.5 * baseLr * (1 + Math.cos((Math.PI * epoch) / opts.epochs));
    const order = new Rng(opts.seed, STREAM.shuffle, epoch).permutation(Ntr);
    for (let start = 0; start < Ntr; start += opts.batchSize) {
      const idx = order.subarray(start, Math.min(start + opts.batchSize, Ntr));
      const R = idx.length;
      const logits = new Float64Array(R * C);
      for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) {
        // z = W·x + b
        let s = b[c];
        for (let d = 0; d < dim; d++) s += W[c * dim + d] * trainF[idx[r] * dim + d];
        logits[r * C + c] = s;
      }
      const { grad } = crossEntropy(logits, Array.from(idx, (i) => trainY[i]), R, C);
      for (let c = 0; c < C; c++) {
        let gb = 0;
        for (let r = 0; r < R; r++) gb += grad[r * C + c];
        // SGD with momentum (PyTorch form): v ← μ·v + g; p ← p − lr·v
        vb[c] = opts.momentum * vb[c] + gb;
        b[c] -= lr * vb[c];
        for (let d = 0; d < dim; d++) {
          let g = 0;
          for (let r = 0; r < R; r++) g += grad[r * C + c] * trainF[idx[r] * dim + d];
          vW[c * dim + d] = opts.momentum * vW[c * dim + d] + g;
          W[c * dim + d] -= lr * vW[c * dim + d];
        }
      }
    }
    const r = evaluate(W, b, testF, testY, dim, C);
    if (r.top1 > best.top1) best = { ...r, bestEpoch: epoch };
  }
  return best;
}

function evaluate(W: Float64Array, b: Float64Array, F: Float32Array, Y: ArrayLike<number>, dim: number, C: number): { top1: number; top5: number } {
  let c1 = 0;
  let c5 = 0;
  const scores = new Float64Array(C);
  for (let i = 0; i < Y.length; i++) {
    for (let c = 0; c < C; c++) {
      let s = b[c];
      for (let d = 0; d < dim; d++) s += W[c * dim + d] * F[i * dim + d];
      scores[c] = s;
    }
    const ranked = Array.from(scores.keys()).sort((p, q) => scores[q] - scores[p] || p - q);
    if (ranked[0] === Y[i]) c1++;
    if (ranked.slice(0, Math.min(5, C)).includes(Y[i])) c5++;
  }
  return { top1: (100 * c1) / Y.length, top5: (100 * c5) / Y.length };
}
