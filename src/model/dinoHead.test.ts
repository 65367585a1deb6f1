// DINOHead: key order, init, float64 finite differences of the whole head (every parameter and x,
// nlayers 1/2/3, norm_last_layer on and off, and the clamp branch of the L2 bottleneck), wasm vs the
// float32 oracle backend on awkward sizes, the head's invariances, and errors users can act on.
import { describe, expect, it } from "vitest";
import { ts32Backend, ts64Backend, wasmBackend, type Backend } from "../kernels/backend.js";
import { HostParams, ParamStore, type ParamScope } from "./params.js";
import {
  checkDinoHeadParams,
  dinoHeadBackward,
  dinoHeadForward,
  dinoHeadLinears,
  dinoHeadParamSpecs,
  initDinoHead,
  isTrainableHeadParam,
  resolveDinoHeadConfig,
  type DinoHeadCache,
  type DinoHeadConfig,
} from "./dinoHead.js";
import { erfinv, initKey } from "./init.js";
import { erf64 } from "../kernels/erf.js";
import { Rng, STREAM } from "../tensor/rng.js";
import { DinoRefError } from "../tensor/errors.js";
import { numel } from "../tensor/named.js";
import { arena } from "../kernels/arena.js";
import { U32 } from "../../test/compare.js";

const TEST_STREAM = 99; // a stream of our own for test data, apart from STREAM.*

type FloatType = Float32ArrayConstructor | Float64ArrayConstructor;

/** Random head parameters at a scale where the GELUs are non-linear and W varies per row. */
function randomParams(cfg: DinoHeadConfig, Type: FloatType, seed: number): HostParams {
  const c = resolveDinoHeadConfig(cfg);
  const p = new HostParams(dinoHeadParamSpecs(c), Type);
  const rng = new Rng(seed, TEST_STREAM);
  for (const l of dinoHeadLinears(c)) {
    const w = p.param(`${l.name}.weight`).data;
    for (let i = 0; i < w.length; i++) w[i] = rng.normal() * (1.5 / Math.sqrt(l.dIn));
    const b = p.param(`${l.name}.bias`).data;
    for (let i = 0; i < b.length; i++) b[i] = rng.normal() * 0.5;
  }
  const v = p.param("last_layer.weight_v").data;
  for (let i = 0; i < v.length; i++) v[i] = rng.normal();
  const g = p.param("last_layer.weight_g").data;
  for (let i = 0; i < g.length; i++) g[i] = c.normLastLayer ? 1 : rng.uniformIn(0.5, 2);
  return p;
}

function randomArray(n: number, Type: FloatType, seed: number, scale = 1): Float64Array | Float32Array {
  const rng = new Rng(seed, TEST_STREAM, 1);
  const a = new Type(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * scale;
  return a;
}

/** Forward then backward on `be`; L = Σ y·gradY in float64. Grads are zeroed first. */
function run(be: Backend, params: ParamScope, cfg: DinoHeadConfig, x: ArrayLike<number>, gradY: ArrayLike<number>, R: number) {
  const c = resolveDinoHeadConfig(cfg);
  const mark = be.mark();
  try {
    const xT = be.alloc([R, c.inDim]);
    xT.data.set(x);
    const gT = be.alloc([R, c.outDim]);
    gT.data.set(gradY);
    const { y, cache } = dinoHeadForward(be, params, c, xT, R);
    const yData = Float64Array.from(y.data);
    let loss = 0;
    for (let i = 0; i < yData.length; i++) loss += yData[i] * gradY[i];
    const gradX = Float64Array.from(dinoHeadBackward(be, params, c, cache, gT).data);
    const snapshot = snapshotCache(cache);
    return { y: yData, loss, gradX, cache: snapshot };
  } finally {
    be.release(mark);
  }
}

function snapshotCache(c: DinoHeadCache) {
  return { zNorm: Float64Array.from(c.zNorm.data), u: Float64Array.from(c.u.data), vNorm: Float64Array.from(c.vNorm.data) };
}

function lossOnly(params: HostParams, cfg: DinoHeadConfig, x: Float64Array, gradY: Float64Array, R: number): number {
  const { y } = dinoHeadForward(ts64Backend, params, cfg, { shape: [R, cfg.inDim], data: x }, R);
  let loss = 0;
  for (let i = 0; i < y.data.length; i++) loss += y.data[i] * gradY[i];
  return loss;
}

function zeroGrads(p: HostParams): void {
  for (const g of p.grads.values()) g.data.fill(0);
}

describe("dinoHeadParamSpecs", () => {
  it("lists the official keys in named_parameters() order for nlayers 1, 2, 3 (and 0 → 1, as max(nlayers, 1))", () => {
    const base = { inDim: 5, outDim: 9, hiddenDim: 7, bottleneckDim: 6 };
    const keys = (nlayers: number) => dinoHeadParamSpecs({ ...base, nlayers }, "head.").map((s) => `${s.name} [${s.shape.join(",")}]`);
    expect(keys(1)).toEqual(["head.mlp.weight [6,5]", "head.mlp.bias [6]", "head.last_layer.weight_g [9,1]", "head.last_layer.weight_v [9,6]"]);
    expect(keys(0)).toEqual(keys(1));
    expect(keys(2)).toEqual([
      "head.mlp.0.weight [7,5]", "head.mlp.0.bias [7]", "head.mlp.2.weight [6,7]", "head.mlp.2.bias [6]",
      "head.last_layer.weight_g [9,1]", "head.last_layer.weight_v [9,6]",
    ]);
    expect(keys(3)).toEqual([
      "head.mlp.0.weight [7,5]", "head.mlp.0.bias [7]", "head.mlp.2.weight [7,7]", "head.mlp.2.bias [7]",
      "head.mlp.4.weight [6,7]", "head.mlp.4.bias [6]", "head.last_layer.weight_g [9,1]", "head.last_layer.weight_v [9,6]",
    ]);
  });

  it("has the official parameter counts for K = 65536 (in 384 / 768 / 192)", () => {
    const count = (inDim: number) => {
      const specs = dinoHeadParamSpecs({ inDim, outDim: 65536 });
      const mlp = specs.filter((s) => s.name.startsWith("mlp.")).reduce((n, s) => n + numel(s.shape), 0);
      return [mlp, numel(specs.find((s) => s.name === "last_layer.weight_v")!.shape), numel(specs.find((s) => s.name === "last_layer.weight_g")!.shape)];
    };
    expect(count(384)).toEqual([5_509_376, 16_777_216, 65_536]);
    expect(count(768)[0]).toBe(6_295_808);
    expect(count(192)[0]).toBe(5_116_160);
  });

  it("freezes weight_g exactly when norm_last_layer, with or without a prefix", () => {
    expect(isTrainableHeadParam("last_layer.weight_g", { normLastLayer: true })).toBe(false);
    expect(isTrainableHeadParam("head.last_layer.weight_g", {})).toBe(false);
    expect(isTrainableHeadParam("head.last_layer.weight_g", { normLastLayer: false })).toBe(true);
    expect(isTrainableHeadParam("last_layer.weight_v", { normLastLayer: true })).toBe(true);
    expect(isTrainableHeadParam("mlp.0.weight", { normLastLayer: true })).toBe(true);
  });
});

describe("initDinoHead", () => {
  const cfg = { inDim: 64, outDim: 300, hiddenDim: 96, bottleneckDim: 40, nlayers: 3 };

  it("draws trunc_normal(0.02) MLP weights, zero biases, U(±1/√Db) weight_v and g = 1, per tensor from its own key", () => {
    const p = new HostParams(dinoHeadParamSpecs(cfg), Float32Array);
    initDinoHead(p, cfg, new Rng(7, STREAM.init));
    for (const l of dinoHeadLinears(cfg)) {
      const w = Array.from(p.param(`${l.name}.weight`).data);
      const mean = w.reduce((a, b) => a + b, 0) / w.length;
      const std = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length);
      // n ≥ 3840 draws: the sample mean is within 5σ/√n and the sample std within 10% of 0.02
      expect(Math.abs(mean)).toBeLessThan((5 * 0.02) / Math.sqrt(w.length));
      expect(Math.abs(std / 0.02 - 1)).toBeLessThan(0.1);
      expect(p.param(`${l.name}.bias`).data.every((b) => b === 0)).toBe(true);
    }
    const v = p.param("last_layer.weight_v").data;
    const bound = 1 / Math.sqrt(40);
    expect(v.every((x) => Math.abs(x) <= bound)).toBe(true);
    expect(Math.max(...v)).toBeGreaterThan(0.95 * bound);
    expect(Math.min(...v)).toBeLessThan(-0.95 * bound);
    expect(p.param("last_layer.weight_g").data.every((g) => g === 1)).toBe(true);
    // distinct tensors draw distinct numbers; the same seed gives the same head
    expect(p.param("mlp.2.weight").data.slice(0, 8)).not.toEqual(p.param("mlp.0.weight").data.slice(0, 8));
    const again = new HostParams(dinoHeadParamSpecs(cfg), Float32Array);
    initDinoHead(again, cfg, new Rng(7, STREAM.init));
    for (const [name, t] of p.params) expect(again.param(name).data).toEqual(t.data);
    const other = new HostParams(dinoHeadParamSpecs(cfg), Float32Array);
    initDinoHead(other, cfg, new Rng(8, STREAM.init));
    expect(other.param("mlp.0.weight").data.slice(0, 8)).not.toEqual(p.param("mlp.0.weight").data.slice(0, 8));
  });

  it("gives every head key its own Rng key", () => {
    const names = dinoHeadParamSpecs({ ...cfg, nlayers: 8 }, "head.").map((s) => s.name);
    expect(new Set(names.map(initKey)).size).toBe(names.length);
  });

  it("inverts erf to float64 accuracy (the trunc_normal transform)", () => {
    for (const y of [-0.999999, -0.9, -0.3, -1e-9, 1e-9, 0.1, 0.5, 0.99, 0.999999]) {
      expect(Math.abs(erf64(erfinv(y)) - y)).toBeLessThanOrEqual(4 * 2 ** -53 * Math.max(1, Math.abs(y)));
    }
    expect(erfinv(1)).toBe(Infinity);
    expect(erfinv(-1)).toBe(-Infinity);
    expect(erfinv(0)).toBe(0);
  });
});

describe("dinoHead, float64 finite differences (ts64 backend)", () => {
  const R = 3;
  // central differences: truncation O(h²·|L‴|) ≈ 1e-10 and rounding O(2⁻⁵³·|L|/h) ≈ 1e-11 here,
  // so 1e-7 absolute (+1e-7 relative) separates a correct gradient from any wrong term by orders
  const H = 1e-5;
  const TOL = 1e-7;

  for (const nlayers of [1, 2, 3]) {
    for (const normLastLayer of [true, false]) {
      it(`matches every parameter and x for nlayers ${nlayers}, norm_last_layer ${normLastLayer}`, () => {
        const cfg = { inDim: 5, outDim: 9, hiddenDim: 7, bottleneckDim: 6, nlayers, normLastLayer };
        const p = randomParams(cfg, Float64Array, 10 * nlayers + Number(normLastLayer));
        const x = randomArray(R * cfg.inDim, Float64Array, 1) as Float64Array;
        const gradY = randomArray(R * cfg.outDim, Float64Array, 2) as Float64Array;
        zeroGrads(p);
        const res = run(ts64Backend, p, cfg, x, gradY, R);

        const fd = (data: Float64Array, i: number) => {
          const keep = data[i];
          data[i] = keep + H;
          const up = lossOnly(p, cfg, x, gradY, R);
          data[i] = keep - H;
          const down = lossOnly(p, cfg, x, gradY, R);
          data[i] = keep;
          return (up - down) / (2 * H);
        };
        for (const [name, t] of p.params) {
          const grad = p.grad(name).data;
          for (let i = 0; i < t.data.length; i++) {
            const numeric = fd(t.data as Float64Array, i);
            if (!isTrainableHeadParam(name, cfg)) {
              // frozen g: the backward leaves its slot at zero (though L does depend on g)
              expect(grad[i], `${name}[${i}]`).toBe(0);
              continue;
            }
            expect(Math.abs(grad[i] - numeric), `${name}[${i}]: analytic ${grad[i]}, numeric ${numeric}`).toBeLessThanOrEqual(TOL * (1 + Math.abs(numeric)));
          }
        }
        for (let i = 0; i < x.length; i++) {
          const numeric = fd(x, i);
          expect(Math.abs(res.gradX[i] - numeric), `x[${i}]`).toBeLessThanOrEqual(TOL * (1 + Math.abs(numeric)));
        }
      });
    }
  }

  it("takes the clamp branch of F.normalize when ‖z‖ < 1e-12 (u = z/1e-12, ∂L/∂z = ∂L/∂u/1e-12)", () => {
    const cfg = { inDim: 5, outDim: 9, hiddenDim: 7, bottleneckDim: 6, nlayers: 1, normLastLayer: false };
    const p = randomParams(cfg, Float64Array, 5);
    const w = p.param("mlp.weight").data;
    for (let i = 0; i < w.length; i++) w[i] *= 1e-14; // ‖z‖ ≈ 1e-14
    p.param("mlp.bias").data.fill(0);
    const x = randomArray(R * cfg.inDim, Float64Array, 3) as Float64Array;
    const gradY = randomArray(R * cfg.outDim, Float64Array, 4) as Float64Array;
    zeroGrads(p);
    const res = run(ts64Backend, p, cfg, x, gradY, R);
    for (const n of res.cache.zNorm) expect(n).toBeLessThan(1e-12);
    // in this branch the head is linear in z, so differences are exact up to rounding: h may be
    // large for x (z moves by ~1e-17) and must stay ≪ 1e-12 for the bias
    const fd = (data: Float64Array, i: number, h: number) => {
      const keep = data[i];
      data[i] = keep + h;
      const up = lossOnly(p, cfg, x, gradY, R);
      data[i] = keep - h;
      const down = lossOnly(p, cfg, x, gradY, R);
      data[i] = keep;
      return (up - down) / (2 * h);
    };
    for (let i = 0; i < x.length; i++) {
      const numeric = fd(x, i, 1e-3);
      expect(Math.abs(res.gradX[i] - numeric) / Math.abs(numeric), `x[${i}]`).toBeLessThan(1e-7);
    }
    const gb = p.grad("mlp.bias").data;
    const b = p.param("mlp.bias").data as Float64Array;
    for (let i = 0; i < b.length; i++) {
      const numeric = fd(b, i, 1e-16);
      expect(Math.abs(gb[i] - numeric) / Math.abs(numeric), `mlp.bias[${i}]`).toBeLessThan(1e-6);
    }
  });
});

describe("dinoHead, wasm backend vs the float32 oracle backend", () => {
  for (const [nlayers, normLastLayer] of [[3, false], [2, true], [1, false]] as const) {
    it(`agrees on awkward sizes (nlayers ${nlayers}, norm_last_layer ${normLastLayer}) within the reduction-length bound`, () => {
      const cfg = { inDim: 13, outDim: 23, hiddenDim: 19, bottleneckDim: 11, nlayers, normLastLayer };
      const R = 5;
      const specs = dinoHeadParamSpecs(cfg);
      const host = randomParams(cfg, Float32Array, 77 + nlayers);
      const x = randomArray(R * cfg.inDim, Float32Array, 5);
      const gradY = randomArray(R * cfg.outDim, Float32Array, 6);
      const exact = (() => {
        const p64 = new HostParams(specs, Float64Array);
        for (const s of specs) p64.param(s.name).data.set(host.param(s.name).data);
        return { r: run(ts64Backend, p64, cfg, x, gradY, R), p: p64 };
      })();
      const ts = run(ts32Backend, host, cfg, x, gradY, R);

      const mark = arena().mark();
      try {
        const store = ParamStore.create(wasmBackend, specs);
        for (const s of specs) store.param(s.name).data.set(host.param(s.name).data);
        const wasm = run(wasmBackend, store, cfg, x, gradY, R);
        // every value is a chain of matmul reductions (the oracle sums in float64, the kernel in
        // float32 lanes) through O(1)-gain layers: |wasm − ts32| ≤ n·u·max|exact| with n the sum of
        // all reduction lengths of forward and backward and u = 2⁻²⁴
        const n = cfg.inDim + nlayers * cfg.hiddenDim + 3 * cfg.bottleneckDim + cfg.outDim + R;
        const within = (what: string, a: ArrayLike<number>, b: ArrayLike<number>, ref: ArrayLike<number>) => {
          let scale = 0;
          for (let i = 0; i < ref.length; i++) scale = Math.max(scale, Math.abs(ref[i]));
          for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i]), `${what}[${i}]`).toBeLessThanOrEqual(n * U32 * scale);
        };
        within("y", wasm.y, ts.y, exact.r.y);
        within("grad_x", wasm.gradX, ts.gradX, exact.r.gradX);
        for (const s of specs) {
          within(`grad ${s.name}`, store.grad(s.name).data, host.grad(s.name).data, exact.p.grad(s.name).data);
          // and the float32 oracle itself is that close to float64
          within(`grad ${s.name} (ts32 vs ts64)`, host.grad(s.name).data, exact.p.grad(s.name).data, exact.p.grad(s.name).data);
        }
        if (normLastLayer) expect(store.grad("last_layer.weight_g").data.every((g) => g === 0)).toBe(true);
      } finally {
        arena().release(mark);
      }
    });
  }
});

describe("dinoHead properties (ts64 unless said)", () => {
  const cfg = { inDim: 6, outDim: 17, hiddenDim: 9, bottleneckDim: 7, nlayers: 3, normLastLayer: false };
  const R = 4;
  const x = randomArray(R * cfg.inDim, Float64Array, 11) as Float64Array;
  const gradY = randomArray(R * cfg.outDim, Float64Array, 12) as Float64Array;

  it("outputs cosines in [−1, 1] when g = 1 (wasm and ts32, float32 slack)", () => {
    const c = { ...cfg, normLastLayer: true };
    const host = randomParams(c, Float32Array, 21);
    const x32 = Float32Array.from(x, (v) => v * 100); // large inputs: the bottleneck removes the scale
    for (const be of [ts32Backend, wasmBackend]) {
      const mark = be.mark();
      const xT = be.alloc([R, c.inDim]);
      xT.data.set(x32);
      const { y } = dinoHeadForward(be, host, c, xT, R);
      // |cos| ≤ 1 up to the rounding of two norms and a dot product of length Db
      for (const v of y.data) expect(Math.abs(v)).toBeLessThanOrEqual(1 + 3 * c.bottleneckDim * U32);
      be.release(mark);
    }
  });

  it("is invariant to scaling a row v_i by c > 0 (weight norm) and the last MLP Linear by c > 0 (L2 bottleneck)", () => {
    const p = randomParams(cfg, Float64Array, 22);
    const y0 = run(ts64Backend, p, cfg, x, gradY, R).y;
    const v = p.param("last_layer.weight_v").data;
    for (let d = 0; d < cfg.bottleneckDim; d++) v[3 * cfg.bottleneckDim + d] *= 37.5;
    for (let d = 0; d < cfg.bottleneckDim; d++) v[d] *= 0.01;
    const y1 = run(ts64Backend, p, cfg, x, gradY, R).y;
    for (const name of ["mlp.4.weight", "mlp.4.bias"]) {
      const t = p.param(name).data;
      for (let i = 0; i < t.length; i++) t[i] *= 123.25;
    }
    const y2 = run(ts64Backend, p, cfg, x, gradY, R).y;
    for (let i = 0; i < y0.length; i++) {
      // a few roundings of float64 on values of size ≤ Σ|g|
      expect(Math.abs(y1[i] - y0[i])).toBeLessThanOrEqual(1e-14);
      expect(Math.abs(y2[i] - y0[i])).toBeLessThanOrEqual(1e-14);
    }
  });

  it("gives ∂L/∂v_i ⊥ v_i, and ∂L/∂g_i = the derivative of L along v_i/‖v_i‖ in W_i", () => {
    const p = randomParams(cfg, Float64Array, 23);
    zeroGrads(p);
    const res = run(ts64Backend, p, cfg, x, gradY, R);
    const [K, Db] = [cfg.outDim, cfg.bottleneckDim];
    const v = p.param("last_layer.weight_v").data;
    const gv = p.grad("last_layer.weight_v").data;
    const gg = p.grad("last_layer.weight_g").data;
    for (let i = 0; i < K; i++) {
      let dot = 0;
      let nv = 0;
      let ng = 0;
      for (let d = 0; d < Db; d++) {
        dot += v[i * Db + d] * gv[i * Db + d];
        nv += v[i * Db + d] ** 2;
        ng += gv[i * Db + d] ** 2;
      }
      expect(Math.abs(dot)).toBeLessThanOrEqual(8 * Db * 2 ** -53 * Math.sqrt(nv * ng));
      // ∂L/∂W_i = Σ_r gradY[r,i]·u_r, so the derivative along v̂_i is Σ_r gradY[r,i]·(u_r·v_i)/‖v_i‖
      let along = 0;
      for (let r = 0; r < R; r++) {
        let uv = 0;
        for (let d = 0; d < Db; d++) uv += res.cache.u[r * Db + d] * v[i * Db + d];
        along += gradY[r * K + i] * (uv / Math.sqrt(nv));
      }
      expect(Math.abs(gg[i] - along)).toBeLessThanOrEqual(1e-13 * (1 + Math.abs(along)));
    }
  });

  it("accumulates into the parameter gradients (two backwards give twice the gradient)", () => {
    const p = randomParams(cfg, Float64Array, 24);
    zeroGrads(p);
    run(ts64Backend, p, cfg, x, gradY, R);
    const once = new Map([...p.grads].map(([k, t]) => [k, Float64Array.from(t.data)]));
    run(ts64Backend, p, cfg, x, gradY, R);
    for (const [k, g] of once) {
      const twice = p.grad(k).data;
      for (let i = 0; i < g.length; i++) expect(twice[i]).toBeCloseTo(2 * g[i], 12);
    }
  });

  it("frees its backward scratch on wasm (only y, the cache and grad_x stay allocated)", () => {
    const c = { ...cfg, normLastLayer: true };
    const specs = dinoHeadParamSpecs(c);
    const mark = arena().mark();
    try {
      const store = ParamStore.create(wasmBackend, specs);
      initDinoHead(store, c, new Rng(1, STREAM.init), "");
      const xT = wasmBackend.alloc([R, c.inDim]);
      xT.data.set(x);
      const gT = wasmBackend.alloc([R, c.outDim]);
      gT.data.set(gradY);
      const { cache } = dinoHeadForward(wasmBackend, store, c, xT, R);
      const before = arena().used;
      dinoHeadBackward(wasmBackend, store, c, cache, gT);
      // grad_x [R, Din] rounded up to 16 bytes
      expect(arena().used - before).toBe(Math.ceil((4 * R * c.inDim) / 16) * 16);
    } finally {
      arena().release(mark);
    }
  });
});

describe("dinoHead errors", () => {
  const cfg = { inDim: 5, outDim: 9, hiddenDim: 7, bottleneckDim: 6, nlayers: 2 };
  const p = randomParams(cfg, Float64Array, 1);

  it("rejects x of the wrong width, naming the expected shape", () => {
    const x = { shape: [3, 4], data: new Float64Array(12) };
    expect(() => dinoHeadForward(ts64Backend, p, cfg, x, 3)).toThrow(DinoRefError);
    expect(() => dinoHeadForward(ts64Backend, p, cfg, x, 3)).toThrow("DINOHead: x has shape [3, 4], expected [R, in_dim] = [3, 5]");
  });

  it("rejects a missing parameter, naming the key and its shape", () => {
    const missing = new HostParams(dinoHeadParamSpecs(cfg).filter((s) => s.name !== "last_layer.weight_g"));
    expect(() => checkDinoHeadParams(missing, cfg)).toThrow(DinoRefError);
    expect(() => checkDinoHeadParams(missing, cfg)).toThrow("parameter last_layer.weight_g [9, 1] is missing");
  });

  it("rejects weights whose out_dim (or nlayers) disagrees with the config, naming the key and expected shape", () => {
    expect(() => checkDinoHeadParams(p, { ...cfg, outDim: 12 })).toThrow("parameter last_layer.weight_g has shape [9, 1], expected [12, 1]");
    const x = { shape: [3, 5], data: new Float64Array(15) };
    expect(() => dinoHeadForward(ts64Backend, p, { ...cfg, outDim: 12 }, x, 3)).toThrow(DinoRefError);
    expect(() => checkDinoHeadParams(p, { ...cfg, nlayers: 3 })).toThrow("parameter mlp.2.weight has shape [6, 7], expected [7, 7]");
    expect(() => resolveDinoHeadConfig({ ...cfg, hiddenDim: 0 })).toThrow("hiddenDim must be a positive integer");
  });

  it("rejects grad_y of the wrong shape", () => {
    const x = { shape: [3, 5], data: new Float64Array(15) };
    const { cache } = dinoHeadForward(ts64Backend, p, cfg, x, 3);
    expect(() => dinoHeadBackward(ts64Backend, p, cfg, cache, { shape: [3, 8], data: new Float64Array(24) })).toThrow(
      "DINOHead: grad_y has shape [3, 8], expected [R, out_dim] = [3, 9]",
    );
  });
});
