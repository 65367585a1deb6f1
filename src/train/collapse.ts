// Collapse signals (paper Sec. 5.3, Fig. 7). DINO can fail in two ways, and the loss alone shows
// only one: a UNIFORM teacher (entropy → ln K; the loss sits at ln K: centering without enough
// sharpening) and a ONE-HOT teacher on the same prototype for every image (entropy → 0, KL → 0:
// sharpening without centering). Healthy training keeps the entropy in between and KL(Pt‖Ps) > 0.

export interface CollapseSignals {
  /** Mean over teacher rows of h(Pt) = −Σ_k Pt[k]·ln Pt[k] (nats). */
  teacherEntropy: number;
  /** Mean over pairs of KL(Pt‖Ps). */
  kl: number;
  /** ln K: the entropy of the uniform distribution. */
  lnK: number;
  /** Mean over teacher rows of max_k Pt[k]. */
  maxTeacherProb: number;
  /** How many distinct prototypes win the argmax of some teacher row in the batch. */
  argmaxPrototypes: number;
}

export type CollapseState = "healthy" | "uniform" | "one-hot";

/** Signals from the teacher targets Pt [rows, K] and the loss's entropy and KL. */
export function collapseSignals(teacherProbs: ArrayLike<number>, rows: number, K: number, teacherEntropy: number, kl: number): CollapseSignals {
  let maxSum = 0;
  const winners = new Set<number>();
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (teacherProbs[r * K + k] > teacherProbs[r * K + best]) best = k;
    maxSum += teacherProbs[r * K + best];
    winners.add(best);
  }
  return { teacherEntropy, kl, lnK: Math.log(K), maxTeacherProb: maxSum / rows, argmaxPrototypes: winners.size };
}

/**
 * The verdict: "uniform" when the teacher entropy is within 2% of ln K; "one-hot" when it is
 * below 2% of ln K and a single prototype wins every row of the batch; "healthy" otherwise.
 */
export function collapseState(s: CollapseSignals): CollapseState {
  if (s.teacherEntropy > 0.98 * s.lnK) return "uniform";
  if (s.teacherEntropy < 0.02 * s.lnK && s.argmaxPrototypes <= 1) return "one-hot";
  return "healthy";
}

/** A one-line warning for a collapsed state, or null. */
export function collapseWarning(s: CollapseSignals): string | null {
  switch (collapseState(s)) {
    case "uniform":
      return `uniform collapse: teacher entropy ${s.teacherEntropy.toFixed(4)} ≈ ln K = ${s.lnK.toFixed(4)}: the teacher output is uniform and the loss sits at ln K (too little sharpening: lower teacher_temp)`;
    case "one-hot":
      return `one-hot collapse: teacher entropy ${s.teacherEntropy.toExponential(2)} → 0 and ${s.argmaxPrototypes} prototype wins every image: the teacher output is one-hot (too little centering)`;
    default:
      return null;
  }
}
