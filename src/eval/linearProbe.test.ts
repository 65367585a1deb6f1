import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { crossEntropy, trainLinearProbe, probeFeatures } from "./linearProbe.js";
import { Rng } from "../tensor/rng.js";
import { ts64Backend } from "../kernels/backend.js";
import { HostParams } from "../model/params.js";
import { vitConfig } from "../model/vitConfig.js";
import { vitParamSpecs, initVit } from "../model/vitParams.js";
import { STREAM } from "../tensor/rng.js";

describe("crossEntropy", () => {
  it("has the gradient of float64 central finite differences", () => {
    fc.assert(
      fc.property(fc.nat(1000), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 2, max: 7 }), (seed, R, C) => {
        const r = new Rng(seed, 9);
        const z = Float64Array.from({ length: R * C }, () => 3 * r.normal());
        const y = Array.from({ length: R }, () => r.int(C));
        const { grad } = crossEntropy(z, y, R, C);
        for (let i = 0; i < z.length; i++) {
          const h = 1e-6;
          const zp = z.slice();
          const zm = z.slice();
          zp[i] += h;
          zm[i] -= h;
          const fd = (crossEntropy(zp, y, R, C).loss - crossEntropy(zm, y, R, C).loss) / (2 * h);
          expect(Math.abs(fd - grad[i])).toBeLessThan(1e-7);
        }
      }),
      { numRuns: 30 },
    );
  });
});

describe("trainLinearProbe", () => {
  it("separates linearly separable classes perfectly", () => {
    const r = new Rng(1, 9);
    const dim = 6;
    const C = 3;
    const make = (n: number) => {
      const y = Array.from({ length: n }, (_, i) => i % C);
      // class c: a unit bump on dimension c plus small noise
      const f = Float32Array.from({ length: n * dim }, (_, k) => (Math.floor(k / dim) % C === k % dim ? 1 : 0) + 0.1 * r.normal());
      return { f, y };
    };
    const train = make(60);
    const test = make(30);
    const res = trainLinearProbe(train.f, train.y, test.f, test.y, dim, C, { epochs: 30, lr: 0.5, batchSize: 16, momentum: 0.9, seed: 0 });
    expect(res.top1).toBe(100);
    expect(res.top5).toBe(100);
  });
});

describe("probeFeatures", () => {
  it("concatenates the last n CLS tokens, and interleaves CLS and the patch average with avgpool", () => {
    const cfg = vitConfig({ patchSize: 4, embedDim: 8, depth: 2, numHeads: 2, imgSize: 8 });
    const params = new HostParams(vitParamSpecs(cfg), Float64Array);
    initVit(params, cfg, new Rng(0, STREAM.init));
    const img = { width: 8, height: 8, channels: 3 as const, data: Uint8Array.from({ length: 8 * 8 * 3 }, (_, i) => (i * 37) % 256) };
    const ds = { length: 1, classes: ["a"], image: () => img, label: () => 0, describe: () => "img" };
    const two = probeFeatures(ts64Backend, params, cfg, ds, { nLastBlocks: 2, avgpool: false });
    expect(two.dim).toBe(16);
    const one = probeFeatures(ts64Backend, params, cfg, ds, { nLastBlocks: 1, avgpool: false });
    // the last block's CLS is the second half of the 2-block feature
    expect(Array.from(two.features.subarray(8))).toEqual(Array.from(one.features));
    const pooled = probeFeatures(ts64Backend, params, cfg, ds, { nLastBlocks: 1, avgpool: true });
    expect(pooled.dim).toBe(16);
    // even positions hold the CLS token
    expect(Array.from(pooled.features.filter((_, i) => i % 2 === 0))).toEqual(Array.from(one.features));
    expect(() => probeFeatures(ts64Backend, params, cfg, ds, { nLastBlocks: 2, avgpool: true })).toThrow(/avgpool works with nLastBlocks = 1 only/);
  });
});
