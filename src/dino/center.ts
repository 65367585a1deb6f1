// The centre (paper Eq. 4; official `DINOLoss.update_center`): an exponential moving average of
// the teacher's mean output. The loss subtracts it inside the teacher softmax, so a dimension that
// is large for every image is pulled back and cannot take over (collapse to one dimension); on its
// own that pushes towards the uniform output, which the teacher's sharpening counteracts.
//
// Paper Eq. 4: c ← m·c + (1 − m)·(1/B)·Σ_i g_t(x_i), m = 0.9. Code (followed here): the mean is
// over all 2B rows of the teacher output (both global crops, all GPUs), of the RAW head outputs
// (before centring and before the temperature), and the update runs after the loss has used the
// old centre (Algorithm 1 runs it after the parameter updates: the same numbers).

import type { Tensor } from "../tensor/named.js";
import { shapeString } from "../tensor/named.js";
import { check } from "../tensor/errors.js";
import type { Backend } from "../kernels/backend.js";
import { NO_BUGS, type Bugs } from "../tensor/portingBugs.js";

/**
 * Returns the new centre [K] (the input is not modified), from teacherOut [2*B, K] (raw outputs of
 * both global crops). The batch mean is taken in float64 and rounded once to float32; the EMA is
 * f32(f32(c·f32(m)) + f32(f32(1 − m)·mean)) with 1 − m in float64, as PyTorch evaluates `main_dino.py DINOLoss.update_center`.
 * center.momentum_swapped (diagnosis only): c ← (1 − m)·c + m·mean.
 */
export function updateCenter(be: Backend, center: Float32Array, teacherOut: Tensor<Float32Array>, centerMomentum: number, bugs: Bugs = NO_BUGS): Float32Array {
  const K = center.length;
  const ts = teacherOut.shape;
  check(ts.length === 2 && ts[1] === K && ts[0] > 0 && teacherOut.data.length === ts[0] * K,
    () => `updateCenter: teacherOut has shape ${shapeString(ts)}; expected [2*B, K] with K = ${K} (the center's length)`);
  check(Number.isFinite(centerMomentum) && centerMomentum >= 0 && centerMomentum <= 1,
    () => `updateCenter: centerMomentum ${centerMomentum}; expected a value in [0, 1]`);
  const rows = ts[0];
  // mean_k = (1/(2B))·Σ_rows t[row, k]
  const sum = new Float64Array(K);
  for (let r = 0; r < rows; r++) for (let k = 0; k < K; k++) sum[k] += teacherOut.data[r * K + k];
  const batchCenter = Float32Array.from(sum, (s) => s / rows);
  // c ← m·c + (1 − m)·mean
  const next = center.slice();
  be.emaUpdate(next, batchCenter, bugs.has("center.momentum_swapped") ? 1 - centerMomentum : centerMomentum);
  return next;
}
