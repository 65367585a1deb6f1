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

/** Uniform collapse: the teacher entropy is at least this fraction of ln K … */
export const UNIFORM_ENTROPY_FRACTION = 0.98;
/** … and KL(Pt‖Ps) is below this fraction of ln K (≈ the loss): the student has nothing left to learn. */
export const UNIFORM_KL_FRACTION = 1e-3;
/** One-hot collapse: the teacher entropy is at most this fraction of ln K and one prototype wins every row. */
export const ONE_HOT_ENTROPY_FRACTION = 0.1;

/**
 * The verdict, from the paper's reading of H(Pt, Ps) = h(Pt) + KL(Pt‖Ps) (Sec. 5.3): a collapsed
 * teacher gives every image the same target, so the student matches it and KL → 0; the entropy
 * says which collapse.
 * - "uniform": h ≥ 0.98·ln K AND KL < 0.001·ln K (the student-dependent part of a loss of ≈ ln K is
 *   under 0.1%). A healthy run can sit close to ln K at the start; its KL stays larger.
 * - "one-hot": h ≤ 0.1·ln K AND a single prototype wins the argmax of every teacher row of the
 *   batch (a sharp teacher that picks different prototypes for different images is not collapsed).
 * - "healthy" otherwise.
 */
export function collapseState(s: CollapseSignals): CollapseState {
  if (s.teacherEntropy >= UNIFORM_ENTROPY_FRACTION * s.lnK && s.kl < UNIFORM_KL_FRACTION * s.lnK) return "uniform";
  if (s.teacherEntropy <= ONE_HOT_ENTROPY_FRACTION * s.lnK && s.argmaxPrototypes <= 1) return "one-hot";
  return "healthy";
}

/** A one-line warning for a collapsed state, or null. */
export function collapseWarning(s: CollapseSignals): string | null {
  switch (collapseState(s)) {
    case "uniform":
      return `uniform collapse: teacher entropy ${s.teacherEntropy.toFixed(4)} ≈ ln K = ${s.lnK.toFixed(4)} and KL ${s.kl.toExponential(2)} ≈ 0: the teacher output is uniform and the loss sits at ln K (too little sharpening: lower teacher_temp)`;
    case "one-hot":
      return `one-hot collapse: teacher entropy ${s.teacherEntropy.toExponential(2)} → 0 and one prototype wins every image (mean max probability ${s.maxTeacherProb.toFixed(4)}): the teacher output is one-hot (too little centering)`;
    default:
      return null;
  }
}
