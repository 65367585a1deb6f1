// The wrong kernels of the diagnosis catalogue (switches on the oracles): each is the mistake it
// names (checked against a direct formula), its backward is the derivative of its own forward
// (float64 central finite differences, as a port's autograd would give), and with no switch on
// the oracles compute exactly what they computed before.
import { describe, expect, it } from "vitest";
import { geluBackwardRef, geluForwardRef } from "./gelu.js";
import { layerNormBackwardRef, layerNormForwardRef } from "./layernorm.js";
import { attentionBackwardRef, attentionForwardRef } from "./attention.js";
import { softmaxForwardRef } from "./softmax.js";
import { adamwUpdateRef } from "./adamw.js";
import { ts32Backend, ts32BackendWithBugs } from "./backend.js";
import { NO_BUGS, type BugId } from "../tensor/portingBugs.js";
import { Rng } from "../tensor/rng.js";

const bugs = (id: BugId) => new Set<BugId>([id]);
const randn = (n: number, seed: number) => {
  const r = new Rng(seed, 93);
  return Float64Array.from({ length: n }, () => r.normal());
};

/** Σ w·f(x) and its gradient by central differences in float64 (step h), for every element of x. */
function finiteDifferences(f: (x: Float64Array) => number, x: Float64Array, h = 1e-6): Float64Array {
  return Float64Array.from(x, (_, i) => {
    const p = x.slice();
    const m = x.slice();
    p[i] += h;
    m[i] -= h;
    return (f(p) - f(m)) / (2 * h);
  });
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

describe("gelu.tanh", () => {
  const x = randn(40, 1).map((v) => 3 * v);
  const w = randn(40, 2);
  it("is nn.GELU(approximate='tanh') and its derivative", () => {
    const y = new Float64Array(40);
    geluForwardRef(y, x, 40, bugs("gelu.tanh"));
    x.forEach((v, i) => expect(y[i]).toBeCloseTo(0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))), 14));
    const g = new Float64Array(40);
    geluBackwardRef(g, w, x, 40, bugs("gelu.tanh"));
    const fd = finiteDifferences((z) => {
      const o = new Float64Array(40);
      geluForwardRef(o, z, 40, bugs("gelu.tanh"));
      return dot(o, w);
    }, x);
    g.forEach((v, i) => expect(v).toBeCloseTo(fd[i], 7));
  });
});

describe("layer_norm.unbiased_variance and layer_norm.eps_1e-5", () => {
  const [R, D] = [3, 7];
  const x = randn(R * D, 3);
  const wt = randn(D, 4).map((v) => 1 + 0.2 * v);
  const b = randn(D, 5);
  const gy = randn(R * D, 6);
  const fwd = (z: Float64Array, id: BugId, eps = 1e-6) => {
    const y = new Float64Array(R * D);
    const mean = new Float64Array(R);
    const rstd = new Float64Array(R);
    layerNormForwardRef(y, mean, rstd, z, wt, b, R, D, eps, bugs(id));
    return { y, mean, rstd };
  };
  it("divides the variance by D − 1, and the backward is its derivative", () => {
    const { y, mean, rstd } = fwd(x, "layer_norm.unbiased_variance");
    for (let r = 0; r < R; r++) {
      const row = x.subarray(r * D, (r + 1) * D);
      const m = row.reduce((s, v) => s + v, 0) / D;
      const v = row.reduce((s, u) => s + (u - m) ** 2, 0) / (D - 1);
      expect(y[r * D]).toBeCloseTo(((row[0] - m) / Math.sqrt(v + 1e-6)) * wt[0] + b[0], 12);
    }
    const gx = new Float64Array(R * D);
    layerNormBackwardRef(gx, new Float64Array(D), new Float64Array(D), gy, x, mean, rstd, wt, R, D, bugs("layer_norm.unbiased_variance"));
    const fd = finiteDifferences((z) => dot(fwd(z, "layer_norm.unbiased_variance").y, gy), x);
    gx.forEach((v, i) => expect(v).toBeCloseTo(fd[i], 6));
  });
  it("uses eps 1e-5 whatever eps is asked", () => {
    const wrong = fwd(x, "layer_norm.eps_1e-5", 1e-6).y;
    const right = new Float64Array(R * D);
    layerNormForwardRef(right, new Float64Array(R), new Float64Array(R), x, wt, b, R, D, 1e-5);
    expect(wrong).toEqual(right);
  });
});

describe("attention.softmax_wrong_axis and attention.no_scale", () => {
  const [B, H, N, Dh] = [1, 2, 5, 3];
  const n = B * H * N * Dh;
  const [q, k, v, go] = [7, 8, 9, 10].map((s) => randn(n, s));
  const fwd = (qq: Float64Array, kk: Float64Array, vv: Float64Array, id: BugId) => {
    const out = new Float64Array(n);
    const attn = new Float64Array(B * H * N * N);
    attentionForwardRef(out, attn, qq, kk, vv, B, H, N, Dh, 0.5, bugs(id));
    return { out, attn };
  };
  it("normalises each column (over the queries), and the backward is its derivative", () => {
    const { attn } = fwd(q, k, v, "attention.softmax_wrong_axis");
    for (let j = 0; j < N; j++) expect(Array.from({ length: N }, (_, i) => attn[i * N + j]).reduce((s, x) => s + x, 0)).toBeCloseTo(1, 12);
    const [gq, gk, gv] = [0, 1, 2].map(() => new Float64Array(n));
    attentionBackwardRef(gq, gk, gv, go, q, k, v, attn, B, H, N, Dh, 0.5, bugs("attention.softmax_wrong_axis"));
    const loss = (qq: Float64Array, kk: Float64Array, vv: Float64Array) => dot(fwd(qq, kk, vv, "attention.softmax_wrong_axis").out, go);
    const fdq = finiteDifferences((z) => loss(z, k, v), q);
    const fdk = finiteDifferences((z) => loss(q, z, v), k);
    const fdv = finiteDifferences((z) => loss(q, k, z), v);
    gq.forEach((x, i) => expect(x).toBeCloseTo(fdq[i], 6));
    gk.forEach((x, i) => expect(x).toBeCloseTo(fdk[i], 6));
    gv.forEach((x, i) => expect(x).toBeCloseTo(fdv[i], 6));
  });
  it("no_scale is the attention with scale 1", () => {
    const right = { out: new Float64Array(n), attn: new Float64Array(B * H * N * N) };
    attentionForwardRef(right.out, right.attn, q, k, v, B, H, N, Dh, 1);
    expect(fwd(q, k, v, "attention.no_scale")).toEqual(right);
  });
});

describe("softmax.no_temperature and the AdamW switches", () => {
  it("softmax.no_temperature is the softmax at temperature 1", () => {
    const x = randn(12, 11);
    const [a, b] = [new Float64Array(12), new Float64Array(12)];
    softmaxForwardRef(a, x, 2, 6, 0.1, bugs("softmax.no_temperature"));
    softmaxForwardRef(b, x, 2, 6, 1);
    expect(a).toEqual(b);
  });
  it("adamw.step_off_by_one is the step of step + 1; adamw.coupled_weight_decay adds wd·p to the gradient", () => {
    const mk = () => [randn(8, 12), randn(8, 13), randn(8, 14), randn(8, 15).map((x) => x * x)].map((a) => Float32Array.from(a));
    const h = { lr: 0.01, weightDecay: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 3 };
    const [p1, g1, m1, v1] = mk();
    const [p2, g2, m2, v2] = mk();
    adamwUpdateRef(p1, g1, m1, v1, h, bugs("adamw.step_off_by_one"));
    adamwUpdateRef(p2, g2, m2, v2, { ...h, step: 4 });
    expect(p1).toEqual(p2);
    const [p3, g3, m3, v3] = mk();
    const [p4, g4, m4, v4] = mk();
    adamwUpdateRef(p3, g3, m3, v3, h, bugs("adamw.coupled_weight_decay"));
    const gl2 = g4.map((g, i) => Math.fround(g + Math.fround(p4[i] * Math.fround(0.1))));
    adamwUpdateRef(p4, gl2, m4, v4, { ...h, weightDecay: 0 });
    expect(p3).toEqual(p4);
  });
});

describe("no switch on: the oracles as before", () => {
  it("ts32BackendWithBugs(NO_BUGS) computes what ts32Backend computes, bit for bit", () => {
    const be = ts32BackendWithBugs(NO_BUGS);
    const x = Float32Array.from(randn(30, 20));
    const [y1, y2] = [new Float32Array(30), new Float32Array(30)];
    be.geluForward(y1, x, 30);
    ts32Backend.geluForward(y2, x, 30);
    expect(y1).toEqual(y2);
    const w = new Float32Array(6).fill(1);
    const z = new Float32Array(6);
    const [a1, a2] = [new Float32Array(30), new Float32Array(30)];
    be.layerNormForward(a1, new Float32Array(5), new Float32Array(5), x, w, z, 5, 6, 1e-6);
    ts32Backend.layerNormForward(a2, new Float32Array(5), new Float32Array(5), x, w, z, 5, 6, 1e-6);
    expect(a1).toEqual(a2);
  });
});
