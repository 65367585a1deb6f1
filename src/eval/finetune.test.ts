import { describe, expect, it } from "vitest";
import { headLossAndGrads, finetune } from "./finetune.js";
import { ts32Backend } from "../kernels/backend.js";
import { ParamStore } from "../model/params.js";
import { vitConfig } from "../model/vitConfig.js";
import { vitParamSpecs } from "../model/vitParams.js";
import { initBackbone } from "../model/dino.js";
import { loadMnist } from "../data/mnist.js";
import { classInterleaved, subset } from "../data/dataset.js";
import { Rng } from "../tensor/rng.js";

describe("the fine-tuning head", () => {
  it("has the gradients of the mean cross-entropy (float64 central differences)", () => {
    const [B, D, C] = [3, 4, 5];
    const rng = new Rng(11, 1);
    const cls = Float64Array.from({ length: B * D }, () => rng.normal());
    const W = Float64Array.from({ length: C * D }, () => rng.normal() * 0.5);
    const b = Float64Array.from({ length: C }, () => rng.normal() * 0.1);
    const y = [4, 0, 2];
    const gW = new Float64Array(C * D);
    const gb = new Float64Array(C);
    const { gradCls } = headLossAndGrads(cls, W, b, y, B, D, C, gW, gb);
    const loss = (x: Float64Array, w: Float64Array, bias: Float64Array) => headLossAndGrads(x, w, bias, y, B, D, C, new Float64Array(C * D), new Float64Array(C)).loss;
    const h = 1e-6;
    for (const [x, g] of [[cls, gradCls], [W, gW], [b, gb]] as const) {
      for (let i = 0; i < x.length; i++) {
        const saved = x[i];
        x[i] = saved + h;
        const up = loss(cls, W, b);
        x[i] = saved - h;
        const down = loss(cls, W, b);
        x[i] = saved;
        expect(g[i]).toBeCloseTo((up - down) / (2 * h), 7);
      }
    }
  });

  it("lowers the training loss of a tiny ViT on a few digits, and is deterministic", () => {
    const cfg = vitConfig({ patchSize: 7, embedDim: 16, depth: 1, numHeads: 2, mlpRatio: 2, imgSize: 28 });
    const start = ParamStore.create(ts32Backend, vitParamSpecs(cfg), { grads: false });
    initBackbone(start, cfg, 0);
    const { train, test } = loadMnist();
    const tr = subset(train, classInterleaved(train, 40));
    const te = subset(test, classInterleaved(test, 20));
    const opts = { epochs: 3, batchSize: 20, lr: 3e-3, weightDecay: 0.05, seed: 0 };
    const a = finetune(ts32Backend, start, cfg, tr, te, 10, opts);
    expect(a.losses[2]).toBeLessThan(a.losses[0]);
    expect(finetune(ts32Backend, start, cfg, tr, te, 10, opts)).toEqual(a);
  });
});
