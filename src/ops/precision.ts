// `compare --precision`: the stored tolerances widened for a port that computes in a lower
// precision. The golden rule is first order in the unit of rounding eps (atol = 4·eps·Σ L·S, rtol =
// 8·eps: reference-tests/README.md), so a port rounding to precision p gets the same bound with
// eps_p in place of the eps the case was made for: atol and rtol times eps_p / eps_case (never
// below 1). eps_case is 2^-52 for a tolerance built for float64 values (the schedules: rtol below
// 2^-40) and 2^-23 for every other. docs/porting.md, "Lower precisions", says what this covers.

import type { Tolerance } from "../io/golden.js";

export const PRECISIONS = ["float32", "bfloat16", "float16"] as const;
export type Precision = (typeof PRECISIONS)[number];

/** Machine epsilon (the spacing of values in [1, 2)) of each precision: 2^-(significant bits − 1). */
export const PRECISION_EPS: Readonly<Record<Precision, number>> = { float32: 2 ** -23, bfloat16: 2 ** -7, float16: 2 ** -10 };

/** The eps a stored tolerance was built with: 2^-52 when its rtol says float64 (below 2^-40), else 2^-23. */
export function caseEps(tolerance: Tolerance): number {
  return tolerance[1] < 2 ** -40 ? 2 ** -52 : 2 ** -23;
}

/** The tolerance for a port computing in `precision` (the stored one when undefined). */
export function widenTolerance(tolerance: Tolerance, precision: Precision | undefined): Tolerance {
  if (precision === undefined) return tolerance;
  // factor = eps_p / eps_case, at least 1
  const factor = Math.max(1, PRECISION_EPS[precision] / caseEps(tolerance));
  return [tolerance[0] * factor, tolerance[1] * factor];
}
