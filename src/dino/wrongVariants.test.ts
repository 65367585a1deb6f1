// Each plausible mistake, implemented here on purpose, must be caught by at least one of the
// equation checks that the real code passes (test/dinoChecks.ts). This shows the suite would fail
// if the real implementation had that bug. For each variant: the real code passes the check, the
// variant does not.

import { describe, expect, it } from "vitest";
import { dinoLoss, dinoLossWithCenterUpdate } from "./loss.js";
import { updateCenter } from "./center.js";
import { clipGradients } from "./clipGradients.js";
import { isRegularized } from "./paramGroups.js";
import { adamwStep, type AdamWState } from "./adamw.js";
import { wasmBackend } from "../kernels/backend.js";
import { cancelLastLayerGradients } from "./freezeLastLayer.js";
import { updateTeacher } from "./ema.js";
import { cosineSchedule, dinoSchedules, DEFAULT_SCHEDULE_ARGS, hyperparamsAt, linspace } from "./schedules.js";
import { adamwUpdate } from "../kernels/adamw.js";
import { l2Norm, scaleInPlace } from "../kernels/norms.js";
import { emaUpdate } from "../kernels/ema.js";
import { namedTensor, type NamedTensor, type Tensor } from "../tensor/named.js";
import {
  checkCentreShiftInvariance, checkFiniteDifferences, checkLossUsesOldCentre, checkSameViewSkipped, clipViolations,
  cosineScheduleViolations, decayGroupViolations, emaEndpointViolations, frozenLastLayerViolations, lossCase,
  lossViolations, paramGroupViolations, softmaxRow, teacherTempIndexViolations, type LossFn,
} from "../../test/dinoChecks.js";

// ---------------------------------------------------------------------------------------------
// A naive DINO loss with switchable mistakes (float64, its own softmax, a gradient consistent with
// its own loss unless `gradWithoutTemp`), so only the switched-on mistake differs from the real one.
interface Mistakes { addCentre?: boolean; includeSameView?: boolean; gradWithoutTemp?: boolean }

function naiveLoss(mistakes: Mistakes): LossFn {
  return (student, teacher, center, { studentTemp, teacherTemp, ncrops }) => {
    const K = center.length;
    const B = teacher.shape[0] / 2;
    const rows = (x: Float64Array, n: number) => Array.from({ length: n }, (_, r) => x.subarray(r * K, (r + 1) * K));
    const Ps = rows(student.data, ncrops * B).map((r) => softmaxRow(r, studentTemp));
    const sign = mistakes.addCentre ? 1 : -1;
    const Pt = rows(teacher.data, 2 * B).map((r) => softmaxRow(Array.from(r, (x, k) => x + sign * center[k]), teacherTemp));
    const pairs: [number, number][] = [];
    for (let iq = 0; iq < 2; iq++) for (let v = 0; v < ncrops; v++) if (v !== iq || mistakes.includeSameView) pairs.push([iq, v]);
    const grad = new Float64Array(ncrops * B * K);
    let loss = 0;
    const scale = 1 / (pairs.length * B * (mistakes.gradWithoutTemp ? 1 : studentTemp));
    for (const [iq, v] of pairs) {
      for (let b = 0; b < B; b++) {
        const p = Ps[v * B + b];
        const q = Pt[iq * B + b];
        for (let k = 0; k < K; k++) {
          loss -= (q[k] * Math.log(p[k])) / (pairs.length * B);
          grad[(v * B + b) * K + k] += (p[k] - q[k]) * scale;
        }
      }
    }
    return { loss, gradStudent: { shape: student.shape, data: grad } };
  };
}

const cases = [lossCase(1, 4, 2, 7), lossCase(2, 3, 1, 5), lossCase(3, 2, 3, 6)];

describe("the naive loss without mistakes is the real loss (so each variant differs by one bug only)", () => {
  it("agrees with dinoLoss and passes every loss check", () => {
    for (const c of cases) {
      const args = [{ shape: [c.ncrops * c.B, c.K], data: c.student }, { shape: [2 * c.B, c.K], data: c.teacher }, c.center, c] as const;
      expect(naiveLoss({})(...args).loss).toBeCloseTo(dinoLoss(...args).loss, 12);
      expect(lossViolations(naiveLoss({}), c)).toEqual([]);
      expect(lossViolations(dinoLoss, c)).toEqual([]);
    }
  });
});

describe("wrong variants of the loss are caught", () => {
  it("centre ADDED instead of subtracted: caught by the centre-shift invariance", () => {
    for (const c of cases) expect(checkCentreShiftInvariance(naiveLoss({ addCentre: true }), c).length).toBeGreaterThan(0);
  });

  it("same-view pairs included: caught by the same-view check (teacher chunk iq moves student chunk iq)", () => {
    for (const c of cases) expect(checkSameViewSkipped(naiveLoss({ includeSameView: true }), c).length).toBeGreaterThan(0);
  });

  it("gradient missing the 1/τs factor: caught by finite differences", () => {
    for (const c of cases) expect(checkFiniteDifferences(naiveLoss({ gradWithoutTemp: true }), c).length).toBeGreaterThan(0);
  });

  it("centre updated BEFORE the loss: caught because the loss then depends on the centre momentum", () => {
    const updateFirst = (s: Tensor<Float32Array>, t: Tensor<Float32Array>, c: Float32Array, p: { studentTemp: number; teacherTemp: number; ncrops: number; centerMomentum: number }) => {
      const center = updateCenter(wasmBackend, c, t, p.centerMomentum);
      return { loss: dinoLoss(s, t, center, p).loss, center };
    };
    for (const c of cases) {
      expect(checkLossUsesOldCentre((s, t, center, p) => dinoLossWithCenterUpdate(wasmBackend, s, t, center, p), c)).toEqual([]);
      expect(checkLossUsesOldCentre(updateFirst, c).length).toBeGreaterThan(0);
    }
  });
});

describe("wrong variants of clipping, weight decay, freezing and the EMA are caught", () => {
  const grads = () => [
    namedTensor("head.mlp.0.weight", [2, 2], Float32Array.from([30, 0, 40, 0])), // norm 50
    namedTensor("backbone.blocks.0.attn.qkv.bias", [3], Float32Array.from([0.5, -1, 0.25])), // norm ~1.15
  ];

  it("a GLOBAL norm clip instead of per-parameter: caught (a small gradient is scaled too)", () => {
    const globalClip = (gs: readonly NamedTensor[], clip: number) => {
      let sq = 0;
      for (const g of gs) sq += l2Norm(g.data) ** 2;
      const total = Math.sqrt(sq);
      const coef = clip / (total + 1e-6);
      if (coef < 1) for (const g of gs) scaleInPlace(g.data, coef);
      return gs.map((g) => ({ name: g.name, norm: total }));
    };
    expect(clipViolations((gs, clip) => clipGradients(wasmBackend, gs, clip), grads(), 3)).toEqual([]);
    expect(clipViolations(globalClip, grads(), 3).length).toBeGreaterThan(0);
  });

  it("weight decay on biases (one group for everything): caught by the group rule and by a zero-gradient step", () => {
    const decayAll = (_name: string, _shape: readonly number[]) => true;
    expect(paramGroupViolations(isRegularized)).toEqual([]);
    expect(paramGroupViolations(decayAll).length).toBeGreaterThan(0);
    const stepDecayingAll = (params: readonly NamedTensor[], gs: readonly NamedTensor[], state: Map<string, { step: number }>, o: { lr: number; weightDecay: number }) => {
      params.forEach((p, i) => {
        const s = { step: (state.get(p.name)?.step ?? 0) + 1 };
        state.set(p.name, s);
        adamwUpdate(p.data, gs[i].data, new Float32Array(p.data.length), new Float32Array(p.data.length), { ...o, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: s.step });
      });
    };
    const step: typeof stepDecayingAll = (p, g, s, o) => adamwStep(wasmBackend, p, g, s as AdamWState, o);
    expect(decayGroupViolations(step)).toEqual([]);
    expect(decayGroupViolations(stepDecayingAll).length).toBeGreaterThan(0);
  });

  it("no decay on cls_token / pos_embed (a timm-style exclusion list): caught by the group rule", () => {
    const timmStyle = (name: string, shape: readonly number[]) => isRegularized(name, shape) && !/cls_token|pos_embed/.test(name);
    expect(paramGroupViolations(timmStyle).length).toBeGreaterThan(0);
  });

  it("frozen last layer ZEROED instead of dropped: caught (AdamW decays it and starts its step count)", () => {
    const zeroInstead = (epoch: number, freeze: number, gs: readonly NamedTensor[]) =>
      gs.map((g) => (epoch < freeze && g.name.includes("last_layer") ? { ...g, data: new Float32Array(g.data.length) } : g));
    const step = (p: readonly NamedTensor[], g: readonly NamedTensor[], s: AdamWState, o: { lr: number; weightDecay: number }) => adamwStep(wasmBackend, p, g, s, o);
    expect(frozenLastLayerViolations(cancelLastLayerGradients, step)).toEqual([]);
    expect(frozenLastLayerViolations(zeroInstead, step).length).toBeGreaterThan(0);
  });

  it("EMA with λ on the wrong side (θt ← (1 − λ)θt + λθs): caught by the λ = 1 / λ = 0 endpoints", () => {
    const swapped = (t: readonly NamedTensor[], s: readonly NamedTensor[], m: number) => t.forEach((x, i) => emaUpdate(x.data, s[i].data, 1 - m));
    expect(emaEndpointViolations((t, s, m) => updateTeacher(wasmBackend, t, s, m))).toEqual([]);
    expect(emaEndpointViolations(swapped).length).toBeGreaterThan(0);
  });
});

describe("wrong variants of the schedules are caught", () => {
  it("teacher temperature indexed by ITERATION instead of epoch: caught", () => {
    const s = dinoSchedules({ ...DEFAULT_SCHEDULE_ARGS, epochs: 6, nitersPerEpoch: 5, warmupEpochs: 1, warmupTeacherTempEpochs: 4, teacherTemp: 0.07 });
    expect(teacherTempIndexViolations((it) => hyperparamsAt(s, it).teacherTemp, s.teacherTemp, 5, 6)).toEqual([]);
    expect(teacherTempIndexViolations((it) => s.teacherTemp[it], s.teacherTemp, 5, 6).length).toBeGreaterThan(0);
  });

  it("cosine over T − 1 (reaching final exactly, as lightly does): caught by the end value", () => {
    const overTMinus1 = (base: number, final: number, epochs: number, niter: number) =>
      Float64Array.from({ length: epochs * niter }, (_, i) => final + 0.5 * (base - final) * (1 + Math.cos((Math.PI * i) / (epochs * niter - 1))));
    expect(cosineScheduleViolations(cosineSchedule(0.04, 0.4, 10, 7), 0.04, 0.4, 10, 7, 0, 0)).toEqual([]);
    expect(cosineScheduleViolations(overTMinus1(0.04, 0.4, 10, 7), 0.04, 0.4, 10, 7, 0, 0).length).toBeGreaterThan(0);
  });

  it("warm-up that skips the start value ((i + 1)/W·base): caught by lr[0] = start", () => {
    const skipStart = (base: number, final: number, epochs: number, niter: number, warmup: number) => {
      const w = warmup * niter;
      const out = cosineSchedule(base, final, epochs, niter, warmup, 0);
      for (let i = 0; i < w; i++) out[i] = ((i + 1) / w) * base;
      return out;
    };
    expect(cosineScheduleViolations(cosineSchedule(1e-3, 1e-6, 10, 7, 2), 1e-3, 1e-6, 10, 7, 2, 0)).toEqual([]);
    expect(cosineScheduleViolations(skipStart(1e-3, 1e-6, 10, 7, 2), 1e-3, 1e-6, 10, 7, 2, 0).length).toBeGreaterThan(0);
    expect(linspace(0, 1e-3, 14)[0]).toBe(0);
  });
});
