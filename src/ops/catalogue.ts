// The catalogue of known porting mistakes that `dino-ref compare` tries on a failing case: each
// entry is an id (src/tensor/portingBugs.ts), a sentence for the user, and the ops whose cases it
// can show in. The wrong variant itself is a switch on the oracles and equations (grep the id);
// docs/porting.md lists the entries with the cases that catch each one.

import type { BugId } from "../tensor/portingBugs.js";

export interface PortingBug {
  readonly id: BugId;
  /** What the port does, and what the official code does instead. */
  readonly what: string;
  /** The golden ops whose outputs the mistake changes. */
  readonly ops: readonly string[];
}

const VIT = ["vit_forward", "vit_backward", "vit_trace", "dino_train_steps"];
const TRAIN = ["dino_train_steps"];

export const CATALOGUE: readonly PortingBug[] = [
  { id: "softmax.no_temperature", what: "softmax without the temperature: softmax(x) instead of softmax(x / τ)", ops: ["softmax", "dino_loss", ...TRAIN] },
  { id: "loss.center_added", what: "the centre added to the teacher outputs, softmax((t + c)/τt), instead of subtracted", ops: ["dino_loss", ...TRAIN] },
  { id: "loss.same_view_pairs", what: "same-view pairs kept in the loss (2·ncrops terms; the official skips the student crop the teacher saw: 2·ncrops − 2)", ops: ["dino_loss", ...TRAIN] },
  { id: "loss.temperatures_swapped", what: "the temperatures swapped: the student divided by τt and the teacher by τs", ops: ["dino_loss", ...TRAIN] },
  { id: "loss.sum_over_pairs", what: "the loss summed over the crop pairs (Eq. 3 read literally) instead of averaged over the 2·ncrops − 2 pairs", ops: ["dino_loss", ...TRAIN] },
  { id: "center.momentum_swapped", what: "the centre's momentum on the wrong side: c ← (1 − m)·c + m·mean(t) instead of m·c + (1 − m)·mean(t)", ops: ["dino_loss", ...TRAIN] },
  { id: "center.updated_before_loss", what: "the centre updated before the loss uses it (the official loss uses the previous centre, then updates it)", ops: ["dino_loss", ...TRAIN] },
  { id: "schedule.cosine_reaches_final", what: "the cosine over i/(T − 1), so the schedule ends at final_value (the official divides by T and never reaches it)", ops: ["cosine_schedule"] },
  { id: "schedule.warmup_excludes_end", what: "the linear warm-up without its end point (linspace(..., endpoint=False)); the official warm-up includes the base value", ops: ["cosine_schedule"] },
  { id: "ema.momentum_swapped", what: "the teacher EMA with λ on the wrong side: θt ← (1 − λ)·θt + λ·θs instead of λ·θt + (1 − λ)·θs", ops: ["ema_update", ...TRAIN] },
  { id: "clip.global_norm", what: "one global gradient norm (torch.nn.utils.clip_grad_norm_) instead of a clip per parameter tensor (utils.clip_gradients)", ops: ["clip_gradients", ...TRAIN] },
  { id: "freeze.last_layer_zeroed", what: "the frozen last layer's gradients set to zero instead of dropped (None): AdamW still decays it and counts its steps", ops: TRAIN },
  { id: "adamw.decay_all_params", what: "weight decay on every parameter, biases and 1-D parameters included (utils.get_params_groups exempts them)", ops: ["adamw_step", ...TRAIN] },
  { id: "adamw.step_off_by_one", what: "AdamW's bias corrections with step + 1 (the step count is incremented before the update, once)", ops: ["adamw_step", ...TRAIN] },
  { id: "adamw.coupled_weight_decay", what: "Adam with L2 regularisation (wd·θ added to the gradient) instead of AdamW's decoupled decay θ·(1 − lr·wd)", ops: ["adamw_step", ...TRAIN] },
  { id: "adamw.eps_inside_sqrt", what: "AdamW's eps inside the square root, √(v̂ + eps), instead of √v̂ + eps", ops: ["adamw_step", ...TRAIN] },
  { id: "layer_norm.eps_1e-5", what: "LayerNorm eps 1e-5 (the official value is 1e-6)", ops: ["layer_norm", ...VIT] },
  { id: "layer_norm.unbiased_variance", what: "LayerNorm with the unbiased variance (divided by D − 1; nn.LayerNorm divides by D)", ops: ["layer_norm", ...VIT] },
  { id: "gelu.tanh", what: "GELU with the tanh approximation (nn.GELU() is the exact erf form)", ops: ["gelu", "dino_head", ...VIT] },
  { id: "attention.no_scale", what: "attention scores not scaled by Dh^−0.5", ops: ["attention", ...VIT] },
  { id: "attention.softmax_wrong_axis", what: "the attention softmax over the queries (dim −2) instead of the keys (dim −1)", ops: ["attention", ...VIT] },
  { id: "interpolate.align_corners", what: "the position embedding resampled with align_corners=True (the official uses False)", ops: ["interpolate_pos_encoding", ...VIT] },
  { id: "interpolate.by_output_size", what: "the position embedding resampled to size=(rows, cols) instead of scale_factor=((rows + 0.1)/g, (cols + 0.1)/g), whose +0.1 moves the sampling positions", ops: ["interpolate_pos_encoding", ...VIT] },
  { id: "interpolate.bilinear", what: "the position embedding resampled bilinearly (the official mode is bicubic)", ops: ["interpolate_pos_encoding", ...VIT] },
  { id: "head.no_l2_bottleneck", what: "the head without the L2 normalisation of the bottleneck (F.normalize before the last layer)", ops: ["dino_head", "vit_trace", ...TRAIN] },
  { id: "knn.unweighted_votes", what: "k-NN votes counted 1 each instead of weighted by exp(similarity / T)", ops: ["knn"] },
];
