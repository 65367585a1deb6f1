// The teacher update (paper Eq. 2; `main_dino.py train_one_epoch`, after the optimizer step): θt ← λ·θt + (1 − λ)·θs.
// The teacher is never trained by gradients: it is a slowly moving average of past students, which
// makes its targets stable and (paper Sec. 5.2) better than the student itself, like Polyak
// averaging. λ follows a cosine from 0.996 to 1 (schedules.ts): at λ = 1 the teacher is frozen, at
// λ = 0 it becomes a copy of the student.
//
// Code details followed here: runs after the optimizer step, on every parameter (frozen ones such
// as a fixed weight_g included) and on no buffer; per element f32(f32(θt·λ) + f32(f32(1 − λ)·θs)).
// So λ = 1 leaves θt unchanged and λ = 0 gives θs exactly (for finite values; a zero may lose its
// sign, −0 + 0 = +0, and a NaN or Inf in θs reaches θt even at λ = 1, since 0·Inf = NaN).

import type { NamedTensor } from "../tensor/named.js";
import { shapeString } from "../tensor/named.js";
import { check } from "../tensor/errors.js";
import type { Backend } from "../kernels/backend.js";
import { NO_BUGS, type Bugs } from "../tensor/portingBugs.js";

/**
 * Updates every teacher tensor in place from the student tensor of the same name and position,
 * with the kernels of `be`. ema.momentum_swapped (diagnosis only): θt ← (1 − λ)·θt + λ·θs.
 */
export function updateTeacher(be: Backend, teacher: readonly NamedTensor[], student: readonly NamedTensor[], momentum: number, bugs: Bugs = NO_BUGS): void {
  check(teacher.length === student.length, () => `updateTeacher: ${teacher.length} teacher tensors, ${student.length} student tensors; expected the same parameters`);
  for (let i = 0; i < teacher.length; i++) {
    const t = teacher[i];
    const s = student[i];
    check(t.name === s.name && t.data.length === s.data.length,
      () => `updateTeacher: teacher tensor ${i} is ${t.name} ${shapeString(t.shape)}, student tensor ${i} is ${s.name} ${shapeString(s.shape)}; expected the same name and shape`);
  }
  if (bugs.has("ema.momentum_swapped")) momentum = 1 - momentum;
  for (let i = 0; i < teacher.length; i++) {
    // θt ← λ·θt + (1 − λ)·θs
    be.emaUpdate(teacher[i].data, student[i].data, momentum);
  }
}
