// The numbers behind the playground's first two panels, computed by the project's own code: the
// temperature softmax on the SIMD wasm kernels (src/kernels/softmax.ts) and the DINO loss
// (src/dino/loss.ts) with its split H(Pt, Ps) = h(Pt) + KL(Pt‖Ps). Pure functions of their inputs.

import { logSoftmaxForward, softmaxForward } from "../../src/kernels/softmax.js";
import { dinoLoss } from "../../src/dino/loss.js";

/** Head outputs are cosines in [−1, 1]; the same vector as `dino-ref explain temperature`. */
export const TEMPERATURE_LOGITS: readonly number[] = [0.9, 0.7, 0.3, 0.0, -0.5];

/** The temperature softmax of `logits` [K] on the wasm kernels, and its entropy. */
export function temperatureSoftmax(logits: readonly number[], temperature: number): { probs: Float32Array; entropy: number; lnK: number } {
  const K = logits.length;
  const z = Float32Array.from(logits);
  const probs = new Float32Array(K);
  const logProbs = new Float32Array(K);
  // p = softmax(z/τ), log p = log_softmax(z/τ)
  softmaxForward(probs, z, 1, K, temperature);
  logSoftmaxForward(logProbs, z, 1, K, temperature);
  return { probs, entropy: entropy(probs, logProbs), lnK: Math.log(K) };
}

/** h(p) = −Σ_k p_k·log p_k (a zero p_k adds nothing). */
export function entropy(probs: ArrayLike<number>, logProbs: ArrayLike<number>): number {
  let h = 0;
  for (let k = 0; k < probs.length; k++) if (probs[k] > 0) h -= probs[k] * logProbs[k];
  return h;
}

/** The loss panel's fixed teacher outputs t [K] and the student's starting outputs s0 [K]. */
export const LOSS_TEACHER: readonly number[] = [0.9, 0.7, 0.3, 0.0, -0.5];
export const LOSS_STUDENT_START: readonly number[] = [0.1, 0.3, 0.6, 0.4, 0.2];

export interface LossSplit {
  /** H(Pt, Ps), the DINO loss of this one pair. */
  readonly loss: number;
  /** h(Pt): what the student cannot remove. */
  readonly teacherEntropy: number;
  /** KL(Pt‖Ps): what the student's gradient removes. */
  readonly kl: number;
  readonly teacherProbs: Float64Array;
  readonly studentProbs: Float32Array;
  /** The student's outputs s(α) [K]. */
  readonly student: Float32Array;
}

/**
 * The DINO loss of one image's two views when the student's outputs move from s0 (α = 0) to
 * t·τs/τt (α = 1), the outputs whose softmax at τs equals the teacher's at τt:
 *   s(α) = (1 − α)·s0 + α·t·τs/τt.
 * At α = 1, KL(Pt‖Ps) = 0 and the loss equals the teacher's entropy: its floor.
 */
export function lossSplit(alpha: number, teacherTemp: number, studentTemp = 0.1): LossSplit {
  const K = LOSS_TEACHER.length;
  // s(α) = (1 − α)·s0 + α·t·τs/τt
  const student = Float32Array.from(LOSS_TEACHER, (t, k) => (1 - alpha) * LOSS_STUDENT_START[k] + (alpha * t * studentTemp) / teacherTemp);
  // both views of the image give the same outputs: rows [view 1, view 2]
  const studentOut = { shape: [2, K], data: Float32Array.from([...student, ...student]) };
  const teacherOut = { shape: [2, K], data: Float32Array.from([...LOSS_TEACHER, ...LOSS_TEACHER]) };
  const r = dinoLoss(studentOut, teacherOut, new Float32Array(K), { studentTemp, teacherTemp, ncrops: 2 });
  const studentProbs = new Float32Array(K);
  softmaxForward(studentProbs, student, 1, K, studentTemp);
  return { loss: r.loss, teacherEntropy: r.teacherEntropy, kl: r.kl, teacherProbs: r.teacherProbs.slice(0, K), studentProbs, student };
}
