// The float32 exp of the attention softmax and GELU (assembly/exp32.ts) against the float64 exp:
// within 2 ulp on the whole range it is used on, 0 below the underflow, +Inf above the overflow.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { withScratch } from "./arena.js";
import { wasmKernels } from "./wasm.js";
import { maxUlpDistance } from "../../test/floatCompare.js";

/** exp32x4 on x (length a multiple of 4), through the wasm test hook. */
function exp32(x: Float32Array): Float32Array {
  const k = wasmKernels() as unknown as { exp32x4Batch(out: number, x: number, n: number): void };
  return withScratch((a) => {
    const px = a.allocF32(x.length);
    const po = a.allocF32(x.length);
    a.f32(px, x.length).set(x);
    k.exp32x4Batch(po, px, x.length);
    return a.f32(po, x.length).slice();
  });
}

/** e^x rounded to float32 (Math.exp is within 1 ulp of float64, far below float32's spacing). */
const exact = (x: Float32Array) => Float32Array.from(x, (v) => Math.exp(v));

describe("exp32x4", () => {
  it("is within 2 ulp of e^x on a dense grid from −103 to 88 (subnormal results within 2 units of 2^−149)", () => {
    const n = 400_000;
    const x = Float32Array.from({ length: n }, (_, i) => -103 + (191 * i) / n);
    const got = exp32(x);
    const ref = exact(x);
    const normal = (v: number) => v >= 2 ** -126;
    expect(maxUlpDistance(got.filter((_, i) => normal(ref[i])), ref.filter(normal))).toBeLessThanOrEqual(2);
    got.forEach((v, i) => {
      if (!normal(ref[i])) expect(Math.abs(v - ref[i])).toBeLessThanOrEqual(2 * 2 ** -149);
    });
  });

  it("is within 2 ulp of e^x on random float32 values in [−87, 88]", () => {
    fc.assert(
      fc.property(fc.array(fc.float({ min: -87, max: 88, noNaN: true }), { minLength: 4, maxLength: 64 }), (values) => {
        const x = Float32Array.from(values.slice(0, values.length & ~3));
        expect(maxUlpDistance(exp32(x), exact(x))).toBeLessThanOrEqual(2);
      }),
    );
  });

  it("gives 0 below −103.97, +Inf above 88.72, 1 at ±0 and NaN for NaN", () => {
    const got = exp32(Float32Array.from([-104, -1e30, -Infinity, 89, Infinity, 0, -0, NaN]));
    expect(Array.from(got.subarray(0, 7))).toEqual([0, 0, 0, Infinity, Infinity, 1, 1]);
    expect(got[7]).toBeNaN();
  });
});
