// The collapse verdict on synthetic teacher/student distributions whose entropy and KL are
// computed here from the probabilities, so each case is a state a run can actually be in.
import { describe, expect, it } from "vitest";
import { collapseSignals, collapseState, collapseWarning, UNIFORM_ENTROPY_FRACTION, UNIFORM_KL_FRACTION, ONE_HOT_ENTROPY_FRACTION } from "./collapse.js";

/** Row-wise softmax(z / τ) in float64. */
function softmaxRows(z: Float64Array, rows: number, K: number, tau: number): Float64Array {
  const p = new Float64Array(rows * K);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let k = 0; k < K; k++) max = Math.max(max, z[r * K + k] / tau);
    let sum = 0;
    for (let k = 0; k < K; k++) sum += p[r * K + k] = Math.exp(z[r * K + k] / tau - max);
    for (let k = 0; k < K; k++) p[r * K + k] /= sum;
  }
  return p;
}

/** The signals of teacher Pt and student Ps [rows, K]: mean h(Pt) and mean KL(Pt‖Ps). */
function signalsOf(pt: Float64Array, ps: Float64Array, rows: number, K: number) {
  let h = 0;
  let kl = 0;
  for (let i = 0; i < rows * K; i++) {
    if (pt[i] > 0) {
      h -= pt[i] * Math.log(pt[i]);
      kl += pt[i] * (Math.log(pt[i]) - Math.log(ps[i]));
    }
  }
  return collapseSignals(pt, rows, K, h / rows, kl / rows);
}

/** Deterministic pseudo-random logits in [-1, 1] (cosines, as the head outputs). */
function cosines(rows: number, K: number, seed: number): Float64Array {
  let x = seed >>> 0 || 1;
  return Float64Array.from({ length: rows * K }, () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return (x / 2 ** 32) * 2 - 1;
  });
}

const rows = 64;
const K = 256;

describe("collapseState", () => {
  it("uniform: a teacher flattened by a high temperature and a student that matches it", () => {
    const z = cosines(rows, K, 1);
    const pt = softmaxRows(z, rows, K, 100);
    const s = signalsOf(pt, softmaxRows(z, rows, K, 101), rows, K);
    expect(s.teacherEntropy).toBeGreaterThan(UNIFORM_ENTROPY_FRACTION * s.lnK);
    expect(s.kl).toBeLessThan(UNIFORM_KL_FRACTION * s.lnK);
    expect(collapseState(s)).toBe("uniform");
    expect(collapseWarning(s)).toMatch(/^uniform collapse: teacher entropy 5\.54\d+ ≈ ln K = 5\.5452 and KL .* ≈ 0/);
  });

  it("healthy, not uniform: a teacher near ln K whose student still differs from it (the start of a run)", () => {
    const pt = softmaxRows(cosines(rows, K, 2), rows, K, 2);
    const s = signalsOf(pt, softmaxRows(cosines(rows, K, 3), rows, K, 2), rows, K);
    expect(s.teacherEntropy).toBeGreaterThan(UNIFORM_ENTROPY_FRACTION * s.lnK);
    expect(s.kl).toBeGreaterThan(UNIFORM_KL_FRACTION * s.lnK);
    expect(collapseState(s)).toBe("healthy");
    expect(collapseWarning(s)).toBeNull();
  });

  it("one-hot: every row sharp on the same prototype", () => {
    const z = cosines(rows, K, 4);
    for (let r = 0; r < rows; r++) z[r * K + 17] = 2; // one dimension above every other, in every row
    const s = signalsOf(softmaxRows(z, rows, K, 0.04), softmaxRows(z, rows, K, 0.1), rows, K);
    expect(s.teacherEntropy).toBeLessThan(ONE_HOT_ENTROPY_FRACTION * s.lnK);
    expect(s.argmaxPrototypes).toBe(1);
    expect(collapseState(s)).toBe("one-hot");
    expect(collapseWarning(s)).toMatch(/^one-hot collapse: .* one prototype wins every image \(mean max probability (1\.0000|0\.99\d\d)\)/);
  });

  it("healthy, not one-hot: sharp targets on different prototypes for different images", () => {
    const z = cosines(rows, K, 5);
    for (let r = 0; r < rows; r++) z[r * K + (r % 8)] = 2;
    const s = signalsOf(softmaxRows(z, rows, K, 0.04), softmaxRows(z, rows, K, 0.1), rows, K);
    expect(s.teacherEntropy).toBeLessThan(ONE_HOT_ENTROPY_FRACTION * s.lnK);
    expect(s.argmaxPrototypes).toBe(8);
    expect(collapseState(s)).toBe("healthy");
  });

  it("healthy in between: entropy well below ln K and well above 0", () => {
    const z = cosines(rows, K, 6);
    const s = signalsOf(softmaxRows(z, rows, K, 0.1), softmaxRows(z, rows, K, 0.2), rows, K);
    expect(s.teacherEntropy).toBeGreaterThan(ONE_HOT_ENTROPY_FRACTION * s.lnK);
    expect(s.teacherEntropy).toBeLessThan(UNIFORM_ENTROPY_FRACTION * s.lnK);
    expect(collapseState(s)).toBe("healthy");
  });

  it("the thresholds sit where the rules say, on both sides", () => {
    const lnK = Math.log(1024);
    const at = (teacherEntropy: number, kl: number, argmaxPrototypes = 5) => collapseState({ teacherEntropy, kl, lnK, maxTeacherProb: 0.5, argmaxPrototypes });
    expect(at(0.98 * lnK, 0.00099 * lnK)).toBe("uniform");
    expect(at(0.979 * lnK, 0.00099 * lnK)).toBe("healthy");
    expect(at(0.98 * lnK, 0.001 * lnK)).toBe("healthy");
    expect(at(0.1 * lnK, 0.5, 1)).toBe("one-hot");
    expect(at(0.101 * lnK, 0.5, 1)).toBe("healthy");
    expect(at(0.1 * lnK, 0.5, 2)).toBe("healthy");
  });
});
