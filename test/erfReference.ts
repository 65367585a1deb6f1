// A slow, independent erf for tests: the Maclaurin series evaluated in 240-bit fixed point with
// BigInt, π from Machin's formula, the result rounded once to float64. Exact input: every float64
// is a dyadic rational, so nothing is lost converting it.

const BITS = 240n;
const ONE = 1n << BITS;

/** x·2^240 as a BigInt, exactly (|x| ≥ 2^-180 and finite). */
function toFixed(x: number): bigint {
  const neg = x < 0;
  let m = Math.abs(x);
  let e = 0;
  while (!Number.isInteger(m)) {
    m *= 2; // exact: doubling a float64
    e++;
  }
  const v = (BigInt(m) << BITS) >> BigInt(e);
  return neg ? -v : v;
}

/** Fixed point → nearest float64 (BigInt → Number rounds to nearest, the power-of-two scale is exact). */
function fromFixed(v: bigint): number {
  return Number(v) / 2 ** Number(BITS);
}

/** atan(1/n) in fixed point, by its alternating series. */
function atanInv(n: bigint): bigint {
  let sum = 0n;
  let power = ONE / n; // 1/n^(2k+1)
  const n2 = n * n;
  for (let k = 0n; power !== 0n; k++) {
    const term = power / (2n * k + 1n);
    sum += k % 2n === 0n ? term : -term;
    power /= n2;
  }
  return sum;
}

function isqrt(v: bigint): bigint {
  let r = BigInt(Math.floor(Math.sqrt(Number(v))));
  for (let i = 0; i < 200; i++) {
    const next = (r + v / r) >> 1n;
    if (next === r || next === r + 1n) break;
    r = next;
  }
  while (r * r > v) r--;
  while ((r + 1n) * (r + 1n) <= v) r++;
  return r;
}

// π = 16·atan(1/5) − 4·atan(1/239); 2/√π in fixed point
const PI = 16n * atanInv(5n) - 4n * atanInv(239n);
const TWO_OVER_SQRT_PI = (2n * ONE * ONE) / isqrt(PI * ONE);

/** erf(x) correctly rounded to float64 (up to the 2^-240 fixed-point error), for 2^-60 ≤ |x| ≤ 4. */
export function erfSeries(x: number): number {
  if (x === 0) return x;
  const X = toFixed(x);
  const X2 = (X * X) >> BITS;
  // erf(x) = 2/√π · Σ_n (−1)^n x^(2n+1) / (n!·(2n+1))
  let power = X; // (−1)^n x^(2n+1) / n!
  let sum = 0n;
  for (let n = 0n; power !== 0n; n++) {
    sum += power / (2n * n + 1n);
    power = -((power * X2) >> BITS) / (n + 1n);
  }
  return fromFixed((sum * TWO_OVER_SQRT_PI) >> BITS);
}

/** π as a float64 from the fixed-point value, for the helper's own sanity test. */
export const piFromMachin = fromFixed(PI);
