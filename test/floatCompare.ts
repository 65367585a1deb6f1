// Float comparison helpers for kernel-vs-oracle and golden-style checks: distances in float32
// ulps, and allclose with the golden contract's rule |a − e| <= atol + rtol·|e|.

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/** Position of a float32 value on the integer line of floats (monotone, −0 and +0 both 0). */
function orderedBits(x: number): number {
  f32buf[0] = x;
  const u = u32buf[0];
  return u & 0x80000000 ? -(u & 0x7fffffff) : u;
}

/** Number of float32 values between a and b (0 when equal; Infinity when one is NaN and the other not). */
export function ulpDistance(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity;
  return Math.abs(orderedBits(a) - orderedBits(b));
}

/** Largest ulp distance over two arrays of equal length. */
export function maxUlpDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, ulpDistance(a[i], b[i]));
  return worst;
}

/** Spacing of float32 values at |x| (the ulp of x in float32). */
export function ulp32(x: number): number {
  const a = Math.abs(Math.fround(x));
  if (a === 0) return 2 ** -149;
  const e = Math.floor(Math.log2(a));
  return 2 ** Math.max(e - 23, -149);
}

/** numpy-style allclose: every |a − e| <= atol + rtol·|e|, NaNs equal to NaNs. */
export function allClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number): boolean {
  if (actual.length !== expected.length) return false;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(a) || Number.isNaN(e)) {
      if (!(Number.isNaN(a) && Number.isNaN(e))) return false;
    } else if (a !== e && !(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      return false;
    }
  }
  return true;
}
