// Benchmark of the teacher EMA over a ViT-S-sized parameter vector (21.7M values).

import { arena } from "../kernels/arena.js";
import { emaUpdate, emaUpdateRef } from "../kernels/ema.js";
import type { BenchCase } from "./types.js";

export function emaBenchCases(n = 21_665_664): BenchCase[] {
  const a = arena();
  const teacherPtr = a.allocF32(n);
  const studentPtr = a.allocF32(n);
  const fill = (ptr: number) => {
    const v = a.f32(ptr, n);
    for (let i = 0; i < n; i++) v[i] = Math.sin(i);
  };
  fill(teacherPtr);
  fill(studentPtr);
  const name = `ema ${n}`;
  // 3 flops per element: t·m, (1 − m)·s, and their sum
  return [
    { name, impl: "wasm-simd", flops: 3 * n, run: () => emaUpdate(a.f32(teacherPtr, n), a.f32(studentPtr, n), 0.996) },
    { name, impl: "ts", flops: 3 * n, run: () => emaUpdateRef(a.f32(teacherPtr, n), a.f32(studentPtr, n), 0.996) },
  ];
}
