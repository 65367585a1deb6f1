// The rounding model of `compare --precision`: tolerances scale with the unit of rounding, from
// the eps each tolerance was built with, and never shrink.
import { describe, expect, it } from "vitest";
import { caseEps, widenTolerance } from "./precision.js";

describe("widenTolerance", () => {
  it("leaves a tolerance as stored without a precision, and float32 tolerances as they are for float32", () => {
    expect(widenTolerance([1e-6, 9.5e-7], undefined)).toEqual([1e-6, 9.5e-7]);
    expect(widenTolerance([1e-6, 8 * 2 ** -23], "float32")).toEqual([1e-6, 8 * 2 ** -23]);
  });
  it("scales float32 tolerances by 2^13 for float16 and 2^16 for bfloat16", () => {
    expect(widenTolerance([1e-6, 8 * 2 ** -23], "float16")).toEqual([1e-6 * 2 ** 13, 8 * 2 ** -10]);
    expect(widenTolerance([1e-6, 8 * 2 ** -23], "bfloat16")).toEqual([1e-6 * 2 ** 16, 8 * 2 ** -7]);
  });
  it("reads a float64 tolerance (the schedules) from its rtol and scales it to float32 by 2^29", () => {
    expect(caseEps([1e-18, 8 * 2 ** -52])).toBe(2 ** -52);
    expect(caseEps([0.1, 8 * 2 ** -23])).toBe(2 ** -23);
    expect(widenTolerance([1e-18, 8 * 2 ** -52], "float32")).toEqual([1e-18 * 2 ** 29, 8 * 2 ** -23]);
  });
});
