// Comparisons for kernel tests: bitwise equality that treats every NaN as equal (the sign and
// payload of a NaN differ between JS engines and wasm and carry no meaning), and ulp-based checks.

/** True when every element is bit-identical, any NaN matching any NaN. */
export function sameFloats(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) && Number.isNaN(b[i])) continue;
    if (!Object.is(a[i], b[i])) return false;
  }
  return true;
}

/** Index of the first element that is not the same as `sameFloats` defines, or −1. */
export function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) && Number.isNaN(b[i])) continue;
    if (!Object.is(a[i], b[i])) return i;
  }
  return -1;
}

/** Unit roundoff of float32 (half an ulp of 1). */
export const U32 = 2 ** -24;
/** Unit roundoff of float64. */
export const U64 = 2 ** -53;

/** Distance in float32 ulps between two float32 values (ordered bit patterns; −0 and +0 are 0 apart). */
export function ulpDistance(a: number, b: number): number {
  const f = new Float32Array([a, b]);
  const [ia, ib] = new Int32Array(f.buffer);
  const ordered = (i: number) => (i < 0 ? -(i & 0x7fffffff) : i);
  return Math.abs(ordered(ia) - ordered(ib));
}

/**
 * The largest ulp distance between `actual` and `expected` (float32 values), NaN matching NaN
 * only; Infinity when a NaN, an infinity or a sign differs from the other side.
 */
export function maxUlpDistance(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const [a, e] = [actual[i], expected[i]];
    if (Number.isNaN(a) || Number.isNaN(e)) {
      if (Number.isNaN(a) !== Number.isNaN(e)) return Infinity;
      continue;
    }
    if (!Number.isFinite(a) || !Number.isFinite(e)) {
      if (a !== e) return Infinity;
      continue;
    }
    worst = Math.max(worst, ulpDistance(a, e));
  }
  return worst;
}
