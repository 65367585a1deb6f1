import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { clipCoefficient, clipGradients } from "./clipGradients.js";
import { l2NormRef } from "../kernels/norms.js";
import { cloneNamed, compareNamesByBytes, namedTensor } from "../tensor/named.js";
import { awkwardSize, bitEqual, f32Array } from "../../test/arbitraries.js";
import { clipViolations } from "../../test/dinoChecks.js";
import { ts32Backend, wasmBackend } from "../kernels/backend.js";

const grads = fc.array(fc.tuple(awkwardSize(40), fc.constantFrom(0.01, 1, 10)), { minLength: 1, maxLength: 5 }).chain((specs) =>
  fc.tuple(...specs.map(([n, scale], i) => f32Array(n, 1).map((x) => namedTensor(`g${i}`, [n], x.map((v) => v * scale))))),
);

describe.each([{ be: wasmBackend }, { be: ts32Backend }])("clipGradients: per-parameter, coef = clip/(‖g‖₂ + 1e-6) applied when < 1 (kernels: $be.name)", ({ be }) => {
  it("caps each norm at clip, leaves smaller gradients bit-identical, returns each pre-clip norm", () => {
    fc.assert(
      fc.property(grads, fc.constantFrom(0.5, 3, 1e-3), (gs, clip) => {
        expect(clipViolations((g, c) => clipGradients(be, g, c), gs, clip)).toEqual([]);
      }),
    );
  });

  it("is per tensor: one huge gradient does not shrink the others", () => {
    const small = namedTensor("backbone.blocks.0.attn.qkv.bias", [3], Float32Array.from([0.1, -0.2, 0.3]));
    const huge = namedTensor("head.mlp.0.weight", [2, 2], Float32Array.from([100, 0, 0, 100]));
    const before = small.data.slice();
    const norms = clipGradients(be, [huge, small], 3);
    expect(bitEqual(small.data, before)).toBe(true);
    expect(l2NormRef(huge.data)).toBeCloseTo(3, 5);
    expect(norms.map((n) => n.name)).toEqual(["head.mlp.0.weight", "backbone.blocks.0.attn.qkv.bias"]);
    expect(norms[0].norm).toBe(Math.fround(Math.sqrt(20000)));
  });

  it("computes coef in float32 as PyTorch does for a 0-d tensor: reciprocal(norm + 1e-6)·clip", () => {
    const f = Math.fround;
    expect(clipCoefficient(6, 3)).toBe(f(f(1 / f(6 + f(1e-6))) * 3));
    // a norm exactly at the clip is still (very slightly) scaled: clip/(clip + 1e-6) < 1
    expect(clipCoefficient(3, 3)).toBeLessThan(1);
    // a zero gradient is left alone (coef = clip·1e6)
    const z = namedTensor("z", [4]);
    clipGradients(be, [z], 3);
    expect(Array.from(z.data)).toEqual([0, 0, 0, 0]);
  });

  it("is disabled by clip = 0 (gradients untouched, norms still reported)", () => {
    const g = namedTensor("w", [2, 2], Float32Array.from([30, 40, 0, 0]));
    const before = cloneNamed(g);
    const norms = clipGradients(be, [g], 0);
    expect(bitEqual(g.data, before.data)).toBe(true);
    expect(norms).toEqual([{ name: "w", norm: 50 }]);
    expect(() => clipGradients(be, [g], -1)).toThrow(/clip -1/);
  });

  it("lists norms in input order; golden files sort keys by bytes", () => {
    const names = ["head.mlp.0.weight", "backbone.pos_embed", "backbone.cls_token", "backbone.blocks.10.norm1.weight", "backbone.blocks.2.norm1.weight"];
    expect([...names].sort(compareNamesByBytes)).toEqual([
      "backbone.blocks.10.norm1.weight", "backbone.blocks.2.norm1.weight", "backbone.cls_token", "backbone.pos_embed", "head.mlp.0.weight",
    ]);
  });
});
