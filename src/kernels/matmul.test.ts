import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { matmul, matmulRef, matmulBackward, matmulBackwardRef, type MatmulLayout } from "./matmul.js";
import { withScratch } from "./arena.js";
import type { FloatArray } from "../tensor/floatArray.js";
import { DinoRefError } from "../tensor/errors.js";
import { awkwardSize, f32Array, bitEqual, seededFloats } from "../../test/arbitraries.js";

const LAYOUTS: readonly MatmulLayout[] = ["NN", "NT", "TN"];
const EPS32 = 2 ** -23; // float32 machine epsilon (twice the unit roundoff)
const MIN_SUB32 = 2 ** -149; // smallest float32 subnormal: the absolute error of an underflowing product

const abs64 = (x: FloatArray): Float64Array => Float64Array.from(x, Math.abs);

/**
 * Tolerance rule for a reduction of length L: each output of the wasm kernel is init + Σ of L
 * products, summed in float32 (one rounding per product and per addition); the oracle sums in
 * float64 and rounds once. Standard error analysis bounds the difference per element by
 *   (L + 3)·eps32·S + (L + 3)·2⁻¹⁴⁹,   S = |init| + Σ |x_k|·|y_k|,
 * the second term covering products that underflow. S is computed by the oracle itself on |inputs|.
 */
function expectWithinReductionBound(got: Float32Array, want: Float32Array, scale: Float64Array, L: number, what: string): void {
  for (let i = 0; i < got.length; i++) {
    const tol = (L + 3) * EPS32 * scale[i] + (L + 3) * MIN_SUB32;
    const diff = Math.abs(got[i] - want[i]);
    if (!(diff <= tol)) {
      throw new Error(`${what}: element ${i}: wasm ${got[i]}, oracle ${want[i]}, |Δ| = ${diff} > tol ${tol} (L = ${L})`);
    }
  }
}

/** Sizes first, then arrays of those sizes, a layout, and whether to use a bias and accumulate. */
const matmulCase = fc
  .record({ M: awkwardSize(40), K: awkwardSize(40), N: awkwardSize(40) })
  .chain(({ M, K, N }) =>
    fc.record({
      M: fc.constant(M),
      K: fc.constant(K),
      N: fc.constant(N),
      a: f32Array(M * K),
      b: f32Array(K * N),
      c0: f32Array(M * N),
      bias: fc.option(f32Array(N), { nil: null }),
      layout: fc.constantFrom(...LAYOUTS),
      accumulate: fc.boolean(),
    }),
  );

type Case = { M: number; K: number; N: number; a: Float32Array; b: Float32Array; c0: Float32Array; bias: Float32Array | null; layout: MatmulLayout; accumulate: boolean };

function checkAgainstOracle({ M, K, N, a, b, c0, bias, layout, accumulate }: Case): void {
  const want = c0.slice();
  const got = c0.slice();
  matmulRef(want, a, b, bias, M, K, N, layout, accumulate);
  matmul(got, a, b, bias, M, K, N, layout, accumulate);
  const scale = abs64(c0);
  matmulRef(scale, abs64(a), abs64(b), bias === null ? null : abs64(bias), M, K, N, layout, accumulate);
  expectWithinReductionBound(got, want, scale, K, `${layout} ${M}x${K}x${N} bias=${bias !== null} acc=${accumulate}`);
}

describe("matmul (wasm) against matmulRef (oracle)", () => {
  it("agrees within the reduction bound on random shapes, layouts, bias and accumulate", () => {
    fc.assert(fc.property(matmulCase, checkAgainstOracle));
  });

  it("agrees across every block boundary of the kernel (K > 256, M > 128, N > 2048)", () => {
    for (const [M, K, N] of [[133, 517, 19], [5, 3, 2061], [131, 260, 13]] as const) {
      for (const layout of LAYOUTS) {
        checkAgainstOracle({ M, K, N, a: seededFloats(M * K, 1), b: seededFloats(K * N, 2), c0: seededFloats(M * N, 3), bias: seededFloats(N, 4), layout, accumulate: true });
      }
    }
  });

  it("equals the float32 sum init + a0·b0 + a1·b1 + … taken in ascending k, bit for bit", () => {
    // the kernel's summation order is fixed by the shapes alone: this pins it down
    const [M, K, N] = [9, 301, 11]; // K blocks of 152 and 149: even and odd lengths
    const a = seededFloats(M * K, 5), b = seededFloats(K * N, 6), bias = seededFloats(N, 7), c0 = seededFloats(M * N, 8);
    for (const layout of LAYOUTS) {
      const got = c0.slice();
      matmul(got, a, b, bias, M, K, N, layout, true);
      const want = new Float32Array(M * N);
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          let s = Math.fround(c0[m * N + n] + bias[n]);
          for (let k = 0; k < K; k++) {
            const x = layout === "TN" ? a[k * M + m] : a[m * K + k];
            const y = layout === "NT" ? b[n * K + k] : b[k * N + n];
            s = Math.fround(s + Math.fround(x * y));
          }
          want[m * N + n] = s;
        }
      }
      expect(bitEqual(got, want), layout).toBe(true);
    }
  });

  it("computes 1×1×1", () => {
    for (const layout of LAYOUTS) {
      const c = Float32Array.of(10);
      matmul(c, Float32Array.of(3), Float32Array.of(-2), Float32Array.of(0.5), 1, 1, 1, layout, true);
      expect(c[0]).toBe(10 + 0.5 - 6);
      matmul(c, Float32Array.of(3), Float32Array.of(-2), null, 1, 1, 1, layout, false);
      expect(c[0]).toBe(-6);
    }
  });

  it("defines K = 0 as the empty sum: C = (accumulate ? C : 0) + bias", () => {
    const empty = new Float32Array(0);
    const bias = Float32Array.of(1, 2, 3);
    for (const layout of LAYOUTS) {
      const c = Float32Array.of(10, 20, 30, 40, 50, 60);
      matmul(c, empty, empty, bias, 2, 0, 3, layout, true);
      expect(Array.from(c)).toEqual([11, 22, 33, 41, 52, 63]);
      matmul(c, empty, empty, bias, 2, 0, 3, layout, false);
      expect(Array.from(c)).toEqual([1, 2, 3, 1, 2, 3]);
      matmul(c, empty, empty, null, 2, 0, 3, layout, false);
      expect(Array.from(c)).toEqual([0, 0, 0, 0, 0, 0]);
      const r = Float32Array.of(10, 20, 30, 40, 50, 60);
      matmulRef(r, empty, empty, bias, 2, 0, 3, layout, true);
      expect(Array.from(r)).toEqual([11, 22, 33, 41, 52, 63]);
    }
  });

  it("propagates a NaN in row i of A to row i of C only", () => {
    const [M, K, N] = [7, 13, 10];
    for (const layout of LAYOUTS) {
      const a = seededFloats(M * K, 9);
      const i = 5;
      a[layout === "TN" ? 4 * M + i : i * K + 4] = NaN; // op(A)[5, 4]
      const c = new Float32Array(M * N);
      matmul(c, a, seededFloats(K * N, 10), null, M, K, N, layout, false);
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) expect(Number.isNaN(c[m * N + n]), `${layout} C[${m},${n}]`).toBe(m === i);
      }
    }
  });

  it("propagates ±Inf like the oracle (Inf·0 and Inf − Inf give NaN)", () => {
    // op(A) [3,3] and op(B) [3,4] as rows; stored transposed where the layout says so
    const opA = [[Infinity, 1, 0], [1, -Infinity, 1], [1, 2, 3]];
    const opB = [[1, 0, -1, 2], [1, 1, 1, 1], [2, 2, 2, 2]];
    const flat = (rows: number[][], transposed: boolean) =>
      Float32Array.from(transposed ? rows[0].flatMap((_, j) => rows.map((r) => r[j])) : rows.flat());
    const expected = [Infinity, NaN, -Infinity, Infinity, -Infinity, -Infinity, -Infinity, -Infinity, 9, 8, 7, 10];
    for (const layout of LAYOUTS) {
      const a = flat(opA, layout === "TN"), b = flat(opB, layout === "NT");
      const want = new Float32Array(12);
      const got = new Float32Array(12);
      matmulRef(want, a, b, null, 3, 3, 4, layout, false);
      matmul(got, a, b, null, 3, 3, 4, layout, false);
      expect(Array.from(want), layout).toEqual(expected); // toEqual treats NaN as equal to NaN
      expect(Array.from(got), layout).toEqual(expected);
    }
  });

  it("keeps huge (1e30) and tiny (1e-30) magnitudes as float32 arithmetic does", () => {
    const [M, K, N] = [5, 9, 7];
    const ones = (n: number, v: number) => new Float32Array(n).fill(v);
    for (const layout of LAYOUTS) {
      // 1e30·1e-30 products: finite, exact sums of ones
      const c = new Float32Array(M * N);
      matmul(c, ones(M * K, 1e30), ones(K * N, 1e-30), null, M, K, N, layout, false);
      for (const x of c) expect(x).toBeCloseTo(K, 4);
      // 1e30·1e30 overflows float32: +Inf everywhere, as the oracle stores it
      const big = new Float32Array(M * N);
      const bigRef = new Float32Array(M * N);
      matmul(big, ones(M * K, 1e30), ones(K * N, 1e30), null, M, K, N, layout, false);
      matmulRef(bigRef, ones(M * K, 1e30), ones(K * N, 1e30), null, M, K, N, layout, false);
      expect(bitEqual(big, bigRef)).toBe(true);
      expect(big.every((x) => x === Infinity)).toBe(true);
      // 1e-30·1e-30 underflows to 0 in float32, and 1e-60 also rounds to 0 when the oracle stores it
      const tiny = new Float32Array(M * N).fill(7);
      matmul(tiny, ones(M * K, 1e-30), ones(K * N, -1e-30), null, M, K, N, layout, false);
      expect(tiny.every((x) => x === 0)).toBe(true);
      // huge values whose sums fit in float32 agree with the oracle within the bound
      checkAgainstOracle({ M, K, N, a: seededFloats(M * K, 11).map((x) => x * 1e30), b: seededFloats(K * N, 12), c0: seededFloats(M * N, 13), bias: null, layout, accumulate: true });
      checkAgainstOracle({ M, K, N, a: seededFloats(M * K, 14).map((x) => x * 1e-30), b: seededFloats(K * N, 15), c0: new Float32Array(M * N), bias: null, layout, accumulate: false });
    }
  });

  it("works on arrays that live in wasm memory (passed by pointer, no copies)", () => {
    const [M, K, N] = [19, 23, 17];
    const a = seededFloats(M * K, 16), b = seededFloats(K * N, 17), bias = seededFloats(N, 18);
    const want = new Float32Array(M * N);
    matmul(want, a, b, bias, M, K, N, "NN", false);
    withScratch((ar) => {
      const pc = ar.allocF32(M * N), pa = ar.allocF32(M * K), pb = ar.allocF32(K * N), pbias = ar.allocF32(N);
      ar.f32(pa, M * K).set(a);
      ar.f32(pb, K * N).set(b);
      ar.f32(pbias, N).set(bias);
      // warm call: sizes the arena for the workspace, so the views made next stay attached
      matmul(ar.f32(pc, M * N), ar.f32(pa, M * K), ar.f32(pb, K * N), ar.f32(pbias, N), M, K, N, "NN", false);
      const c = ar.f32(pc, M * N);
      c.fill(0);
      matmul(c, ar.f32(pa, M * K), ar.f32(pb, K * N), ar.f32(pbias, N), M, K, N, "NN", false);
      expect(bitEqual(c, want)).toBe(true);
    });
  });
});

describe("matmul with a residual (C = R + (init + op(A)·op(B)))", () => {
  it("equals the product followed by a separate float32 add of R, bit for bit, across every block boundary", () => {
    const shapes: [number, number, number][] = [[5, 3, 7], [130, 389, 19], [9, 40, 2061], [33, 0, 6]];
    for (const [M, K, N] of shapes) {
      const a = seededFloats(M * K, 1), b = seededFloats(K * N, 2), c0 = seededFloats(M * N, 3), bias = seededFloats(N, 4), r = seededFloats(M * N, 5);
      for (const layout of ["NN", "NT", "TN"] as const) {
        for (const accumulate of [false, true]) {
          const plain = c0.slice();
          matmul(plain, a, b, bias, M, K, N, layout, accumulate);
          const want = Float32Array.from(plain, (y, i) => r[i] + y);
          const fused = c0.slice();
          matmul(fused, a, b, bias, M, K, N, layout, accumulate, r);
          expect(bitEqual(fused, want), `${layout} ${M}x${K}x${N} acc=${accumulate}`).toBe(true);
          const ref = c0.slice();
          matmulRef(ref, a, b, bias, M, K, N, layout, accumulate, r);
          const refPlain = c0.slice();
          matmulRef(refPlain, a, b, bias, M, K, N, layout, accumulate);
          expect(bitEqual(ref, Float32Array.from(refPlain, (y, i) => r[i] + y))).toBe(true);
        }
      }
    }
  });

  it("refuses a residual that overlaps C", () => {
    const c = new Float32Array(8);
    expect(() => matmul(c.subarray(0, 4), new Float32Array(4), new Float32Array(4), null, 2, 2, 2, "NN", false, c.subarray(2, 6))).toThrow(/residual overlaps c/);
  });
});

describe("matmul determinism", () => {
  const [M, K, N] = [133, 300, 21]; // crosses the M block (128) and K block (256) boundaries

  it("gives bit-identical outputs for the same inputs", () => {
    const a = seededFloats(M * K, 19), b = seededFloats(K * N, 20), bias = seededFloats(N, 21);
    for (const layout of LAYOUTS) {
      const c1 = new Float32Array(M * N), c2 = new Float32Array(M * N);
      matmul(c1, a, b, bias, M, K, N, layout, false);
      matmul(c2, a, b, bias, M, K, N, layout, false);
      expect(bitEqual(c1, c2)).toBe(true);
    }
  });

  it("computes a row of C independently of the other rows of A (batch neighbours)", () => {
    const a = seededFloats(M * K, 22), b = seededFloats(K * N, 23), bias = seededFloats(N, 24);
    for (const layout of LAYOUTS) {
      const full = new Float32Array(M * N);
      matmul(full, a, b, bias, M, K, N, layout, false);
      for (const i of [0, 3, 127, 128, 132]) {
        // op(A) row i alone: A[i, :] for NN/NT, column i of A stored [K,M] for TN
        const row = Float32Array.from({ length: K }, (_, k) => (layout === "TN" ? a[k * M + i] : a[i * K + k]));
        const one = new Float32Array(N);
        matmul(one, row, b, bias, 1, K, N, layout, false);
        expect(bitEqual(one, full.subarray(i * N, (i + 1) * N)), `${layout} row ${i}`).toBe(true);
      }
    }
  });
});

describe("matmulBackward", () => {
  /** L = Σ G∘C with C = A·B + bias, in float64 through the oracle. */
  function loss(g: Float64Array, a: Float64Array, b: Float64Array, bias: Float64Array, M: number, K: number, N: number): number {
    const c = new Float64Array(M * N);
    matmulRef(c, a, b, bias, M, K, N, "NN", false);
    let s = 0;
    for (let i = 0; i < c.length; i++) s += g[i] * c[i];
    return s;
  }

  it("matmulBackwardRef matches float64 central differences of matmulRef, and accumulates", () => {
    fc.assert(
      fc.property(
        fc.record({ M: awkwardSize(9), K: awkwardSize(9), N: awkwardSize(9) }).chain(({ M, K, N }) =>
          fc.tuple(fc.constant([M, K, N] as const), f32Array(M * N), f32Array(M * K), f32Array(K * N), f32Array(N), f32Array(M * K + K * N + N)),
        ),
        ([[M, K, N], g32, a32, b32, bias32, start32]) => {
          const [g, a, b, bias] = [g32, a32, b32, bias32].map((x) => Float64Array.from(x));
          const start = Float64Array.from(start32);
          const gradA = start.slice(0, M * K), gradB = start.slice(M * K, M * K + K * N), gradBias = start.slice(M * K + K * N);
          matmulBackwardRef(gradA, gradB, gradBias, g, a, b, M, K, N);
          // L is linear in each input, so central differences are exact for any step but for the
          // float64 rounding of the two losses: ≤ (M·N + K + 3)·eps64·L(|g|, |a|+h, |b|+h, |bias|+h) each
          const h = 0.5;
          const widen = (x: Float64Array) => abs64(x).map((v) => v + h);
          const absLoss = loss(abs64(g), widen(a), widen(b), widen(bias), M, K, N);
          const tol = (2 * (M * N + K + 3) * 2 ** -52 * absLoss) / (2 * h);
          const params: [Float64Array, Float64Array, number][] = [[a, gradA, 0], [b, gradB, M * K], [bias, gradBias, M * K + K * N]];
          for (const [x, grad, offset] of params) {
            for (let i = 0; i < x.length; i++) {
              const keep = x[i];
              x[i] = keep + h;
              const up = loss(g, a, b, bias, M, K, N);
              x[i] = keep - h;
              const down = loss(g, a, b, bias, M, K, N);
              x[i] = keep;
              const fd = (up - down) / (2 * h);
              // the oracle accumulated onto start: one more float64 rounding of size eps64·|grad|
              expect(Math.abs(grad[i] - start[offset + i] - fd)).toBeLessThanOrEqual(tol + 2 ** -52 * Math.abs(grad[i]));
            }
          }
        },
      ),
      { numRuns: 20 },
    );
  });

  it("wasm agrees with matmulBackwardRef within the reduction bound, skipping null gradients", () => {
    fc.assert(
      fc.property(
        fc.record({ M: awkwardSize(40), K: awkwardSize(40), N: awkwardSize(40) }).chain(({ M, K, N }) =>
          fc.record({
            dims: fc.constant([M, K, N] as const),
            gC: f32Array(M * N), a: f32Array(M * K), b: f32Array(K * N),
            gA: fc.option(f32Array(M * K), { nil: null }),
            gB: fc.option(f32Array(K * N), { nil: null }),
            gBias: fc.option(f32Array(N), { nil: null }),
          }),
        ),
        ({ dims: [M, K, N], gC, a, b, gA, gB, gBias }) => {
          const fast = [gA?.slice() ?? null, gB?.slice() ?? null, gBias?.slice() ?? null] as const;
          const ref = [gA?.slice() ?? null, gB?.slice() ?? null, gBias?.slice() ?? null] as const;
          matmulBackward(fast[0], fast[1], fast[2], gC, a, b, M, K, N);
          matmulBackwardRef(ref[0], ref[1], ref[2], gC, a, b, M, K, N);
          // the bound's scale: the same backward on |inputs|, starting from |gradients|
          const scale = [gA && abs64(gA), gB && abs64(gB), gBias && abs64(gBias)] as const;
          matmulBackwardRef(scale[0], scale[1], scale[2], abs64(gC), abs64(a), abs64(b), M, K, N);
          const lengths = [N, M, M]; // reductions: gradA over N, gradB and gradBias over M
          for (let i = 0; i < 3; i++) {
            if (fast[i] === null) continue;
            expectWithinReductionBound(fast[i]!, Float32Array.from(ref[i]!), scale[i]!, lengths[i], ["gradA", "gradB", "gradBias"][i]);
          }
        },
      ),
    );
  });

  it("accepts all-null gradients (nothing to do)", () => {
    expect(() => matmulBackward(null, null, null, seededFloats(6, 25), seededFloats(6, 26), seededFloats(4, 27), 3, 2, 2)).not.toThrow();
  });
});

describe("matmul argument checks", () => {
  const f = (n: number) => new Float32Array(n);
  it("names the argument and the expected shape", () => {
    expect(() => matmul(f(5), f(6), f(8), null, 2, 3, 4, "NN", false)).toThrow(/c has 5 elements; expected \[M,N\] = \[2,4\] = 8/);
    expect(() => matmul(f(8), f(5), f(12), null, 2, 3, 4, "NN", false)).toThrow(/a has 5 elements; expected \[M,K\] = \[2,3\] = 6/);
    expect(() => matmul(f(8), f(5), f(12), null, 2, 3, 4, "TN", false)).toThrow(/a has 5 elements; expected \[K,M\] = \[3,2\] = 6/);
    expect(() => matmul(f(8), f(6), f(11), null, 2, 3, 4, "NT", false)).toThrow(/b has 11 elements; expected \[N,K\] = \[4,3\] = 12/);
    expect(() => matmul(f(8), f(6), f(12), f(3), 2, 3, 4, "NN", false)).toThrow(/bias has 3 elements; expected \[N\] = \[4\] = 4/);
    expect(() => matmul(f(8), f(6), f(12), null, 0, 3, 4, "NN", false)).toThrow(/M = 0; expected a positive integer/);
    expect(() => matmul(f(8), f(6), f(12), null, 2, 1.5, 4, "NN", false)).toThrow(/K = 1.5; expected a non-negative integer/);
    expect(() => matmul(f(8), f(6), f(12), null, 2, 3, -4, "NN", false)).toThrow(/N = -4; expected a positive integer/);
    expect(() => matmul(f(8), f(6), f(12), null, 2, 3, 4, "TT" as MatmulLayout, false)).toThrow(/layout "TT"/);
    expect(() => matmulRef(f(8), f(6), f(12), null, 2, 3, 4, "NN", false)).not.toThrow();
    expect(() => matmulRef(f(7), f(6), f(12), null, 2, 3, 4, "NN", false)).toThrow(DinoRefError);
  });

  it("names the gradient whose length is wrong", () => {
    expect(() => matmulBackward(f(5), null, null, f(8), f(6), f(12), 2, 3, 4)).toThrow(/matmulBackward: gradA has 5 elements; expected \[M,K\]/);
    expect(() => matmulBackward(null, f(5), null, f(8), f(6), f(12), 2, 3, 4)).toThrow(/gradB has 5 elements; expected \[K,N\]/);
    expect(() => matmulBackwardRef(null, null, f(5), f(8), f(6), f(12), 2, 3, 4)).toThrow(/matmulBackwardRef: gradBias has 5 elements; expected \[N\]/);
    expect(() => matmulBackward(null, null, null, f(9), f(6), f(12), 2, 3, 4)).toThrow(/gradC has 9 elements/);
  });
});
