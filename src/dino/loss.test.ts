import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { dinoLoss, dinoLossWithCenterUpdate } from "./loss.js";
import { updateCenter } from "./center.js";
import { wasmBackend } from "../kernels/backend.js";
import { DinoRefError } from "../tensor/errors.js";
import {
  checkCentreShiftInvariance, checkEntropyLowerBound, checkFiniteDifferences, checkLossUsesOldCentre,
  checkSameViewSkipped, lossCase, softmaxRow, type LossCase,
} from "../../test/dinoChecks.js";

/** Random loss cases: 2..5 crops, 1..3 images, K not a multiple of 4, head-like values. */
const lossCases = fc
  .record({
    seed: fc.integer(),
    ncrops: fc.integer({ min: 2, max: 5 }),
    B: fc.integer({ min: 1, max: 3 }),
    K: fc.constantFrom(1, 2, 3, 5, 7, 13),
    studentTemp: fc.constantFrom(0.1, 0.2, 1),
    teacherTemp: fc.constantFrom(0.04, 0.07, 1),
  })
  .map((r) => lossCase(r.seed, r.ncrops, r.B, r.K, r.studentTemp, r.teacherTemp));

function run(c: LossCase) {
  return dinoLoss(
    { shape: [c.ncrops * c.B, c.K], data: c.student },
    { shape: [2 * c.B, c.K], data: c.teacher },
    c.center,
    { studentTemp: c.studentTemp, teacherTemp: c.teacherTemp, ncrops: c.ncrops },
  );
}

/** Ps and Pt rows computed independently of the implementation. */
function probs(c: LossCase) {
  const row = (x: Float64Array, r: number) => x.subarray(r * c.K, (r + 1) * c.K);
  const Ps = Array.from({ length: c.ncrops * c.B }, (_, r) => softmaxRow(row(c.student, r), c.studentTemp));
  const Pt = Array.from({ length: 2 * c.B }, (_, r) => softmaxRow(Array.from(row(c.teacher, r), (x, k) => x - c.center[k]), c.teacherTemp));
  return { Ps, Pt };
}

describe("dinoLoss: structure of the sum", () => {
  it("has 2·ncrops − 2 terms, in the official (iq, v) order, skipping v = iq", () => {
    fc.assert(
      fc.property(lossCases, (c) => {
        const r = run(c);
        expect(r.terms).toBe(2 * c.ncrops - 2);
        const expected: [number, number][] = [];
        for (let iq = 0; iq < 2; iq++) for (let v = 0; v < c.ncrops; v++) if (v !== iq) expected.push([iq, v]);
        expect(r.pairs.map((p) => [p.teacherCrop, p.studentCrop])).toEqual(expected);
        // L = mean of the pair batch-means
        expect(r.loss).toBeCloseTo(r.pairs.reduce((a, p) => a + p.crossEntropy, 0) / r.terms, 12);
      }),
    );
  });

  it("each pair term is H(Pt) + KL(Pt‖Ps), so the loss never falls below the teachers' mean entropy", () => {
    fc.assert(
      fc.property(lossCases, (c) => {
        const r = run(c);
        for (const p of r.pairs) {
          expect(Math.abs(p.crossEntropy - (p.teacherEntropy + p.kl))).toBeLessThanOrEqual(1e-12 * Math.max(1, p.crossEntropy));
          expect(p.kl).toBeGreaterThanOrEqual(-1e-12);
        }
        expect(checkEntropyLowerBound(dinoLoss, c)).toEqual([]);
        expect(r.loss).toBeGreaterThanOrEqual(r.teacherEntropy - 1e-12);
      }),
    );
  });

  it("sees the teacher only through the two global chunks, and never pairs a crop with itself", () => {
    fc.assert(fc.property(lossCases, (c) => {
      expect(checkSameViewSkipped(dinoLoss, c)).toEqual([]);
    }), { numRuns: 30 });
  });

  it("subtracts the centre inside the teacher softmax: shifting teacher rows and centre together changes nothing", () => {
    fc.assert(fc.property(lossCases, (c) => {
      expect(checkCentreShiftInvariance(dinoLoss, c)).toEqual([]);
    }), { numRuns: 30 });
  });

  it("is ln K when every output is equal (uniform teacher and student), as at initialisation or collapse", () => {
    for (const K of [1, 7, 65536]) {
      const c = 3;
      const r = dinoLoss({ shape: [4 * c, K], data: new Float32Array(4 * c * K).fill(0.25) }, { shape: [2 * c, K], data: new Float32Array(2 * c * K).fill(-0.5) }, new Float32Array(K), {
        studentTemp: 0.1, teacherTemp: 0.04, ncrops: 4,
      });
      // sums of K float64 terms of size ln(K)/K: error below K·2⁻⁵³·ln K
      const tol = 2 * K * Number.EPSILON * Math.log(K) + 1e-15;
      expect(Math.abs(r.loss - Math.log(K))).toBeLessThanOrEqual(tol);
      expect(Math.abs(r.teacherEntropy - Math.log(K))).toBeLessThanOrEqual(tol);
      expect(Math.abs(r.kl)).toBeLessThanOrEqual(tol);
    }
  });
});

describe("dinoLoss: gradient", () => {
  it("equals (Ps − Pt)/τs summed over the matching teacher chunks, scaled by 1/(B·terms)", () => {
    fc.assert(
      fc.property(lossCases, (c) => {
        const r = run(c);
        const { Ps, Pt } = probs(c);
        const terms = 2 * c.ncrops - 2;
        for (let v = 0; v < c.ncrops; v++) {
          for (let b = 0; b < c.B; b++) {
            // global crop v pairs with the other global crop only; a local crop with both
            const teachers = v < 2 ? [1 - v] : [0, 1];
            for (let k = 0; k < c.K; k++) {
              let g = 0;
              for (const iq of teachers) g += Ps[v * c.B + b][k] - Pt[iq * c.B + b][k];
              g /= c.studentTemp * c.B * terms;
              expect(Math.abs(r.gradStudent.data[(v * c.B + b) * c.K + k] - g)).toBeLessThanOrEqual(1e-14);
            }
          }
        }
      }),
    );
  });

  it("agrees with central finite differences in float64", () => {
    for (const [seed, ncrops, B, K] of [[1, 2, 1, 3], [2, 4, 2, 5], [3, 5, 1, 7], [4, 3, 3, 1]]) {
      expect(checkFiniteDifferences(dinoLoss, lossCase(seed, ncrops, B, K))).toEqual([]);
    }
  });

  it("returns the gradient in the student's array type (float32 in, float32 out)", () => {
    const c = lossCase(5);
    const r = dinoLoss({ shape: [c.ncrops * c.B, c.K], data: Float32Array.from(c.student) }, { shape: [2 * c.B, c.K], data: Float32Array.from(c.teacher) }, Float32Array.from(c.center), c);
    expect(r.gradStudent.data).toBeInstanceOf(Float32Array);
    expect(r.gradStudent.shape).toEqual([c.ncrops * c.B, c.K]);
    const r64 = run(c);
    expect(r.loss).toBe(r64.loss); // float32 inputs are exact in float64
    r.gradStudent.data.forEach((g, i) => expect(g).toBe(Math.fround(r64.gradStudent.data[i])));
  });
});

describe("dinoLossWithCenterUpdate (the golden op dino_loss)", () => {
  it("computes the loss with the old centre, then returns the updated centre", () => {
    const c = lossCase(11, 4, 2, 6);
    const s = { shape: [8, 6], data: Float32Array.from(c.student) };
    const t = { shape: [4, 6], data: Float32Array.from(c.teacher) };
    const centre = Float32Array.from(c.center);
    const before = centre.slice();
    const r = dinoLossWithCenterUpdate(wasmBackend, s, t, centre, { studentTemp: 0.1, teacherTemp: 0.04, ncrops: 4, centerMomentum: 0.9 });
    expect(r.loss).toBe(dinoLoss(s, t, before, { studentTemp: 0.1, teacherTemp: 0.04, ncrops: 4 }).loss);
    expect(Array.from(r.center)).toEqual(Array.from(updateCenter(wasmBackend, before, t, 0.9)));
    expect(Array.from(centre)).toEqual(Array.from(before)); // the input centre is not modified
    expect(checkLossUsesOldCentre((s, t, center, p) => dinoLossWithCenterUpdate(wasmBackend, s, t, center, p), c)).toEqual([]);
  });
});

describe("dinoLoss: errors name the tensor and the expected shape", () => {
  const p = { studentTemp: 0.1, teacherTemp: 0.04, ncrops: 3 };
  const t = (rows: number, K: number) => ({ shape: [rows, K], data: new Float32Array(rows * K) });
  it("rejects student rows not divisible by ncrops", () => {
    expect(() => dinoLoss(t(7, 4), t(4, 4), new Float32Array(4), p)).toThrow(DinoRefError);
    expect(() => dinoLoss(t(7, 4), t(4, 4), new Float32Array(4), p)).toThrow(/studentOut has 7 rows, not a positive multiple of ncrops = 3; expected shape \[ncrops\*B, K\] = \[3\*B, 4\]/);
  });
  it("rejects teacher rows other than 2B and a different K", () => {
    expect(() => dinoLoss(t(6, 4), t(6, 4), new Float32Array(4), p)).toThrow(/teacherOut has shape \[6, 4\]; expected \[2\*B, K\] = \[4, 4\]/);
    expect(() => dinoLoss(t(6, 4), t(4, 5), new Float32Array(4), p)).toThrow(/teacherOut has shape \[4, 5\]; expected \[2\*B, K\] = \[4, 4\]/);
  });
  it("rejects a centre whose length is not K", () => {
    expect(() => dinoLoss(t(6, 4), t(4, 4), new Float32Array(5), p)).toThrow(/center has 5 elements; expected shape \[K\] = \[4\]/);
  });
  it("rejects bad ncrops and temperatures by name", () => {
    expect(() => dinoLoss(t(6, 4), t(4, 4), new Float32Array(4), { ...p, ncrops: 1 })).toThrow(/ncrops 1/);
    expect(() => dinoLoss(t(6, 4), t(4, 4), new Float32Array(4), { ...p, teacherTemp: 0 })).toThrow(/teacherTemp 0/);
    expect(() => dinoLoss({ shape: [6, 4], data: new Float32Array(23) }, t(4, 4), new Float32Array(4), p)).toThrow(/studentOut has shape \[6, 4\] \(23 elements\)/);
  });
});
