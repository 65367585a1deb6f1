import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  attentionBackward, attentionBackwardRef, attentionBackwardRows, attentionBackwardRowsRef, attentionForward, attentionForwardRef,
  attentionForwardRows, attentionForwardRowsRef,
} from "./attention.js";
import { awkwardSize, bitEqual, f32Array } from "../../test/arbitraries.js";
import { U32, sameFloats } from "../../test/compare.js";

interface Shape {
  B: number;
  H: number;
  N: number;
  Dh: number;
}

function fwd(impl: "wasm" | "ref", s: Shape, q: Float32Array, k: Float32Array, v: Float32Array, scale: number) {
  const out = new Float32Array(s.B * s.H * s.N * s.Dh).fill(9);
  const attn = new Float32Array(s.B * s.H * s.N * s.N).fill(9);
  (impl === "wasm" ? attentionForward : attentionForwardRef)(out, attn, q, k, v, s.B, s.H, s.N, s.Dh, scale);
  return { out, attn };
}

function bwd(impl: "wasm" | "ref", s: Shape, gradOut: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, attn: Float32Array, scale: number, init = 0) {
  const n = s.B * s.H * s.N * s.Dh;
  const g = { gradQ: new Float32Array(n).fill(init), gradK: new Float32Array(n).fill(init), gradV: new Float32Array(n).fill(init) };
  (impl === "wasm" ? attentionBackward : attentionBackwardRef)(g.gradQ, g.gradK, g.gradV, gradOut, q, k, v, attn, s.B, s.H, s.N, s.Dh, scale);
  return g;
}

/** Shapes first (B, H small; N, Dh awkward), then q, k, v, gradOut and a scale. */
const attnCase = fc
  .record({ B: fc.integer({ min: 1, max: 2 }), H: fc.integer({ min: 1, max: 2 }), N: awkwardSize(40), Dh: awkwardSize(70) })
  .chain((s) => {
    const n = s.B * s.H * s.N * s.Dh;
    return fc.record({
      s: fc.constant(s),
      q: f32Array(n, 2),
      k: f32Array(n, 2),
      v: f32Array(n, 2),
      gradOut: f32Array(n, 2),
      scale: fc.constantFrom(0.125, 1 / Math.sqrt(s.Dh), 1),
    });
  });

/**
 * Error bounds of the wasm kernel against the float64 oracle, from first-order error analysis:
 * an f32 dot product of length L is off by ≤ L·u·Σ|terms|; softmax turns score errors δ into
 * attn errors ≤ 2·p·max|δ|; the kernel's float32 exp adds ≤ 2 ulp (4u) to each e, its float32 row
 * sum (four lanes of ⌈N/4⌉ terms, then 3 adds) ≤ (⌈N/4⌉ + 2)·u, the division u; every stored value
 * adds one rounding.
 */
function forwardBounds(s: Shape, q: Float32Array, k: Float32Array, v: Float32Array, attn: Float32Array, scale: number) {
  const { B, H, N, Dh } = s;
  const attnTol = new Float64Array(B * H * N * N);
  const outTol = new Float64Array(B * H * N * Dh);
  for (let bh = 0; bh < B * H; bh++) {
    const o = bh * N * Dh;
    const a = bh * N * N;
    for (let i = 0; i < N; i++) {
      let e = 0; // max score error in row i
      for (let j = 0; j < N; j++) {
        let abs = 0;
        for (let d = 0; d < Dh; d++) abs += Math.abs(q[o + i * Dh + d] * k[o + j * Dh + d]);
        e = Math.max(e, (Dh + 2) * U32 * Math.abs(scale) * abs);
      }
      for (let j = 0; j < N; j++) attnTol[a + i * N + j] = attn[a + i * N + j] * (2 * e + (Math.ceil(N / 4) + 8) * U32) + 2 ** -149;
      for (let d = 0; d < Dh; d++) {
        let fromAttn = 0;
        let abs = 0;
        for (let j = 0; j < N; j++) {
          fromAttn += attnTol[a + i * N + j] * Math.abs(v[o + j * Dh + d]);
          abs += attn[a + i * N + j] * Math.abs(v[o + j * Dh + d]);
        }
        outTol[o + i * Dh + d] = fromAttn + (N + 2) * U32 * abs;
      }
    }
  }
  return { attnTol, outTol };
}

function backwardBounds(s: Shape, gradOut: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, attn: Float32Array, scale: number) {
  const { B, H, N, Dh } = s;
  const n = B * H * N * Dh;
  const tq = new Float64Array(n);
  const tk = new Float64Array(n);
  const tv = new Float64Array(n);
  const dG = new Float64Array(N * N); // error bound of gradScores·scale
  const absG = new Float64Array(N * N); // |gradScores·scale| bound
  for (let bh = 0; bh < B * H; bh++) {
    const o = bh * N * Dh;
    const a = bh * N * N;
    for (let i = 0; i < N; i++) {
      const dGA = new Float64Array(N);
      const absGA = new Float64Array(N);
      let dRow = 0;
      let absRow = 0;
      for (let j = 0; j < N; j++) {
        let abs = 0;
        for (let d = 0; d < Dh; d++) abs += Math.abs(gradOut[o + i * Dh + d] * v[o + j * Dh + d]);
        absGA[j] = abs;
        dGA[j] = (Dh + 1) * U32 * abs;
        dRow += dGA[j] * attn[a + i * N + j];
        absRow += abs * attn[a + i * N + j];
      }
      for (let j = 0; j < N; j++) {
        const p = attn[a + i * N + j];
        absG[i * N + j] = Math.abs(scale) * p * (absGA[j] + absRow);
        dG[i * N + j] = Math.abs(scale) * p * (dGA[j] + dRow) + 3 * U32 * absG[i * N + j];
      }
    }
    for (let i = 0; i < N; i++) {
      for (let d = 0; d < Dh; d++) {
        let eq = 0, aq = 0, ek = 0, ak = 0, av = 0;
        for (let j = 0; j < N; j++) {
          eq += dG[i * N + j] * Math.abs(k[o + j * Dh + d]);
          aq += absG[i * N + j] * Math.abs(k[o + j * Dh + d]);
          ek += dG[j * N + i] * Math.abs(q[o + j * Dh + d]);
          ak += absG[j * N + i] * Math.abs(q[o + j * Dh + d]);
          av += attn[a + j * N + i] * Math.abs(gradOut[o + j * Dh + d]);
        }
        tq[o + i * Dh + d] = eq + (N + 2) * U32 * aq;
        tk[o + i * Dh + d] = ek + (N + 2) * U32 * ak;
        tv[o + i * Dh + d] = (N + 2) * U32 * av;
      }
    }
  }
  return { tq, tk, tv };
}

/**
 * |a − b| ≤ 2·tol + one float32 ulp of b everywhere (both sides round their final sum or their
 * final add into an accumulated gradient), plus `roundings` times the subnormal spacing 2^-149 for
 * sums that underflow; returns the first failing index or −1.
 */
function withinBound(a: ArrayLike<number>, b: ArrayLike<number>, tol: ArrayLike<number>, roundings = 1): number {
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i] - b[i]) <= 2 * tol[i] + 2 * U32 * Math.abs(b[i]) + roundings * 2 ** -149)) return i;
  }
  return -1;
}

describe("attention forward: wasm against the oracle", () => {
  it("agrees within the derived f32 dot-product and softmax error bounds", () => {
    fc.assert(
      fc.property(attnCase, ({ s, q, k, v, scale }) => {
        const fast = fwd("wasm", s, q, k, v, scale);
        const ref = fwd("ref", s, q, k, v, scale);
        const { attnTol, outTol } = forwardBounds(s, q, k, v, ref.attn, scale);
        expect(withinBound(fast.attn, ref.attn, attnTol)).toBe(-1);
        expect(withinBound(fast.out, ref.out, outTol, 2 * (s.N + 2))).toBe(-1);
      }),
      { numRuns: 60 },
    );
  });

  it("computes softmax((q·kᵀ)·scale)·v on a hand example (scale once, after the dot product)", () => {
    // N = 2, Dh = 1: scores row 0 = [1·2, 1·0]·0.5 = [1, 0]; row 1 = [0, 0]
    const s = { B: 1, H: 1, N: 2, Dh: 1 };
    for (const impl of ["wasm", "ref"] as const) {
      const { out, attn } = fwd(impl, s, Float32Array.from([1, 0]), Float32Array.from([2, 0]), Float32Array.from([10, -4]), 0.5);
      const p = Math.E / (Math.E + 1);
      expect(attn[0]).toBe(Math.fround(p));
      expect(attn[1]).toBe(Math.fround(1 - p));
      expect(attn[2]).toBe(0.5);
      expect(attn[3]).toBe(0.5);
      expect(Math.abs(out[0] - (10 * p - 4 * (1 - p)))).toBeLessThanOrEqual(4 * U32 * 10);
      expect(out[1]).toBe(3);
    }
  });

  it("gives rows that sum to 1, invariant to a shift of every score in a row, and equivariant to permuting keys with values", () => {
    fc.assert(
      fc.property(attnCase, fc.integer(), ({ s, q, k, v, scale }, seed) => {
        const { B, H, N, Dh } = s;
        const base = fwd("wasm", s, q, k, v, scale);
        for (let r = 0; r < B * H * N; r++) {
          let sum = 0;
          for (let j = 0; j < N; j++) sum += base.attn[r * N + j];
          expect(Math.abs(sum - 1)).toBeLessThanOrEqual((N + 2) * U32);
        }
        // k_j → k_j + u for every key j adds scale·(q_i·u) to all of row i's scores: attn unchanged
        const shifted = k.slice();
        for (let i = 0; i < shifted.length; i++) shifted[i] = Math.fround(shifted[i] + 0.5 - (i % Dh) / Dh);
        const moved = fwd("wasm", s, q, shifted, v, scale);
        const tol1 = forwardBounds(s, q, k, v, base.attn, scale);
        const tol2 = forwardBounds(s, q, shifted, v, moved.attn, scale);
        const tolA = tol1.attnTol.map((t, i) => 2 * (t + tol2.attnTol[i]));
        const tolO = tol1.outTol.map((t, i) => 2 * (t + tol2.outTol[i]));
        expect(withinBound(moved.attn, base.attn, tolA)).toBe(-1);
        expect(withinBound(moved.out, base.out, tolO, 4 * (N + 2))).toBe(-1);
        // a permutation π of the keys and values: out unchanged, attn columns permuted
        const perm = Array.from({ length: N }, (_, j) => j).sort((x, y) => ((x * 7919 + seed) % 101) - ((y * 7919 + seed) % 101));
        const pk = k.slice();
        const pv = v.slice();
        for (let bh = 0; bh < B * H; bh++) {
          for (let j = 0; j < N; j++) {
            const to = (bh * N + j) * Dh;
            const from = (bh * N + perm[j]) * Dh;
            pk.set(k.subarray(from, from + Dh), to);
            pv.set(v.subarray(from, from + Dh), to);
          }
        }
        const permuted = fwd("wasm", s, q, pk, pv, scale);
        expect(withinBound(permuted.out, base.out, tol1.outTol.map((t) => 2 * t), 4 * (N + 2))).toBe(-1);
        // the same exps, summed in another order: each probability within the two sums' rounding
        for (let r = 0; r < B * H * N; r++) {
          for (let j = 0; j < N; j++) {
            const want = base.attn[r * N + perm[j]];
            expect(Math.abs(permuted.attn[r * N + j] - want)).toBeLessThanOrEqual(2 * (Math.ceil(N / 4) + 3) * U32 * want);
          }
        }
      }),
      { numRuns: 40 },
    );
  });

  it("handles equal, huge, tiny, NaN and infinite scores like the oracle", () => {
    const s = { B: 1, H: 2, N: 5, Dh: 3 };
    const n = 2 * 5 * 3;
    const v = Float32Array.from({ length: n }, (_, i) => i - 7);
    const k = Float32Array.from({ length: n }, (_, i) => ((i * 5) % 7) - 3);
    // all-equal scores (q = 0): attn = f32(1/N) exactly; tiny q: the same to rounding
    for (const qv of [0, 1e-30]) {
      const q = new Float32Array(n).fill(qv);
      for (const impl of ["wasm", "ref"] as const) {
        const { attn } = fwd(impl, s, q, k, v, 0.125);
        attn.forEach((p) => expect(p).toBe(Math.fround(1 / 5)));
      }
    }
    // huge scores (~1e18): the softmax saturates
    const q = Float32Array.from({ length: n }, (_, i) => (i % 3) - 1).map((x) => x * 1e18);
    const kd = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.3 + 0.2)); // distinct scores
    const fast = fwd("wasm", s, q, kd, v, 0.125);
    const ref = fwd("ref", s, q, kd, v, 0.125);
    expect(sameFloats(fast.attn, ref.attn)).toBe(true);
    // huge scores: every row is 0 except its m tied maxima, each exactly f32(1/m)
    expect(fast.attn.every((p) => p === 0 || [1, 2, 3, 4, 5].some((m) => p === Math.fround(1 / m)))).toBe(true);
    expect(fast.attn.filter((p) => p === 1).length).toBe(10); // one-hot rows
    // NaN in one query row: that row is NaN, the rest finite; +Inf scores make their row NaN (Inf − Inf)
    const qn = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
    qn[4] = NaN; // head 0, row 1
    qn[3 * 5 + 6] = Infinity; // head 1, row 2
    const a = fwd("wasm", s, qn, k.map(Math.abs).map((x) => x + 1), v, 0.125);
    const b = fwd("ref", s, qn, k.map(Math.abs).map((x) => x + 1), v, 0.125);
    const nanAt = (x: Float32Array) => Array.from(x, Number.isNaN);
    expect(nanAt(a.attn)).toEqual(nanAt(b.attn));
    expect(nanAt(a.out)).toEqual(nanAt(b.out));
    for (let r = 0; r < 10; r++) {
      const row = Array.from(a.attn.subarray(r * 5, r * 5 + 5));
      if (r === 1 || r === 7) expect(row.every(Number.isNaN)).toBe(true);
      else expect(row.every(Number.isFinite)).toBe(true);
    }
  });

  it("gives each sample bit-identical results alone and inside a batch (forward and backward)", () => {
    const one = { B: 1, H: 3, N: 17, Dh: 13 };
    const batch = { ...one, B: 4 };
    const n1 = 3 * 17 * 13;
    const rnd = (seed: number) => Float32Array.from({ length: 4 * n1 }, (_, i) => Math.sin(i * 0.731 + seed) * 2);
    const [q, k, v, go] = [rnd(1), rnd(2), rnd(3), rnd(4)];
    const all = fwd("wasm", batch, q, k, v, 0.125);
    const gAll = bwd("wasm", batch, go, q, k, v, all.attn, 0.125);
    for (let b = 0; b < 4; b++) {
      const t = (x: Float32Array) => x.slice(b * n1, (b + 1) * n1);
      const alone = fwd("wasm", one, t(q), t(k), t(v), 0.125);
      expect(bitEqual(alone.out, t(all.out))).toBe(true);
      expect(bitEqual(alone.attn, all.attn.slice(b * 3 * 17 * 17, (b + 1) * 3 * 17 * 17))).toBe(true);
      const g = bwd("wasm", one, t(go), t(q), t(k), t(v), alone.attn, 0.125);
      expect(bitEqual(g.gradQ, t(gAll.gradQ))).toBe(true);
      expect(bitEqual(g.gradK, t(gAll.gradK))).toBe(true);
      expect(bitEqual(g.gradV, t(gAll.gradV))).toBe(true);
    }
  });
});

describe("attention backward", () => {
  it("wasm agrees with the oracle within the derived error bounds (accumulating onto non-zero gradients)", () => {
    fc.assert(
      fc.property(attnCase, fc.float({ min: -1, max: 1, noNaN: true }), ({ s, q, k, v, gradOut, scale }, init) => {
        const { attn } = fwd("wasm", s, q, k, v, scale);
        const fast = bwd("wasm", s, gradOut, q, k, v, attn, scale, init);
        const ref = bwd("ref", s, gradOut, q, k, v, attn, scale, init);
        const { tq, tk, tv } = backwardBounds(s, gradOut, q, k, v, attn, scale);
        const roundings = 2 * (s.N + s.Dh + 4);
        expect(withinBound(fast.gradQ, ref.gradQ, tq, roundings)).toBe(-1);
        expect(withinBound(fast.gradK, ref.gradK, tk, roundings)).toBe(-1);
        expect(withinBound(fast.gradV, ref.gradV, tv, roundings)).toBe(-1);
      }),
      { numRuns: 60 },
    );
  });

  it("matches float64 central finite differences of the float64 oracle (loss Σ gradOut·out)", () => {
    const small = fc
      .record({ B: fc.integer({ min: 1, max: 2 }), H: fc.integer({ min: 1, max: 2 }), N: fc.integer({ min: 1, max: 5 }), Dh: fc.integer({ min: 1, max: 5 }) })
      .chain((s) => {
        const n = s.B * s.H * s.N * s.Dh;
        return fc.record({ s: fc.constant(s), q: f32Array(n, 2), k: f32Array(n, 2), v: f32Array(n, 2), gradOut: f32Array(n, 2), scale: fc.constantFrom(0.125, 0.7) });
      });
    fc.assert(
      fc.property(small, ({ s, q: q32, k: k32, v: v32, gradOut: go32, scale }) => {
        const { B, H, N, Dh } = s;
        const [q, k, v, go] = [q32, k32, v32, go32].map((x) => Float64Array.from(x));
        const out = new Float64Array(B * H * N * Dh);
        const attn = new Float64Array(B * H * N * N);
        const loss = () => {
          attentionForwardRef(out, attn, q, k, v, B, H, N, Dh, scale);
          let l = 0;
          for (let i = 0; i < out.length; i++) l += go[i] * out[i];
          return l;
        };
        loss();
        const gq = new Float64Array(out.length);
        const gk = new Float64Array(out.length);
        const gv = new Float64Array(out.length);
        attentionBackwardRef(gq, gk, gv, go, q, k, v, attn, B, H, N, Dh, scale);
        const h = 1e-6;
        for (const [x, g] of [[q, gq], [k, gk], [v, gv]] as const) {
          for (let i = 0; i < x.length; i++) {
            const keep = x[i];
            x[i] = keep + h;
            const up = loss();
            x[i] = keep - h;
            const down = loss();
            x[i] = keep;
            const fd = (up - down) / (2 * h);
            // truncation h²·|f'''| (scores ≤ 4·Dh·scale here) plus cancellation of ~B·H·N·Dh terms of size ≤ 4·2/h
            expect(Math.abs(fd - g[i])).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(g[i])) + (out.length * 8 * 2 ** -52) / h);
          }
        }
      }),
      { numRuns: 40 },
    );
  });

  it("accumulates: calling it twice doubles every gradient", () => {
    const s = { B: 2, H: 1, N: 7, Dh: 5 };
    const n = 2 * 7 * 5;
    const r = (seed: number) => Float32Array.from({ length: n }, (_, i) => Math.cos(i * 1.3 + seed));
    const [q, k, v, go] = [r(0), r(1), r(2), r(3)];
    const { attn } = fwd("wasm", s, q, k, v, 0.125);
    for (const impl of ["wasm", "ref"] as const) {
      const fn = impl === "wasm" ? attentionBackward : attentionBackwardRef;
      const g = bwd(impl, s, go, q, k, v, attn, 0.125);
      const once = [g.gradQ.slice(), g.gradK.slice(), g.gradV.slice()];
      fn(g.gradQ, g.gradK, g.gradV, go, q, k, v, attn, 2, 1, 7, 5, 0.125);
      [g.gradQ, g.gradK, g.gradV].forEach((x, j) => expect(Array.from(x)).toEqual(Array.from(once[j], (y) => 2 * y)));
      expect(once.every((x) => x.some((y) => y !== 0))).toBe(true);
    }
  });
});

/** [q | k | v] per-head tensors [B,H,N,Dh] as the qkv rows [B·N, 3D] (S = 3) or heads ↔ merged rows (S = 1). */
function toRows(heads: Float32Array[], B: number, H: number, N: number, Dh: number): Float32Array {
  const S = heads.length;
  const D = H * Dh;
  const rows = new Float32Array(B * N * S * D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let n = 0; n < N; n++) {
        for (let s = 0; s < S; s++) {
          const src = ((b * H + h) * N + n) * Dh;
          rows.set(heads[s].subarray(src, src + Dh), (b * N + n) * S * D + s * D + h * Dh);
        }
      }
    }
  }
  return rows;
}

/** Equal values (+0 and −0 alike: a fresh gradient written vs accumulated onto zeros), NaN matching NaN. */
function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  return a.length === b.length && Array.from(a).every((x, i) => x === b[i] || (Number.isNaN(x) && Number.isNaN(b[i])));
}

describe("attention on the model's rows (qkv [B·N, 3D] in, merged heads [B·N, D] out)", () => {
  it("wasm gives the per-head kernel's numbers, bit for bit, in the row layout; attn null writes none", () => {
    fc.assert(
      fc.property(attnCase, ({ s, q, k, v, gradOut, scale }) => {
        const { B, H, N, Dh } = s;
        const heads = fwd("wasm", s, q, k, v, scale);
        const g = bwd("wasm", s, gradOut, q, k, v, heads.attn, scale);
        const qkv = toRows([q, k, v], B, H, N, Dh);
        const out = new Float32Array(B * N * H * Dh).fill(7);
        const attn = new Float32Array(B * H * N * N).fill(7);
        attentionForwardRows(out, attn, qkv, B, H, N, Dh, scale);
        expect(bitEqual(out, toRows([heads.out], B, H, N, Dh))).toBe(true);
        expect(bitEqual(attn, heads.attn)).toBe(true);
        const out2 = new Float32Array(out.length);
        attentionForwardRows(out2, null, qkv, B, H, N, Dh, scale);
        expect(bitEqual(out2, out)).toBe(true);
        const gradQkv = new Float32Array(qkv.length).fill(7); // overwritten whole
        attentionBackwardRows(gradQkv, toRows([gradOut], B, H, N, Dh), qkv, attn, B, H, N, Dh, scale);
        expect(sameValues(gradQkv, toRows([g.gradQ, g.gradK, g.gradV], B, H, N, Dh))).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it("with only the first `queries` tokens of each sample as queries: those rows of full attention, and its gradients for zero gradOut elsewhere (wasm and oracle)", () => {
    fc.assert(
      fc.property(attnCase, fc.integer({ min: 1, max: 40 }), ({ s, q, k, v, gradOut, scale }, nq0) => {
        const { B, H, N, Dh } = s;
        const NQ = 1 + (nq0 % N);
        const D = H * Dh;
        const qkv = toRows([q, k, v], B, H, N, Dh);
        const go = toRows([gradOut], B, H, N, Dh);
        // gradOut of the other rows zeroed, for the full computation
        const goFull = go.map((x, i) => (Math.floor(i / D) % N < NQ ? x : 0));
        const goQ = new Float32Array(B * NQ * D);
        for (let b = 0; b < B; b++) goQ.set(go.subarray(b * N * D, (b * N + NQ) * D), b * NQ * D);
        for (const [fwdFn, bwdFn] of [[attentionForwardRows, attentionBackwardRows], [attentionForwardRowsRef, attentionBackwardRowsRef]] as const) {
          const out = new Float32Array(B * N * D), attn = new Float32Array(B * H * N * N);
          fwdFn(out, attn, qkv, B, H, N, Dh, scale);
          const outQ = new Float32Array(B * NQ * D), attnQ = new Float32Array(B * H * NQ * N);
          fwdFn(outQ, attnQ, qkv, B, H, N, Dh, scale, NQ);
          for (let b = 0; b < B; b++) expect(bitEqual(outQ.subarray(b * NQ * D, (b + 1) * NQ * D), out.subarray(b * N * D, (b * N + NQ) * D))).toBe(true);
          for (let bh = 0; bh < B * H; bh++) expect(bitEqual(attnQ.subarray(bh * NQ * N, (bh + 1) * NQ * N), attn.subarray(bh * N * N, (bh * N + NQ) * N))).toBe(true);
          const gFull = new Float32Array(qkv.length), gQ = new Float32Array(qkv.length).fill(3);
          bwdFn(gFull, goFull, qkv, attn, B, H, N, Dh, scale);
          bwdFn(gQ, goQ, qkv, attnQ, B, H, N, Dh, scale, NQ);
          expect(sameValues(gQ, gFull)).toBe(true);
        }
      }),
      { numRuns: 40 },
    );
  });

  it("the row-layout oracles are the per-head oracles on the split heads", () => {
    const [B, H, N, Dh] = [2, 3, 5, 4];
    const n = B * H * N * Dh;
    const r = (seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed));
    const [q, k, v, go] = [r(1), r(2), r(3), r(4)];
    const out = new Float32Array(n), attn = new Float32Array(B * H * N * N);
    attentionForwardRef(out, attn, q, k, v, B, H, N, Dh, 0.5);
    const [gq, gk, gv] = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
    attentionBackwardRef(gq, gk, gv, go, q, k, v, attn, B, H, N, Dh, 0.5);
    const outRows = new Float32Array(n), attnRows = new Float32Array(B * H * N * N);
    attentionForwardRowsRef(outRows, attnRows, toRows([q, k, v], B, H, N, Dh), B, H, N, Dh, 0.5);
    expect(bitEqual(attnRows, attn)).toBe(true);
    expect(bitEqual(outRows, toRows([out], B, H, N, Dh))).toBe(true);
    const gRows = new Float32Array(3 * n).fill(5); // overwritten whole
    attentionBackwardRowsRef(gRows, toRows([go], B, H, N, Dh), toRows([q, k, v], B, H, N, Dh), attn, B, H, N, Dh, 0.5);
    expect(bitEqual(gRows, toRows([gq, gk, gv], B, H, N, Dh))).toBe(true);
  });
});

describe("attention argument checks", () => {
  it("names the argument and what was expected", () => {
    const f = (n: number) => new Float32Array(n);
    expect(() => attentionForward(f(24), f(32), f(24), f(24), f(23), 1, 2, 4, 3, 0.125)).toThrow(
      /attentionForward: v has 23 elements, expected B·H·N·Dh = 1·2·4·3 = 24/,
    );
    expect(() => attentionForwardRef(f(24), f(30), f(24), f(24), f(24), 1, 2, 4, 3, 0.125)).toThrow(/attn has 30 elements, expected B·H·N·N/);
    expect(() => attentionForward(f(0), f(0), f(0), f(0), f(0), 1, 0, 4, 3, 0.125)).toThrow(/H \(heads\) must be a positive integer, got 0/);
    expect(() => attentionBackward(f(24), f(24), f(24), f(24), f(24), f(24), f(24), f(32), 1, 2, 4, 3, NaN)).toThrow(/scale must be a finite number/);
  });
});
