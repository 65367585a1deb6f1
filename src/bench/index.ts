// Every benchmark case `dino-ref bench` runs, in one explicit list.

import type { BenchCase } from "./types.js";
import { matmulBenchCases } from "./matmul.js";
import { attentionBenchCases } from "./attention.js";
import { emaBenchCases } from "./ema.js";
import { geluBenchCases, layerNormBenchCases, softmaxBenchCases } from "./rowKernels.js";
import { vitBenchCases } from "./vit.js";
import { trainBenchCases } from "./train.js";

export function allBenchCases(): BenchCase[] {
  return [
    ...matmulBenchCases(), ...attentionBenchCases(), ...emaBenchCases(),
    ...geluBenchCases(), ...layerNormBenchCases(), ...softmaxBenchCases(),
    ...vitBenchCases(), ...trainBenchCases(),
  ];
}
