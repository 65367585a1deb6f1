import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { philox4x32, Rng, STREAM } from "./rng.js";

describe("philox4x32", () => {
  // Known-answer vectors published with Random123 (kat_vectors, "philox4x32 10").
  it("reproduces the Random123 known-answer vectors", () => {
    const hex = (xs: number[]) => xs.map((x) => x.toString(16).padStart(8, "0")).join(" ");
    expect(hex(philox4x32([0, 0, 0, 0], [0, 0]))).toBe("6627e8d5 e169c58d bc57ac4c 9b00dbd8");
    expect(hex(philox4x32([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff]))).toBe("408f276d 41c83b0e a20bc7c6 6d5451fd");
    expect(hex(philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]))).toBe("d16cfe09 94fdcceb 5001e420 24126ea1");
  });
});

describe("Rng", () => {
  it("is a pure function of (seed, stream, key, draw index)", () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat({ max: 10 }), fc.nat(), (seed, stream, key) => {
        const a = new Rng(seed, stream, key);
        const b = new Rng(seed, stream, key);
        for (let i = 0; i < 9; i++) expect(a.uniform()).toBe(b.uniform());
      }),
      { numRuns: 50 },
    );
  });

  it("gives different numbers for different streams and keys", () => {
    const draw = (r: Rng) => Array.from({ length: 4 }, () => r.nextUint32());
    expect(draw(new Rng(1, STREAM.init))).not.toEqual(draw(new Rng(1, STREAM.crops)));
    expect(draw(new Rng(1, STREAM.crops, 5))).not.toEqual(draw(new Rng(1, STREAM.crops, 6)));
    expect(draw(new Rng(1, STREAM.crops))).not.toEqual(draw(new Rng(2, STREAM.crops)));
  });

  it("draws uniforms in [0, 1) with the right mean and variance, and normals with mean 0 and variance 1", () => {
    const r = new Rng(42, STREAM.init);
    const n = 200_000;
    let s = 0;
    let s2 = 0;
    let z = 0;
    let z2 = 0;
    for (let i = 0; i < n; i++) {
      const u = r.uniform();
      if (!(u >= 0 && u < 1)) throw new Error(`uniform ${u} outside [0, 1)`);
      s += u;
      s2 += u * u;
      const g = r.normal();
      z += g;
      z2 += g * g;
    }
    // standard errors: mean 1/sqrt(12 n) ≈ 6.5e-4, normal mean 1/sqrt(n) ≈ 2.2e-3; 5 sigma bounds
    expect(Math.abs(s / n - 0.5)).toBeLessThan(5 * 6.5e-4);
    expect(Math.abs(s2 / n - (s / n) ** 2 - 1 / 12)).toBeLessThan(2e-3);
    expect(Math.abs(z / n)).toBeLessThan(5 * 2.3e-3);
    expect(Math.abs(z2 / n - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
  });

  it("draws integers in range without bias and permutations that are permutations", () => {
    const r = new Rng(7, STREAM.shuffle);
    const counts = new Array(6).fill(0);
    for (let i = 0; i < 60_000; i++) counts[r.int(6)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
    const p = r.permutation(97);
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 97 }, (_, i) => i));
  });
});
