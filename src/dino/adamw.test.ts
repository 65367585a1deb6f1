import { describe, expect, it } from "vitest";
import { adamwStep, type AdamWState } from "./adamw.js";
import { adamwUpdateRef } from "../kernels/adamw.js";
import { cancelLastLayerGradients } from "./freezeLastLayer.js";
import { cloneNamed, namedTensor, type NamedTensor } from "../tensor/named.js";
import { bitEqual } from "../../test/arbitraries.js";
import { seededUniform } from "../../test/dinoChecks.js";
import { ts32Backend, wasmBackend } from "../kernels/backend.js";

function model(seed: number): NamedTensor[] {
  const u = seededUniform(seed);
  const t = (name: string, shape: number[]) => {
    const p = namedTensor(name, shape);
    p.data.forEach((_, i) => (p.data[i] = u()));
    return p;
  };
  return [t("backbone.cls_token", [1, 1, 3]), t("backbone.blocks.0.mlp.fc1.bias", [5]), t("head.mlp.0.weight", [3, 5]), t("head.last_layer.weight_v", [7, 3])];
}
const gradsFor = (params: NamedTensor[], seed: number) => model(seed).map((g, i) => namedTensor(params[i].name, params[i].shape, g.data));

describe.each([{ be: wasmBackend }, { be: ts32Backend }])("adamwStep over named parameters (kernels: $be.name)", ({ be }) => {
  it("equals the flat oracle per tensor over several steps with changing lr and wd (decay on the regularized group only)", () => {
    const params = model(1);
    const oracle = params.map(cloneNamed);
    const moments = oracle.map((p) => ({ m: new Float32Array(p.data.length), v: new Float32Array(p.data.length) }));
    const state: AdamWState = new Map();
    const lrs = [0, 1e-3, 2e-3, 1.5e-3];
    const wds = [0.04, 0.05, 0.1, 0.2];
    for (let s = 0; s < 4; s++) {
      const grads = gradsFor(params, 10 + s);
      adamwStep(be, params, grads, state, { lr: lrs[s], weightDecay: wds[s] });
      oracle.forEach((p, i) => {
        const wd = p.name.endsWith(".bias") ? 0 : wds[s];
        adamwUpdateRef(p.data, grads[i].data, moments[i].m, moments[i].v, { lr: lrs[s], weightDecay: wd, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: s + 1 });
      });
      params.forEach((p, i) => expect(bitEqual(p.data, oracle[i].data)).toBe(true));
    }
    expect([...state.values()].map((st) => st.step)).toEqual([4, 4, 4, 4]);
  });

  it("does not decay a bias (zero gradient, wd > 0) but does decay a weight", () => {
    const params = model(2);
    const bias = params[1].data.slice();
    const w = params[2].data.slice();
    const zero = params.map((p) => namedTensor(p.name, p.shape));
    adamwStep(be, params, zero, new Map(), { lr: 0.1, weightDecay: 0.5 });
    expect(bitEqual(params[1].data, bias)).toBe(true);
    expect(params[2].data[0]).toBe(Math.fround(w[0] * Math.fround(1 - 0.05)));
  });

  it("skips a parameter without a gradient entirely: no decay, no state, no step; it starts at step 1 when unfrozen", () => {
    const params = model(3);
    const lastBefore = params[3].data.slice();
    const state: AdamWState = new Map();
    // epoch 0 with freeze_last_layer = 1: last_layer's gradient is dropped
    adamwStep(be, params, cancelLastLayerGradients(0, 1, gradsFor(params, 20)), state, { lr: 1e-3, weightDecay: 0.04 });
    expect(bitEqual(params[3].data, lastBefore)).toBe(true);
    expect(state.has("head.last_layer.weight_v")).toBe(false);
    expect(state.get("head.mlp.0.weight")!.step).toBe(1);
    // epoch 1: it gets its first step, with a fresh bias correction
    const grads = gradsFor(params, 21);
    const fresh = cloneNamed(params[3]);
    adamwStep(be, params, cancelLastLayerGradients(1, 1, grads), state, { lr: 1e-3, weightDecay: 0.04 });
    expect(state.get("head.last_layer.weight_v")!.step).toBe(1);
    expect(state.get("head.mlp.0.weight")!.step).toBe(2);
    adamwUpdateRef(fresh.data, grads[3].data, new Float32Array(21), new Float32Array(21), { lr: 1e-3, weightDecay: 0.04, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 1 });
    expect(bitEqual(params[3].data, fresh.data)).toBe(true);
  });

  it("rejects gradients without a parameter and of the wrong shape, by name", () => {
    const params = model(4);
    expect(() => adamwStep(be, params, [namedTensor("nope", [2])], new Map(), { lr: 1, weightDecay: 0 })).toThrow(/gradient nope has no parameter/);
    expect(() => adamwStep(be, params, [namedTensor("head.mlp.0.weight", [2])], new Map(), { lr: 1, weightDecay: 0 })).toThrow(/gradient head.mlp.0.weight has shape \[2\]; expected \[3, 5\]/);
  });
});
