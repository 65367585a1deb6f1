// The whole ViT backbone: float64 finite differences for every parameter and the images; the
// wasm backend against the ts32 oracle backend; batch-composition invariance; the two auxiliary
// outputs; parameter specs, init and errors.
import { describe, expect, it } from "vitest";
import { ts32Backend, ts64Backend, wasmBackend, type Backend, type Tensor } from "../kernels/backend.js";
import { HostParams, ParamStore, type ParamScope, type ParamSpec } from "./params.js";
import { vitConfig, vitPreset, hiddenDim, type VitConfig } from "./vitConfig.js";
import { initKey, initVit, vitParamSpecs } from "./vitParams.js";
import { RECOMPUTE_ABOVE_BYTES, vitBackward, vitCacheBytes, vitForward, vitIntermediateLayers, vitLastSelfAttention } from "./vit.js";
import { Rng, STREAM } from "../tensor/rng.js";
import { DinoRefError } from "../tensor/errors.js";
import { arena } from "../kernels/arena.js";

/** Random parameter values: N(0, s²) with s chosen so activations stay O(1); norm weights around 1. */
function randomValues(specs: readonly ParamSpec[], seed: number): Map<string, Float64Array> {
  const r = new Rng(seed, 97);
  const out = new Map<string, Float64Array>();
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const fanIn = s.shape.length >= 2 ? s.shape.slice(1).reduce((a, b) => a * b, 1) : 1;
    const isNormW = /norm\d?\.weight$/.test(s.name);
    const std = s.name === "cls_token" || s.name === "pos_embed" ? 0.5 : s.shape.length === 1 ? 0.2 : 1 / Math.sqrt(fanIn);
    out.set(s.name, Float64Array.from({ length: n }, () => (isNormW ? 1 : 0) + std * r.normal()));
  }
  return out;
}

function hostParams(specs: readonly ParamSpec[], values: Map<string, Float64Array>, Type: Float32ArrayConstructor | Float64ArrayConstructor): HostParams {
  const p = new HostParams(specs, Type);
  for (const s of specs) p.param(s.name).data.set(values.get(s.name)!);
  return p;
}

function storeParams(specs: readonly ParamSpec[], values: Map<string, Float64Array>): ParamStore {
  const p = ParamStore.create(wasmBackend, specs);
  for (const s of specs) p.param(s.name).data.set(values.get(s.name)!);
  return p;
}

function randomArray(n: number, seed: number): Float64Array {
  const r = new Rng(seed, 96);
  return Float64Array.from({ length: n }, () => r.normal());
}

function tensorOf(be: Backend, shape: number[], values: ArrayLike<number>): Tensor {
  const t = be.alloc(shape);
  t.data.set(values);
  return t;
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

describe("vit backward against float64 finite differences (every parameter element and pixel)", () => {
  const cases: [string, VitConfig, boolean][] = [
    // image 9×13 with p 4: a 2×3 grid (non-square, pos_embed resampled from 3×3), one row and column of pixels dropped
    ["D 8, depth 2, heads 2", vitConfig({ patchSize: 4, embedDim: 8, depth: 2, numHeads: 2, imgSize: 12 }), false],
    ["no qkv bias, mlp 2.5, drop path 0.5 (training)", vitConfig({ patchSize: 4, embedDim: 6, depth: 3, numHeads: 3, mlpRatio: 2.5, qkvBias: false, imgSize: 12, dropPathRate: 0.5 }), true],
  ];
  for (const [name, cfg, training] of cases) {
    it(name, () => {
      const be = ts64Backend;
      const [B, H, W] = [2, 9, 13];
      const specs = vitParamSpecs(cfg);
      const params = hostParams(specs, randomValues(specs, 1), Float64Array);
      const images = tensorOf(be, [B, 3, H, W], randomArray(B * 3 * H * W, 2));
      const gradCls = tensorOf(be, [B, cfg.embedDim], randomArray(B * cfg.embedDim, 3));
      // the same drop-path masks in every forward: a fresh Rng with the same key
      const opts = () => ({ training, dropPathRng: new Rng(7, STREAM.dropPath, 1) });
      const loss = () => dot(vitForward(be, params, cfg, images, B, H, W, opts()).cls.data, gradCls.data);
      const { cache } = vitForward(be, params, cfg, images, B, H, W, opts());
      const { gradImages } = vitBackward(be, params, cfg, cache!, gradCls, { gradImages: true });
      if (training) {
        // the masks actually dropped something (else this case would not test drop path)
        const masks = cache!.blocks.flatMap((b) => [b.drop1, b.drop2]).filter((d) => d !== null);
        expect(masks.some((d) => d!.mask.includes(0))).toBe(true);
        expect(masks.some((d) => d!.mask.includes(1))).toBe(true);
      }
      const h = 1e-5;
      // central differences: truncation ~h²·f''' and rounding ~1e-16·|L|/h, both ≤ ~1e-9 here; k's bias has an exact 0 gradient
      const [atol, rtol] = [1e-9, 1e-5];
      const check = (what: string, x: Tensor, g: Tensor) => {
        let worst = 0;
        for (let i = 0; i < x.data.length; i++) {
          const v = x.data[i];
          x.data[i] = v + h;
          const lp = loss();
          x.data[i] = v - h;
          const lm = loss();
          x.data[i] = v;
          const fd = (lp - lm) / (2 * h);
          worst = Math.max(worst, Math.abs(fd - g.data[i]) / (atol + rtol * Math.abs(fd)));
        }
        // |fd − g| ≤ atol + rtol·|fd|
        expect(worst, what).toBeLessThan(1);
      };
      for (const s of specs) check(s.name, params.param(s.name), params.grad(s.name));
      check("images", images, gradImages!);
      // pixels beyond a multiple of p get no gradient
      for (let x = 0; x < W; x++) expect(gradImages!.data[8 * W + x]).toBe(0);
    });
  }
});

/** Largest |a − b| / (atol + |b|). */
function maxScaledDiff(a: ArrayLike<number>, b: ArrayLike<number>, atol: number): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (atol + Math.abs(b[i])));
  return worst;
}

describe("wasm backend against the ts32 oracle backend", () => {
  const configs: [VitConfig, number, number, number][] = [
    [vitConfig({ patchSize: 4, embedDim: 12, depth: 2, numHeads: 3, imgSize: 16 }), 3, 13, 18],
    [vitConfig({ patchSize: 3, embedDim: 10, depth: 3, numHeads: 2, mlpRatio: 3.3, qkvBias: false, imgSize: 15 }), 2, 15, 15],
    [vitConfig({ patchSize: 5, embedDim: 20, depth: 1, numHeads: 4, imgSize: 20 }), 2, 21, 11],
  ];
  configs.forEach(([cfg, B, H, W], ci) => {
    it(`config ${ci}: D ${cfg.embedDim}, depth ${cfg.depth}, ${H}×${W} px, batch ${B}`, () => {
      const specs = vitParamSpecs(cfg);
      const values = randomValues(specs, 10 + ci);
      const img = Float32Array.from(randomArray(B * 3 * H * W, 20 + ci));
      const gc = Float32Array.from(randomArray(B * cfg.embedDim, 30 + ci));
      // ts32 oracle
      const pRef = hostParams(specs, values, Float32Array);
      const ref = vitForward(ts32Backend, pRef, cfg, tensorOf(ts32Backend, [B, 3, H, W], img), B, H, W);
      const refGradImages = vitBackward(ts32Backend, pRef, cfg, ref.cache!, tensorOf(ts32Backend, [B, cfg.embedDim], gc), { gradImages: true }).gradImages!;
      // wasm, parameters in a ParamStore
      const mark = arena().mark();
      try {
        const p = storeParams(specs, values);
        const out = vitForward(wasmBackend, p, cfg, tensorOf(wasmBackend, [B, 3, H, W], img), B, H, W);
        const gradImages = vitBackward(wasmBackend, p, cfg, out.cache!, tensorOf(wasmBackend, [B, cfg.embedDim], gc), { gradImages: true }).gradImages!;
        // float32 rounding of reductions in another order: about Kmax·u per layer, over the depth
        const Kmax = Math.max(cfg.embedDim, hiddenDim(cfg), 3 * cfg.patchSize ** 2, 1 + Math.floor(H / cfg.patchSize) * Math.floor(W / cfg.patchSize), B);
        const tol = 4 * Kmax * 2 ** -24 * (cfg.depth + 2);
        expect(maxScaledDiff(out.cls.data, ref.cls.data, 1), "cls").toBeLessThan(tol);
        // gradients are sums of many products: scale by each tensor's largest magnitude
        const scaled = (a: Float32Array, b: Float32Array) => maxScaledDiff(a, b, b.reduce((m, v) => Math.max(m, Math.abs(v)), 0));
        for (const s of specs) expect(scaled(p.grad(s.name).data, pRef.grad(s.name).data as Float32Array), s.name).toBeLessThan(8 * tol);
        expect(scaled(gradImages.data as Float32Array, refGradImages.data as Float32Array), "images").toBeLessThan(8 * tol);
      } finally {
        arena().release(mark);
      }
    });
  });
});

describe("activation recomputation", () => {
  it("recomputing every block in the backward gives the same bits as keeping the cache (drop path on, both backends)", () => {
    const cfg = vitConfig({ patchSize: 4, embedDim: 12, depth: 3, numHeads: 3, imgSize: 16, dropPathRate: 0.3 });
    const [B, H, W] = [4, 13, 18];
    const specs = vitParamSpecs(cfg);
    const values = randomValues(specs, 41);
    const img = Float32Array.from(randomArray(B * 3 * H * W, 42));
    const gc = Float32Array.from(randomArray(B * cfg.embedDim, 43));
    for (const be of [wasmBackend, ts32Backend]) {
      const run = (recompute: boolean) => {
        const p = be === wasmBackend ? storeParams(specs, values) : hostParams(specs, values, Float32Array);
        const opts = { training: true, dropPathRng: new Rng(5, STREAM.dropPath, 1), recompute };
        const out = vitForward(be, p, cfg, tensorOf(be, [B, 3, H, W], img), B, H, W, opts);
        expect(out.cache!.checkpoints === null).toBe(!recompute);
        const gradImages = vitBackward(be, p, cfg, out.cache!, tensorOf(be, [B, cfg.embedDim], gc), { gradImages: true }).gradImages!;
        return [Float32Array.from(out.cls.data), Float32Array.from(gradImages.data), ...specs.map((sp) => Float32Array.from(p.grad(sp.name).data))];
      };
      const mark = be.mark();
      try {
        const kept = run(false);
        const recomputed = run(true);
        kept.forEach((t, i) => expect(Array.from(recomputed[i]), `${be.name} tensor ${i}`).toEqual(Array.from(t)));
      } finally {
        be.release(mark);
      }
    }
  });

  it("is the default when the cache would exceed RECOMPUTE_ABOVE_BYTES (ViT-S/16 at batch 64: yes; mnist-tiny: no)", () => {
    expect(vitCacheBytes(vitPreset("vit_small", 16), 64, 197)).toBeGreaterThan(RECOMPUTE_ABOVE_BYTES);
    expect(vitCacheBytes(vitConfig({ patchSize: 4, embedDim: 64, depth: 4, numHeads: 4, imgSize: 28 }), 128, 50)).toBeLessThan(RECOMPUTE_ABOVE_BYTES / 10);
  });
});

describe("the last block for the CLS tokens only", () => {
  it("gives the CLS rows of the whole block bit for bit (wasm, with and without the cache)", () => {
    const cfg = vitConfig({ patchSize: 4, embedDim: 16, depth: 3, numHeads: 2, imgSize: 16 });
    const [B, H, W] = [3, 16, 12];
    const specs = vitParamSpecs(cfg);
    const values = randomValues(specs, 51);
    const mark = arena().mark();
    try {
      const p = storeParams(specs, values);
      const img = tensorOf(wasmBackend, [B, 3, H, W], Float32Array.from(randomArray(B * 3 * H * W, 52)));
      const whole = vitIntermediateLayers(wasmBackend, p, cfg, img, B, H, W, 1)[0];
      const N = 1 + (16 / 4) * (12 / 4);
      const want = Array.from({ length: B }, (_, b) => Array.from(whole.data.subarray(b * N * 16, b * N * 16 + 16))).flat();
      for (const cache of [false, true]) expect(Array.from(vitForward(wasmBackend, p, cfg, img, B, H, W, { cache }).cls.data)).toEqual(want);
    } finally {
      arena().release(mark);
    }
  });
});

describe("batch composition", () => {
  it("a sample's cls, last attention and intermediate layers are bit-identical alone and in a batch of 3 (wasm)", () => {
    const cfg = vitConfig({ patchSize: 4, embedDim: 16, depth: 2, numHeads: 2, imgSize: 16 });
    const specs = vitParamSpecs(cfg);
    const [H, W] = [12, 20];
    const per = 3 * H * W;
    const img = Float32Array.from(randomArray(3 * per, 40));
    const N = 1 + 3 * 5;
    const mark = arena().mark();
    try {
      const p = storeParams(specs, randomValues(specs, 41));
      const be = wasmBackend;
      const batch = tensorOf(be, [3, 3, H, W], img);
      const cls3 = vitForward(be, p, cfg, batch, 3, H, W, { cache: false }).cls.data.slice();
      const attn3 = vitLastSelfAttention(be, p, cfg, batch, 3, H, W).data.slice();
      const mid3 = vitIntermediateLayers(be, p, cfg, batch, 3, H, W, 2).map((t) => t.data.slice());
      for (let i = 0; i < 3; i++) {
        const one = tensorOf(be, [1, 3, H, W], img.subarray(i * per, (i + 1) * per));
        const cls1 = vitForward(be, p, cfg, one, 1, H, W).cls.data;
        expect(Array.from(cls1)).toEqual(Array.from(cls3.subarray(i * 16, (i + 1) * 16)));
        const a1 = vitLastSelfAttention(be, p, cfg, one, 1, H, W).data;
        const per1 = 2 * N * N;
        expect(Array.from(a1)).toEqual(Array.from(attn3.subarray(i * per1, (i + 1) * per1)));
        const m1 = vitIntermediateLayers(be, p, cfg, one, 1, H, W, 2);
        m1.forEach((t, k) => expect(Array.from(t.data)).toEqual(Array.from(mid3[k].subarray(i * N * 16, (i + 1) * N * 16))));
      }
    } finally {
      arena().release(mark);
    }
  });
});

describe("auxiliary outputs", () => {
  const cfg = vitConfig({ patchSize: 4, embedDim: 8, depth: 3, numHeads: 2, imgSize: 12 });
  const specs = vitParamSpecs(cfg);
  const params = hostParams(specs, randomValues(specs, 50), Float64Array);
  const [B, H, W] = [2, 12, 8];
  const images = tensorOf(ts64Backend, [B, 3, H, W], randomArray(B * 3 * H * W, 51));

  it("last self-attention: its CLS rows are the training forward's last-block probabilities; rows sum to 1", () => {
    const { cache } = vitForward(ts64Backend, params, cfg, images, B, H, W);
    const attn = vitLastSelfAttention(ts64Backend, params, cfg, images, B, H, W);
    const N = 1 + 3 * 2;
    expect(attn.shape).toEqual([B, 2, N, N]);
    // the forward's last block computes the CLS query only: attn [B, H, 1, N]
    const clsRows = Array.from({ length: B * 2 }, (_, bh) => Array.from(attn.data.subarray(bh * N * N, bh * N * N + N))).flat();
    expect(Array.from(cache!.last!.attn!.data)).toEqual(clsRows);
    for (let r = 0; r < B * 2 * N; r++) {
      let s = 0;
      for (let j = 0; j < N; j++) s += attn.data[r * N + j];
      expect(s).toBeCloseTo(1, 12);
    }
  });

  it("intermediate layers: the last one's CLS rows are the forward's cls", () => {
    const cls = vitForward(ts64Backend, params, cfg, images, B, H, W, { cache: false }).cls;
    const layers = vitIntermediateLayers(ts64Backend, params, cfg, images, B, H, W, 2);
    expect(layers.length).toBe(2);
    const N = 7;
    for (let b = 0; b < B; b++) for (let c = 0; c < 8; c++) expect(layers[1].data[b * N * 8 + c]).toBe(cls.data[b * 8 + c]);
    expect(Array.from(layers[0].data)).not.toEqual(Array.from(layers[1].data));
  });
});

describe("parameters", () => {
  it("official keys in named_parameters() order and the published counts", () => {
    const names = vitParamSpecs(vitConfig({ patchSize: 4, embedDim: 8, depth: 1, numHeads: 2 })).map((s) => s.name);
    expect(names).toEqual([
      "cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias",
      "blocks.0.norm1.weight", "blocks.0.norm1.bias", "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias",
      "blocks.0.attn.proj.weight", "blocks.0.attn.proj.bias", "blocks.0.norm2.weight", "blocks.0.norm2.bias",
      "blocks.0.mlp.fc1.weight", "blocks.0.mlp.fc1.bias", "blocks.0.mlp.fc2.weight", "blocks.0.mlp.fc2.bias",
      "norm.weight", "norm.bias",
    ]);
    const count = (cfg: VitConfig) => vitParamSpecs(cfg).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
    // the parameter counts of `vision_transformer.py vit_tiny / vit_small / vit_base`
    expect(count(vitPreset("vit_tiny", 16))).toBe(5_524_416);
    expect(count(vitPreset("vit_small", 16))).toBe(21_665_664);
    expect(count(vitPreset("vit_small", 8))).toBe(21_670_272);
    expect(count(vitPreset("vit_base", 16))).toBe(85_798_656);
    expect(count(vitPreset("vit_base", 8))).toBe(85_807_872);
    expect(vitParamSpecs(vitPreset("vit_small", 16), "backbone.")[1]).toEqual({ name: "backbone.pos_embed", shape: [1, 197, 384] });
  });

  it("init: trunc-normal 0.02 weights, zero biases, LayerNorm 1/0, conv U(±1/sqrt(3p²)); independent of order", () => {
    const cfg = vitPreset("vit_tiny", 16, { depth: 2 });
    const specs = vitParamSpecs(cfg);
    const p = new HostParams(specs, Float32Array);
    initVit(p, cfg, new Rng(3, STREAM.init));
    const std = (x: ArrayLike<number>) => Math.sqrt(dot(x, x) / x.length);
    expect(std(p.param("blocks.1.mlp.fc1.weight").data)).toBeCloseTo(0.02, 3);
    expect(std(p.param("pos_embed").data)).toBeCloseTo(0.02, 2);
    expect(p.param("blocks.0.attn.qkv.bias").data.every((v) => v === 0)).toBe(true);
    expect(p.param("blocks.0.norm2.weight").data.every((v) => v === 1)).toBe(true);
    expect(p.param("norm.weight").data.every((v) => v === 1)).toBe(true);
    expect(p.param("norm.bias").data.every((v) => v === 0)).toBe(true);
    const bound = 1 / Math.sqrt(3 * 16 * 16);
    for (const name of ["patch_embed.proj.weight", "patch_embed.proj.bias"]) {
      const d = p.param(name).data;
      const maxAbs = Array.from(d).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      expect(maxAbs).toBeLessThanOrEqual(Math.fround(bound));
      expect(maxAbs).toBeGreaterThan(0.9 * bound);
    }
    // every tensor has its own key; the same seed gives the same values in a store with other tensors before it
    expect(new Set(specs.map((s) => initKey(s.name))).size).toBe(specs.length);
    const shifted = new HostParams([{ name: "head.x", shape: [7] }, ...vitParamSpecs(cfg, "backbone.")], Float32Array);
    initVit(shifted.scope("backbone."), cfg, new Rng(3, STREAM.init));
    expect(Array.from(shifted.param("backbone.blocks.1.attn.proj.weight").data)).toEqual(Array.from(p.param("blocks.1.attn.proj.weight").data));
  });
});

describe("errors", () => {
  const cfg = vitConfig({ patchSize: 4, embedDim: 8, depth: 1, numHeads: 2, imgSize: 8 });
  const specs = vitParamSpecs(cfg);
  const params = hostParams(specs, randomValues(specs, 60), Float64Array);
  const be = ts64Backend;

  it("wrong image channels", () => {
    const img = be.alloc([1, 4, 8, 8]);
    expect(() => vitForward(be, params, cfg, img, 1, 8, 8)).toThrow(DinoRefError);
    expect(() => vitForward(be, params, cfg, img, 1, 8, 8)).toThrow(/4 channels.*expected 3/);
  });

  it("image smaller than a patch", () => {
    const img = be.alloc([1, 3, 3, 8]);
    expect(() => vitForward(be, params, cfg, img, 1, 3, 8)).toThrow(/smaller than one 4×4 patch/);
  });

  it("missing parameter key", () => {
    const partial = new HostParams(specs.filter((s) => s.name !== "blocks.0.mlp.fc2.bias"));
    const img = be.alloc([1, 3, 8, 8]);
    expect(() => vitForward(be, partial, cfg, img, 1, 8, 8)).toThrow(DinoRefError);
    expect(() => vitForward(be, partial, cfg, img, 1, 8, 8)).toThrow(/blocks\.0\.mlp\.fc2\.bias/);
  });

  it("wrong parameter shape, bad config", () => {
    const other = new HostParams(vitParamSpecs(vitConfig({ patchSize: 4, embedDim: 8, depth: 1, numHeads: 2, imgSize: 12 })));
    expect(() => vitForward(be, other as ParamScope, cfg, be.alloc([1, 3, 8, 8]), 1, 8, 8)).toThrow(/pos_embed has 80 values.*expected \[1, 5, 8\]/);
    expect(() => vitConfig({ patchSize: 4, embedDim: 10, depth: 1, numHeads: 4 })).toThrow(/not divisible/);
  });
});
