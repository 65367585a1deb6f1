// The smallest network the training tests use: a 2-block ViT of width 16 with a tiny DINO head
// and 2 local crops, so that a whole run takes a fraction of a second.
import type { TrainConfig } from "../src/train/config.js";

export const TINY_NETWORK = {
  embedDim: 16,
  depth: 2,
  numHeads: 2,
  mlpRatio: 2,
  outDim: 32,
  hiddenDim: 24,
  bottleneckDim: 8,
  localCrops: 2,
} satisfies Partial<TrainConfig>;
