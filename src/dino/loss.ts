// The DINO loss (paper Eq. 1 and 3; official `DINOLoss.forward`, minus its centre side effect).
// The student learns to predict, from every crop, the teacher's distribution on the OTHER global
// crop(s): a cross-entropy H(Pt, Ps) = −Σ_k Pt[k]·log Ps[k] = h(Pt) + KL(Pt‖Ps). The teacher is
// sharpened (low τt, e.g. 0.04, so its targets are confident) and centred (a running mean c is
// subtracted, so no single dimension can dominate). Sharpening alone collapses to one dimension,
// centring alone to the uniform distribution; together they keep h(Pt) in between (paper 5.3).
//
// Paper vs code (we follow the code, `main_dino.py DINOLoss.forward`; docs/equations.md): the paper presents centring as a
// bias term on the teacher's outputs and defines c (Eq. 4) as the running MEAN of g_t, so the sign
// matters: adding that mean would reinforce a dominant dimension. Algorithm 1
// (`softmax((t - C) / tpt)`) and the code SUBTRACT it inside the teacher softmax, as we do:
// Pt = softmax((t − c)/τt), with no gradient through the teacher. Algorithm 1
// writes log(softmax(s/τs)); the code (and we) use log_softmax. Eq. 3 is a SUM over pairs; the
// code takes the MEAN over the 2·ncrops − 2 pair batch-means. The centre update is a separate
// function (center.ts) applied after the loss; `dinoLossWithCenterUpdate` does both in that order.
//
// Precision: everything is computed in float64 from the inputs (exact for float32 inputs), and
// the gradient is rounded once to the student array's type. PyTorch computes in float32, so the
// two agree to a few float32 ulps per element of each reduction. Float64 inputs give a fully
// float64 loss and gradient, for finite-difference checks.
//
// Shapes: B images, K head outputs, ncrops = 2 global + local crops, crop-major rows.
//   studentOut [ncrops*B, K]: rows v*B .. v*B+B−1 hold crop v of every image.
//   teacherOut [2*B, K]: the teacher saw only the 2 global crops.   center [K].

import { softmaxAndLogSoftmaxRef } from "../kernels/softmax.js";
import type { FloatArray } from "../tensor/floatArray.js";
import type { Tensor } from "../tensor/named.js";
import { shapeString } from "../tensor/named.js";
import { check } from "../tensor/errors.js";
import { updateCenter } from "./center.js";
import type { Backend } from "../kernels/backend.js";
import { NO_BUGS, type Bugs } from "../tensor/portingBugs.js";

export interface DinoLossParams {
  /** τs, default 0.1. */
  readonly studentTemp: number;
  /** τt for this epoch (see teacherTempSchedule). */
  readonly teacherTemp: number;
  /** 2 global + number of local crops. */
  readonly ncrops: number;
}

/** One (teacher crop iq, student crop v) term, each value a mean over the B images. */
export interface DinoLossPair {
  readonly teacherCrop: number;
  readonly studentCrop: number;
  /** mean_b H(Pt_iq[b], Ps_v[b]): this pair's contribution before the mean over pairs. */
  readonly crossEntropy: number;
  /** mean_b h(Pt_iq[b]), the teacher's entropy. */
  readonly teacherEntropy: number;
  /** mean_b KL(Pt_iq[b] ‖ Ps_v[b]). crossEntropy = teacherEntropy + kl. */
  readonly kl: number;
}

export interface DinoLossResult<T extends FloatArray> {
  /** L = (1/terms)·Σ_pairs mean_b H(Pt_iq[b], Ps_v[b]). */
  readonly loss: number;
  /** dL/d studentOut [ncrops*B, K], same array type as studentOut.data. */
  readonly gradStudent: Tensor<T>;
  /** Number of (iq, v) pairs: 2·ncrops − 2. */
  readonly terms: number;
  /** Mean over the 2B teacher rows of h(Pt) (paper Fig. 7). */
  readonly teacherEntropy: number;
  /** Mean over pairs of the batch-mean KL(Pt‖Ps) (paper Fig. 7). */
  readonly kl: number;
  /** The terms in the official order (0,1), (0,2), ..., (1,0), (1,2), ... */
  readonly pairs: readonly DinoLossPair[];
  /** Pt = softmax((t − c)/τt) [2B, K], float64: the targets (for collapse diagnostics). */
  readonly teacherProbs: Float64Array;
}

/**
 * The DINO loss, its gradient w.r.t. the student outputs, and cheap diagnostics. Pure. `bugs`
 * (diagnosis only, docs/porting.md): loss.center_added, loss.same_view_pairs,
 * loss.temperatures_swapped, loss.sum_over_pairs, softmax.no_temperature.
 */
export function dinoLoss<T extends FloatArray>(
  studentOut: Tensor<T>,
  teacherOut: Tensor<FloatArray>,
  center: FloatArray,
  params: DinoLossParams,
  bugs: Bugs = NO_BUGS,
): DinoLossResult<T> {
  const { B, K } = checkLossArgs(studentOut, teacherOut, center, params);
  const { ncrops } = params;
  const swapped = bugs.has("loss.temperatures_swapped");
  const studentTemp = swapped ? params.teacherTemp : params.studentTemp;
  const teacherTemp = swapped ? params.studentTemp : params.teacherTemp;
  const R = ncrops * B;

  // student: log Ps = log_softmax(s / τs) and Ps = softmax(s / τs), per row, float64
  const logPs = new Float64Array(R * K);
  const Ps = new Float64Array(R * K);
  softmaxAndLogSoftmaxRef(Ps, logPs, studentOut.data, R, K, studentTemp, bugs);

  // teacher: Pt = softmax((t − c) / τt), the centre SUBTRACTED before the temperature; no gradient
  const centred = new Float64Array(2 * B * K);
  const centerSign = bugs.has("loss.center_added") ? 1 : -1;
  for (let r = 0; r < 2 * B; r++) for (let k = 0; k < K; k++) centred[r * K + k] = teacherOut.data[r * K + k] + centerSign * center[k];
  const Pt = new Float64Array(2 * B * K);
  const logPt = new Float64Array(2 * B * K);
  softmaxAndLogSoftmaxRef(Pt, logPt, centred, 2 * B, K, teacherTemp, bugs);

  const sameView = bugs.has("loss.same_view_pairs");
  // terms = 2·ncrops − 2: each global crop pairs with the other global one, each local crop with both
  const terms = sameView ? 2 * ncrops : 2 * ncrops - 2;
  // the pair batch-means are averaged over the terms (loss.sum_over_pairs: summed, Eq. 3 read literally)
  const divisor = bugs.has("loss.sum_over_pairs") ? 1 : terms;
  // dL/ds_v[b] = (1/(terms·B·τs))·Σ_{iq≠v} (Ps_v[b] − Pt_iq[b])
  const gradScale = 1 / (divisor * B * (bugs.has("softmax.no_temperature") ? 1 : studentTemp));
  const grad = new Float64Array(R * K);
  const pairs: DinoLossPair[] = [];
  let total = 0;
  for (let iq = 0; iq < 2; iq++) {
    for (let v = 0; v < ncrops; v++) {
      // same view: a crop is never asked to predict the teacher's output on itself
      if (v === iq && !sameView) continue;
      let ce = 0;
      let h = 0;
      let kl = 0;
      for (let b = 0; b < B; b++) {
        const t = (iq * B + b) * K;
        const s = (v * B + b) * K;
        for (let k = 0; k < K; k++) {
          const q = Pt[t + k];
          // H(Pt, Ps) = −Σ_k Pt[k]·log Ps[k]
          ce -= q * logPs[s + k];
          if (q > 0) {
            // h(Pt) = −Σ_k Pt[k]·log Pt[k];  KL(Pt‖Ps) = Σ_k Pt[k]·(log Pt[k] − log Ps[k])
            h -= q * logPt[t + k];
            kl += q * (logPt[t + k] - logPs[s + k]);
          }
          grad[s + k] += (Ps[s + k] - q) * gradScale;
        }
      }
      // this pair's batch mean
      pairs.push({ teacherCrop: iq, studentCrop: v, crossEntropy: ce / B, teacherEntropy: h / B, kl: kl / B });
      total += ce / B;
    }
  }
  // L = mean over the 2·ncrops − 2 pair batch-means
  const loss = total / divisor;

  let teacherEntropy = 0;
  for (let i = 0; i < Pt.length; i++) if (Pt[i] > 0) teacherEntropy -= Pt[i] * logPt[i];
  teacherEntropy /= 2 * B;
  const kl = pairs.reduce((a, p) => a + p.kl, 0) / terms;

  const gradData = (studentOut.data instanceof Float32Array ? new Float32Array(R * K) : new Float64Array(R * K)) as T;
  gradData.set(grad);
  return { loss, gradStudent: { shape: [R, K], data: gradData }, terms, teacherEntropy, kl, pairs, teacherProbs: Pt };
}

export interface DinoLossStepParams extends DinoLossParams {
  /** m of the centre EMA, default 0.9. */
  readonly centerMomentum: number;
}

/**
 * What the official forward does in one call (and the golden op `dino_loss` records): the loss
 * with the OLD centre, then the centre update from the raw teacher outputs. Returns the new centre.
 */
export function dinoLossWithCenterUpdate(
  be: Backend,
  studentOut: Tensor<Float32Array>,
  teacherOut: Tensor<Float32Array>,
  center: Float32Array,
  params: DinoLossStepParams,
  bugs: Bugs = NO_BUGS,
): DinoLossResult<Float32Array> & { readonly center: Float32Array } {
  // center.updated_before_loss (diagnosis only): the loss already sees the new centre
  if (bugs.has("center.updated_before_loss")) {
    const next = updateCenter(be, center, teacherOut, params.centerMomentum, bugs);
    return { ...dinoLoss(studentOut, teacherOut, next, params, bugs), center: next };
  }
  // 1. the loss uses the centre of the previous iterations
  const result = dinoLoss(studentOut, teacherOut, center, params, bugs);
  // 2. then c ← m·c + (1 − m)·mean(teacher rows), first used at the next iteration
  return { ...result, center: updateCenter(be, center, teacherOut, params.centerMomentum, bugs) };
}

function checkLossArgs(studentOut: Tensor<FloatArray>, teacherOut: Tensor<FloatArray>, center: FloatArray, p: DinoLossParams): { B: number; K: number } {
  const { ncrops, studentTemp, teacherTemp } = p;
  check(Number.isInteger(ncrops) && ncrops >= 2, () => `dinoLoss: ncrops ${ncrops}; expected an integer >= 2 (2 global crops + local crops)`);
  check(studentTemp > 0 && Number.isFinite(studentTemp), () => `dinoLoss: studentTemp ${studentTemp}; expected a finite value > 0`);
  check(teacherTemp > 0 && Number.isFinite(teacherTemp), () => `dinoLoss: teacherTemp ${teacherTemp}; expected a finite value > 0`);
  const ss = studentOut.shape;
  check(ss.length === 2 && studentOut.data.length === ss[0] * ss[1],
    () => `dinoLoss: studentOut has shape ${shapeString(ss)} (${studentOut.data.length} elements); expected [ncrops*B, K]`);
  const [R, K] = ss;
  check(R % ncrops === 0 && R > 0,
    () => `dinoLoss: studentOut has ${R} rows, not a positive multiple of ncrops = ${ncrops}; expected shape [ncrops*B, K] = [${ncrops}*B, ${K}]`);
  const B = R / ncrops;
  const ts = teacherOut.shape;
  check(ts.length === 2 && ts[0] === 2 * B && ts[1] === K && teacherOut.data.length === 2 * B * K,
    () => `dinoLoss: teacherOut has shape ${shapeString(ts)}; expected [2*B, K] = [${2 * B}, ${K}] (the 2 global crops of B = ${B} images)`);
  check(center.length === K, () => `dinoLoss: center has ${center.length} elements; expected shape [K] = [${K}]`);
  return { B, K };
}
