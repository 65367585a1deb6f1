// The backbone arithmetic of one training step, from the config's shapes: what a recipe costs per
// iteration, whatever the machine (compare recipes at equal compute with it; time with bench).

import { vitForwardFlops } from "../model/vitFlops.js";
import { modelConfig } from "./trainState.js";
import type { TrainConfig } from "./config.js";

/**
 * FLOPs of one step's backbone passes: the teacher's forward on the 2 global crops and the
 * student's forward + backward (≈ 3 forwards) on every crop; the head, norms and softmax are not
 * counted. flops = Σ_globals 4·F(B, G) + Σ_locals 3·F(B, L), F = vitForwardFlops.
 */
export function trainStepFlops(c: TrainConfig): number {
  const vit = modelConfig(c).vit;
  const forward = (size: number) => vitForwardFlops(vit, c.batchSize, size, size);
  return 2 * 4 * forward(c.globalSize) + c.localCrops * 3 * forward(c.localSize);
}
