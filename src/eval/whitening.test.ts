import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { symmetricEigen } from "./symmetricEigen.js";
import { applyWhitening, learnWhitening } from "./whitening.js";
import { gemDescriptors } from "./gem.js";
import { copyDetectionScores } from "./copyDetection.js";
import { ts32Backend } from "../kernels/backend.js";
import { Rng } from "../tensor/rng.js";

describe("symmetricEigen", () => {
  it("reconstructs A = V diag(λ) Vᵀ with orthonormal V and ascending λ", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.nat(1000), (n, seed) => {
        const rng = new Rng(seed, 3);
        const b = Array.from({ length: n * n }, () => rng.normal());
        const a = new Float64Array(n * n);
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = b[i * n + j] + b[j * n + i];
        const { values, vectors } = symmetricEigen(a, n);
        for (let j = 1; j < n; j++) expect(values[j]).toBeGreaterThanOrEqual(values[j - 1]);
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
          let rec = 0;
          let dot = 0;
          for (let k = 0; k < n; k++) {
            rec += vectors[i * n + k] * values[k] * vectors[j * n + k];
            dot += vectors[k * n + i] * vectors[k * n + j];
          }
          expect(rec).toBeCloseTo(a[i * n + j], 9);
          expect(dot).toBeCloseTo(i === j ? 1 : 0, 9);
        }
      }),
      { numRuns: 50 },
    );
  });
});

describe("learnWhitening / applyWhitening (utils.PCA, whit 0.5)", () => {
  it("makes the whitening set's second moment about its mean the identity when its mean is zero", () => {
    // symmetric data (x and −x): mean 0, so the uncentred and centred covariances agree
    const rng = new Rng(1, 2);
    const E = 5;
    const half = Array.from({ length: 40 * E }, (_, i) => rng.normal() * (1 + (i % E)));
    const w = Float32Array.from([...half, ...half.map((v) => -v)]);
    const out = applyWhitening(learnWhitening(w, E), w);
    for (let a = 0; a < E; a++) for (let b = 0; b < E; b++) {
      let s = 0;
      for (let i = 0; i < 80; i++) s += out[i * E + a] * out[i * E + b];
      expect(s / 80).toBeCloseTo(a === b ? 1 : 0, 4);
    }
  });

  it("raises eigenvalues below max·1e−5 to that floor (a rank-deficient whitening set stays finite)", () => {
    const w = Float32Array.from([1, 2, 0, 2, 4, 0]); // rank 1 in 3 dims
    const wh = learnWhitening(w, 3);
    expect(wh.projection.every(Number.isFinite)).toBe(true);
    expect(() => learnWhitening(new Float32Array(6), 3)).toThrow(/all zero/);
  });
});

describe("GeM descriptors and copy-detection scores", () => {
  it("puts the CLS token first and the GeM of the patches second; p = 1 is the mean of the clamped tokens", () => {
    const tokens = Float32Array.from([9, 8, 1, -2, 3, 4]); // B 1, N 3 (CLS + 2 patches), D 2
    const d1 = gemDescriptors(tokens, 1, 3, 2, 1);
    expect(Array.from(d1)).toEqual([9, 8, 2, Math.fround((1e-6 + 4) / 2)]);
    const d4 = gemDescriptors(tokens, 1, 3, 2, 4);
    expect(d4[2]).toBeCloseTo(((1 + 81) / 2) ** 0.25, 5);
  });

  it("scores AP 1 for copies that retrieve their original first, 1/(2(r+1)) at rank r, 0 beyond the top k", () => {
    const db = Float32Array.from([1, 0, 0, 1, 1, 1]);
    const q = Float32Array.from([0.9, 0.1, 0.45, 0.6, -1, 0.2]);
    const r = copyDetectionScores(ts32Backend, q, db, null, 2, [[0], [1], [0]], 2);
    expect(r.aps[0]).toBe(1);
    expect(r.aps[1]).toBe(0.25); // original second behind the diagonal image
    expect(r.aps[2]).toBe(0); // not in the top 2
    expect(r.map).toBeCloseTo(1.25 / 3, 15);
  });
});
