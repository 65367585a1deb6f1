// Shared fast-check generators: sizes that are deliberately not multiples of the SIMD width,
// and bounded float32 arrays (bare fc.float would also produce NaN and infinities).
import fc from "fast-check";

/** Sizes that exercise the SIMD tail: small ones, non-multiples of 4, and some multiples. */
export const awkwardSize = (max = 70): fc.Arbitrary<number> =>
  fc.oneof(fc.constantFrom(1, 2, 3, 5, 7, 17, 45, 65), fc.integer({ min: 1, max }));

/** A Float32Array of exactly `n` finite values in [-bound, bound]. */
export const f32Array = (n: number, bound = 4): fc.Arbitrary<Float32Array> =>
  fc
    .array(fc.float({ min: Math.fround(-bound), max: Math.fround(bound), noNaN: true, noDefaultInfinity: true }), {
      minLength: n,
      maxLength: n,
    })
    .map((xs) => Float32Array.from(xs));

/** Max |a - b| over two arrays of equal length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

/** True when every element is bit-identical (NaN equal to NaN). */
export function bitEqual(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return false;
  return true;
}

/** Random float32 values in [-1, 1) from a fixed seed (an LCG), for larger deterministic cases. */
export function seededFloats(n: number, seed: number): Float32Array {
  const x = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = s / 2 ** 31 - 1;
  }
  return x;
}
