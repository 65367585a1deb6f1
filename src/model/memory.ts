// How many bytes the model's computations allocate, estimated from the sizes alone so that a
// command can refuse an image, a case or a training config that would not fit the --max-memory
// limit BEFORE it allocates (src/tensor/limits.ts). Upper estimates from the allocations of
// vit.ts, block.ts and dinoHead.ts (float32 activations, 4 bytes each); the N² attention weights
// [B, H, N, N] dominate for large images.

import { numel } from "../tensor/named.js";
import { checkMemory, limits } from "../tensor/limits.js";
import type { VitConfig } from "./vitConfig.js";
import { dinoParamSpecs, type DinoModelConfig } from "./dino.js";
import { resolveDinoHeadConfig, type DinoHeadConfig } from "./dinoHead.js";

const F32 = 4;

/** Tokens N of an H × W image: CLS + one per whole p × p patch. */
export function tokensOf(cfg: VitConfig, H: number, W: number): number {
  return 1 + Math.floor(H / cfg.patchSize) * Math.floor(W / cfg.patchSize);
}

/**
 * Bytes of the backbone's activations on B images of N tokens: with `cached` (training) every
 * block's activations and the backward's scratch, else one block at a time plus the attention
 * weights a caller keeps (get_last_selfattention).
 */
export function vitActivationBytes(cfg: VitConfig, B: number, N: number, cached: boolean): number {
  const D = cfg.embedDim;
  const Dm = Math.floor(D * cfg.mlpRatio);
  const R = B * N;
  const attention = B * cfg.numHeads * N * N; // attn [B, H, N, N]
  // a block's forward: ln1, q, k, v, merged, x1, ln2, out [R, D]; h, a [R, Dm]; the attention weights
  const block = attention + R * (8 * D + 2 * Dm);
  // tokens, pos_embed, patches, two ping-pong outputs, the qkv / attnOut / y scratch; the images
  const fixed = R * 10 * D + B * cfg.inChans * (N - 1) * cfg.patchSize ** 2;
  // the backward's scratch: gradients of [R, D] (7), [R, Dm] (2), the attention's score rows
  const backward = R * (10 * D + 2 * Dm) + attention;
  return F32 * (cached ? cfg.depth * block + fixed + backward : 2 * block + fixed);
}

/** Bytes of the DINO head's activations and gradients on R rows. */
export function headActivationBytes(head: DinoHeadConfig, R: number): number {
  const c = resolveDinoHeadConfig(head);
  // per row: each hidden layer's pre- and post-GELU values and their gradients, the bottleneck and its norm, K outputs (logits, gradient, softmaxes)
  return F32 * R * (4 * (c.nlayers - 1) * c.hiddenDim + 4 * c.bottleneckDim + 4 * c.outDim);
}

/**
 * Bytes of one DINO training step on B images with crops of the given [height, width] (crops 0 and
 * 1 the global ones): the student's parameters, gradients and two AdamW moments and the teacher
 * (5 × the parameters), the student's cached forward on every crop resolution with its backward,
 * the teacher's forward on the 2 global crops, the head on every crop.
 */
export function trainStepBytes(model: DinoModelConfig, B: number, crops: readonly (readonly [number, number])[]): number {
  const P = dinoParamSpecs(model).reduce((n, s) => n + numel(s.shape), 0);
  // crops of one resolution share a backbone pass (dino.ts): count them per token count
  const perSize = new Map<number, number>();
  for (const [h, w] of crops) {
    const N = tokensOf(model.vit, h, w);
    perSize.set(N, (perSize.get(N) ?? 0) + 1);
  }
  let student = 0;
  for (const [N, count] of perSize) student += vitActivationBytes(model.vit, count * B, N, true);
  const teacher = vitActivationBytes(model.vit, 2 * B, tokensOf(model.vit, crops[0][0], crops[0][1]), false);
  return 5 * F32 * P + student + teacher + headActivationBytes(model.head, crops.length * B);
}

/**
 * The largest batch (≤ maxBatch) of H × W images whose inference forward fits the --max-memory
 * limit, keeping `extraPerImage` more bytes per image (the pixels, kept layers). A sample's outputs
 * do not depend on its batch (vit.ts), so a smaller batch changes no number. Throws, naming `what`,
 * when not even one image fits.
 */
export function inferenceBatch(cfg: VitConfig, H: number, W: number, maxBatch: number, what: string, extraPerImage = 0): number {
  const N = tokensOf(cfg, H, W);
  const bytes = (B: number) => vitActivationBytes(cfg, B, N, false) + B * (F32 * 2 * 3 * H * W + extraPerImage);
  checkMemory(bytes(1), `${what}: the backbone's forward on one ${W}×${H} px image (${N.toLocaleString("en-US")} tokens)`, "lower globalSize");
  let B = maxBatch;
  while (B > 1 && bytes(B) > limits().maxMemory) B = Math.ceil(B / 2);
  return B;
}
