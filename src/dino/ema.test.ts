import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { updateTeacher } from "./ema.js";
import { emaUpdateRef } from "../kernels/ema.js";
import { cloneNamed, namedTensor, type NamedTensor } from "../tensor/named.js";
import { awkwardSize, bitEqual, f32Array } from "../../test/arbitraries.js";
import { ts32Backend, wasmBackend } from "../kernels/backend.js";

const params = fc.array(awkwardSize(20), { minLength: 1, maxLength: 4 }).chain((sizes) =>
  fc.tuple(...sizes.map((n, i) => fc.tuple(f32Array(n), f32Array(n)).map(([t, s]) => [namedTensor(`p${i}`, [n], t), namedTensor(`p${i}`, [n], s)] as const))),
);

describe.each([{ be: wasmBackend }, { be: ts32Backend }])("updateTeacher: θt ← λ·θt + (1 − λ)·θs over named tensors (kernels: $be.name)", ({ be }) => {
  it("applies the flat EMA to every tensor", () => {
    fc.assert(
      fc.property(params, fc.double({ min: 0, max: 1, noNaN: true }), (pairs, m) => {
        const teacher = pairs.map(([t]) => cloneNamed(t));
        updateTeacher(be, teacher, pairs.map(([, s]) => s), m);
        pairs.forEach(([t, s], i) => {
          const expected = t.data.slice();
          emaUpdateRef(expected, s.data, m);
          expect(bitEqual(teacher[i].data, expected)).toBe(true);
        });
      }),
    );
  });

  it("leaves the teacher unchanged at λ = 1 and copies the student at λ = 0", () => {
    fc.assert(
      fc.property(params, (pairs) => {
        const kept = pairs.map(([t]) => cloneNamed(t));
        updateTeacher(be, kept, pairs.map(([, s]) => s), 1);
        // equal values; only the sign of a zero may change (−0 + 0 = +0), as in PyTorch
        pairs.forEach(([t], i) => kept[i].data.forEach((v, j) => expect(v === t.data[j]).toBe(true)));
        const copied = pairs.map(([t]) => cloneNamed(t));
        updateTeacher(be, copied, pairs.map(([, s]) => s), 0);
        pairs.forEach(([, s], i) => copied[i].data.forEach((v, j) => expect(v === s.data[j]).toBe(true)));
      }),
    );
  });

  it("rejects lists of different parameters by name", () => {
    const a: NamedTensor[] = [namedTensor("head.mlp.0.weight", [2, 3])];
    expect(() => updateTeacher(be, a, [namedTensor("head.mlp.0.bias", [2])], 0.9)).toThrow(/teacher tensor 0 is head.mlp.0.weight \[2, 3\], student tensor 0 is head.mlp.0.bias \[2\]/);
    expect(() => updateTeacher(be, a, [], 0.9)).toThrow(/1 teacher tensors, 0 student tensors/);
  });
});
