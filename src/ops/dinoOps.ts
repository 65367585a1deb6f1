// Ops of the contract that are DINO equations: dino_loss, the schedules, ema_update,
// clip_gradients, adamw_step.

import type { StTensor } from "../io/safetensors.js";
import type { Kernels } from "../kernels/backend.js";
import { tensor } from "../io/safetensors.js";
import type { OpArgs } from "./args.js";

type Op = (args: OpArgs, kernels: Kernels) => Map<string, StTensor>;

/** ema_update: teacher.<key> ← m·teacher.<key> + (1 − m)·student.<key> for every key. */
function emaUpdateOp(args: OpArgs, k: Kernels): Map<string, StTensor> {
  const momentum = args.number("momentum", { min: 0, max: 1 });
  const teacher = args.prefixed("teacher.");
  const student = args.prefixed("student.");
  const out = new Map<string, StTensor>();
  for (const [key, t] of teacher) {
    const s = student.get(key);
    if (s === undefined) args.fail(`tensor in.student.${key} is missing (in.teacher.${key} has no student)`);
    const teacherData = args.f32(`teacher.${key}`).slice();
    const studentData = args.f32(`student.${key}`, t.shape);
    k.emaUpdate(teacherData, studentData, momentum);
    out.set(`teacher.${key}`, tensor("F32", t.shape, teacherData));
  }
  for (const key of student.keys()) if (!teacher.has(key)) args.fail(`tensor in.teacher.${key} is missing (in.student.${key} has no teacher)`);
  return out;
}

export const dinoOps: [string, Op][] = [["ema_update", emaUpdateOp]];
