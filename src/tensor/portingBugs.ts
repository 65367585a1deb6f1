// Switches for the known porting mistakes that `dino-ref compare` recognises (the catalogue,
// src/ops/catalogue.ts; docs/porting.md). A function with a wrong variant takes `bugs: Bugs =
// NO_BUGS` and checks its own ids; training, `check` and the golden tests never switch one on.

/** Every catalogue id; the functions that implement each one check it by this exact string. */
export const BUG_IDS = [
  "softmax.no_temperature",
  "loss.center_added",
  "loss.same_view_pairs",
  "loss.temperatures_swapped",
  "loss.sum_over_pairs",
  "center.momentum_swapped",
  "center.updated_before_loss",
  "schedule.cosine_reaches_final",
  "schedule.warmup_excludes_end",
  "ema.momentum_swapped",
  "clip.global_norm",
  "freeze.last_layer_zeroed",
  "adamw.decay_all_params",
  "adamw.step_off_by_one",
  "adamw.coupled_weight_decay",
  "adamw.eps_inside_sqrt",
  "layer_norm.eps_1e-5",
  "layer_norm.unbiased_variance",
  "gelu.tanh",
  "attention.no_scale",
  "attention.softmax_wrong_axis",
  "interpolate.align_corners",
  "interpolate.by_output_size",
  "interpolate.bilinear",
  "head.no_l2_bottleneck",
  "knn.unweighted_votes",
] as const;

export type BugId = (typeof BUG_IDS)[number];

/** The mistakes switched on (usually none, or exactly one while `compare` diagnoses a case). */
export type Bugs = ReadonlySet<BugId>;

export const NO_BUGS: Bugs = new Set<BugId>();
