// The diagnosis of a failing case: the case recomputed under each known porting mistake of the
// catalogue that applies to its op (catalogue.ts; the mistake switched on in the float32 oracles
// and equations), and the mistakes whose outputs the ACTUAL matches within the case's tolerances,
// best match (smallest worst error/tolerance ratio) first. A mistake that does not change this
// case's outputs beyond their tolerances cannot be told apart from the official computation and
// is not reported.

import type { StTensor } from "../io/safetensors.js";
import { compareTensors, type GoldenCase, type Tolerance } from "../io/golden.js";
import { ts32BackendWithBugs } from "../kernels/backend.js";
import { DinoRefError } from "../tensor/errors.js";
import type { BugId } from "../tensor/portingBugs.js";
import { CATALOGUE } from "./catalogue.js";
import { runCase } from "./registry.js";

export interface Diagnosis {
  readonly id: BugId;
  readonly what: string;
  /** max over the provided outputs of |actual − variant| / (atol + rtol·|variant|): ≤ 1. */
  readonly worstRatio: number;
}

/** The catalogue entries for c.op whose recomputed outputs `actual` matches, best first. */
export function diagnose(c: GoldenCase, actual: ReadonlyMap<string, StTensor>, tolerance: (name: string) => Tolerance): Diagnosis[] {
  const found: Diagnosis[] = [];
  for (const bug of CATALOGUE) {
    if (!bug.ops.includes(c.op)) continue;
    const bugs = new Set<BugId>([bug.id]);
    let variant: Map<string, StTensor>;
    try {
      variant = runCase(c, ts32BackendWithBugs(bugs), bugs);
    } catch (e) {
      // a mistake that cannot run on this case (e.g. a NaN stops a training step) explains nothing
      if (e instanceof DinoRefError) continue;
      throw e;
    }
    const names = [...c.outputs.keys()];
    // indistinguishable on this case: the mistake leaves every output within tolerance
    if (names.every((n) => compareTensors(n, c.outputs.get(n)!, variant.get(n), tolerance(n)).pass)) continue;
    const provided = names.filter((n) => actual.has(n));
    if (provided.length === 0) continue;
    const worst = Math.max(...provided.map((n) => compareTensors(n, variant.get(n)!, actual.get(n), tolerance(n)).worstRatio));
    if (worst <= 1) found.push({ id: bug.id, what: bug.what, worstRatio: worst });
  }
  return found.sort((a, b) => a.worstRatio - b.worstRatio);
}
