// The trace of `dino-ref trace` and the vit_trace op: its names and shapes, and that every
// recorded intermediate is what the forward computes (cls and the last attention bit for bit as
// vitForward and vitLastSelfAttention give them; each residual and the head on the same numbers).
import { describe, expect, it } from "vitest";
import { ts32Backend, wasmBackend, type Backend } from "../kernels/backend.js";
import { ParamStore, type ParamSpec } from "./params.js";
import { vitConfig, hiddenDim } from "./vitConfig.js";
import { vitParamSpecs } from "./vitParams.js";
import { vitForward, vitLastSelfAttention } from "./vit.js";
import { traceNames, vitTrace } from "./vitTrace.js";
import { dinoHeadForward, dinoHeadParamSpecs, type DinoHeadConfig } from "./dinoHead.js";
import { Rng } from "../tensor/rng.js";

function store(be: Backend, specs: readonly ParamSpec[], seed: number): ParamStore {
  const r = new Rng(seed, 95);
  const p = ParamStore.create(be, specs, { grads: false });
  for (const s of specs) {
    const fanIn = s.shape.length >= 2 ? s.shape.slice(1).reduce((a, b) => a * b, 1) : 1;
    const isNormW = /norm\d?\.weight$/.test(s.name) || s.name.endsWith("weight_g");
    const std = s.shape.length === 1 ? 0.2 : 1 / Math.sqrt(fanIn);
    const d = p.param(s.name).data;
    for (let i = 0; i < d.length; i++) d[i] = (isNormW ? 1 : 0) + std * r.normal();
  }
  return p;
}

describe("vitTrace", () => {
  // 12×20 px with patch 4: a 3×5 grid from a 4×4 pos_embed (resampled), T = 16
  const cfg = vitConfig({ patchSize: 4, embedDim: 12, depth: 3, numHeads: 3, mlpRatio: 2, imgSize: 16 });
  const headCfg: DinoHeadConfig = { inDim: 12, outDim: 7, hiddenDim: 10, bottleneckDim: 5, nlayers: 2, normLastLayer: true };
  const [B, H, W] = [2, 12, 20];
  const T = 1 + 3 * 5;

  for (const be of [wasmBackend, ts32Backend]) {
    it(`names every intermediate in forward order with its shape (${be.name})`, () => {
      const params = store(be, vitParamSpecs(cfg), 1);
      const head = { params: store(be, dinoHeadParamSpecs(headCfg), 2), config: headCfg };
      const images = be.alloc([B, 3, H, W]);
      const r = new Rng(3, 94);
      for (let i = 0; i < images.data.length; i++) images.data[i] = r.normal();
      const trace = vitTrace(be, params, cfg, images, B, H, W, head);
      expect([...trace.keys()]).toEqual(traceNames(3, true));
      const D = 12;
      const Dm = hiddenDim(cfg);
      expect(trace.get("patch_embed")!.shape).toEqual([B, T - 1, D]);
      expect(trace.get("tokens")!.shape).toEqual([B, T, D]);
      expect(trace.get("blocks.1.attn.qkv")!.shape).toEqual([B, T, 3 * D]);
      expect(trace.get("blocks.1.attn.weights")!.shape).toEqual([B, 3, T, T]);
      expect(trace.get("blocks.2.mlp.act")!.shape).toEqual([B, T, Dm]);
      expect(trace.get("norm")!.shape).toEqual([B, T, D]);
      expect(trace.get("cls")!.shape).toEqual([B, D]);
      expect(trace.get("head.bottleneck")!.shape).toEqual([B, 5]);
      expect(trace.get("head.logits")!.shape).toEqual([B, 7]);

      // cls and the last block's attention: bit for bit what the forward and get_last_selfattention give
      const { cls } = vitForward(be, params, cfg, images, B, H, W, { cache: false });
      expect(trace.get("cls")!.data).toEqual(Float32Array.from(cls.data));
      expect(trace.get("blocks.2.attn.weights")!.data).toEqual(Float32Array.from(vitLastSelfAttention(be, params, cfg, images, B, H, W).data));
      // the residuals: resid1 = input + attn.proj, out = resid1 + mlp.fc2 (one float32 add each); the next block starts from out
      for (let i = 0; i < 3; i++) {
        const input = trace.get(i === 0 ? "tokens" : `blocks.${i - 1}.out`)!.data;
        const proj = trace.get(`blocks.${i}.attn.proj`)!.data;
        const resid1 = trace.get(`blocks.${i}.resid1`)!.data;
        const fc2 = trace.get(`blocks.${i}.mlp.fc2`)!.data;
        const out = trace.get(`blocks.${i}.out`)!.data;
        expect(resid1).toEqual(input.map((x, k) => Math.fround(x + proj[k])));
        expect(out).toEqual(resid1.map((x, k) => Math.fround(x + fc2[k])));
      }
      // the head on the traced cls gives the traced logits; the bottleneck rows have norm 1
      const clsT = be.alloc([B, D]);
      clsT.data.set(trace.get("cls")!.data);
      expect(trace.get("head.logits")!.data).toEqual(Float32Array.from(dinoHeadForward(be, head.params, headCfg, clsT, B).y.data));
      const u = trace.get("head.bottleneck")!.data;
      for (let b = 0; b < B; b++) expect(Math.hypot(...u.subarray(b * 5, b * 5 + 5))).toBeCloseTo(1, 5);
    });
  }
});
