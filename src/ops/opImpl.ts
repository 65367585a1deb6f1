// What an op of the registry is: a function from a case's inputs and params to its outputs.

import type { StTensor } from "../io/safetensors.js";
import type { Backend } from "../kernels/backend.js";
import type { Bugs } from "../tensor/portingBugs.js";
import type { OpArgs } from "./args.js";

/**
 * An op computes a case's outputs (names without `out.`) from its inputs and params on `be`.
 * `bugs` is empty except when `dino-ref compare` recomputes a failing case under a known porting
 * mistake (src/ops/catalogue.ts).
 */
export type OpImpl = (args: OpArgs, be: Backend, bugs: Bugs) => Map<string, StTensor>;
