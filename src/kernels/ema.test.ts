import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { emaUpdate, emaUpdateRef } from "./ema.js";
import { awkwardSize, f32Array, bitEqual } from "../../test/arbitraries.js";

describe("emaUpdate (wasm) against emaUpdateRef (oracle)", () => {
  it("is bit-identical on random sizes, values and momenta", () => {
    fc.assert(
      fc.property(
        awkwardSize().chain((n) => fc.tuple(f32Array(n), f32Array(n), fc.double({ min: 0, max: 1, noNaN: true }))),
        ([t, s, m]) => {
          const ref = t.slice();
          const fast = t.slice();
          emaUpdateRef(ref, s, m);
          emaUpdate(fast, s, m);
          expect(bitEqual(ref, fast)).toBe(true);
        },
      ),
    );
  });

  it("leaves the teacher unchanged at λ = 1 and copies the student at λ = 0", () => {
    const t = Float32Array.from([1.5, -2, 3.25, 0, 7, -0.5, 1e-30]);
    const s = Float32Array.from([9, 8, 7, 6, 5, 4, 3]);
    const kept = t.slice();
    emaUpdate(kept, s, 1);
    expect(bitEqual(kept, t)).toBe(true);
    const copied = t.slice();
    emaUpdate(copied, s, 0);
    expect(bitEqual(copied, s)).toBe(true);
  });

  it("propagates NaN and infinity like the oracle", () => {
    const t = Float32Array.from([NaN, 1, Infinity, -Infinity, 2]);
    const s = Float32Array.from([1, NaN, 1, 1, Infinity]);
    const a = t.slice();
    const b = t.slice();
    emaUpdateRef(a, s, 0.996);
    emaUpdate(b, s, 0.996);
    expect(bitEqual(a, b)).toBe(true);
  });

  it("rejects mismatched lengths and momenta outside [0, 1] by name", () => {
    expect(() => emaUpdate(new Float32Array(3), new Float32Array(4), 0.9)).toThrow(/teacher has 3 elements, student 4/);
    expect(() => emaUpdate(new Float32Array(3), new Float32Array(3), 1.5)).toThrow(/momentum 1.5/);
  });
});
