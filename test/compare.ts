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
