import { describe, expect, it } from "vitest";
import { entropy, lossSplit, LOSS_TEACHER, TEMPERATURE_LOGITS, temperatureSoftmax } from "./src/lessons.js";
import { softmaxForwardRef } from "../src/kernels/softmax.js";

const TAUS = [0.01, 0.02, 0.04, 0.07, 0.1, 0.2, 0.5, 1, 2, 5, 10];

describe("temperature panel", () => {
  it("runs the wasm softmax, equal to the oracle bit for bit", () => {
    for (const tau of TAUS) {
      const { probs } = temperatureSoftmax(TEMPERATURE_LOGITS, tau);
      const ref = new Float32Array(TEMPERATURE_LOGITS.length);
      softmaxForwardRef(ref, Float32Array.from(TEMPERATURE_LOGITS), 1, ref.length, tau);
      expect(Array.from(probs)).toEqual(Array.from(ref));
    }
  });

  it("entropy grows with τ, from ≈ 0 (one-hot) towards ln K (uniform)", () => {
    const hs = TAUS.map((tau) => temperatureSoftmax(TEMPERATURE_LOGITS, tau).entropy);
    for (let i = 1; i < hs.length; i++) expect(hs[i]).toBeGreaterThan(hs[i - 1]);
    const lnK = Math.log(TEMPERATURE_LOGITS.length);
    expect(hs[0]).toBeLessThan(1e-6);
    expect(hs[hs.length - 1]).toBeGreaterThan(0.99 * lnK);
    expect(hs[hs.length - 1]).toBeLessThanOrEqual(lnK);
  });

  it("entropy of a one-hot distribution is 0, of a uniform one ln K", () => {
    expect(entropy([1, 0, 0], [0, -Infinity, -Infinity])).toBe(0);
    const K = 7;
    expect(entropy(new Array(K).fill(1 / K), new Array(K).fill(-Math.log(K)))).toBeCloseTo(Math.log(K), 12);
  });
});

describe("loss panel", () => {
  const ALPHAS = Array.from({ length: 21 }, (_, i) => i / 20);

  it("H(Pt, Ps) = h(Pt) + KL(Pt‖Ps), and h(Pt) does not depend on the student", () => {
    for (const tt of [0.02, 0.04, 0.07, 0.1]) {
      const h0 = lossSplit(0, tt).teacherEntropy;
      for (const a of ALPHAS) {
        const r = lossSplit(a, tt);
        expect(r.loss).toBeCloseTo(r.teacherEntropy + r.kl, 10);
        expect(r.teacherEntropy).toBe(h0);
      }
    }
  });

  it("KL falls monotonically to 0 as the student moves to t·τs/τt: the loss reaches its floor h(Pt)", () => {
    for (const tt of [0.04, 0.07]) {
      const kls = ALPHAS.map((a) => lossSplit(a, tt).kl);
      for (let i = 1; i < kls.length; i++) expect(kls[i]).toBeLessThanOrEqual(kls[i - 1] + 1e-12);
      expect(kls[0]).toBeGreaterThan(1);
      // s(1) is rounded to float32: KL of a few float32 ulps of the logits
      expect(kls[kls.length - 1]).toBeLessThan(1e-6);
    }
  });

  it("a sharper teacher has a lower entropy floor", () => {
    const floors = [0.02, 0.04, 0.07, 0.1].map((tt) => lossSplit(1, tt).teacherEntropy);
    for (let i = 1; i < floors.length; i++) expect(floors[i]).toBeGreaterThan(floors[i - 1]);
    expect(LOSS_TEACHER.length).toBe(floors.length + 1);
  });
});
