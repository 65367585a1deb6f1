// What the application commands (retrieval, copydetect, videoseg, finetune) share: the backbone of
// their --weights file (loaded as every evaluation loads it: evalInput.ts), and the same
// architecture at initialisation with the seed the weights were trained with (0 for files that do
// not say).

import type { Backend } from "../kernels/backend.js";
import { ParamStore } from "../model/params.js";
import { vitParamSpecs } from "../model/vitParams.js";
import { initBackbone } from "../model/dino.js";
import type { VitConfig } from "../model/vitConfig.js";
import type { TrainConfig } from "../train/config.js";
import { loadWeights, type WeightsArgs } from "./evalInput.js";
import type { Io } from "./io.js";

export type { WeightsArgs } from "./evalInput.js";

export interface Networks {
  readonly path: string;
  readonly side: "teacher" | "student";
  readonly trained: ParamStore;
  /** The same architecture at initialisation, seeded as the training run (or 0). */
  readonly init: ParamStore;
  readonly cfg: VitConfig;
  readonly seed: number;
  /** The training config of a dino-ref checkpoint, null for other weights files. */
  readonly config: TrainConfig | null;
  readonly notes: readonly string[];
}

/** The backbone of the weights file and the same network at initialisation. */
export function trainedAndInit(be: Backend, command: string, a: WeightsArgs, io: Io): Networks {
  const { path, side, loaded, config } = loadWeights(command, be, a, io);
  const { backbone, cfg, notes } = loaded;
  const seed = config?.seed ?? 0;
  const init = ParamStore.create(be, vitParamSpecs(cfg), { grads: false });
  initBackbone(init, cfg, seed);
  return { path, side, trained: backbone, init, cfg, seed, config, notes };
}

/** The number a --json line holds for a measurement: finite numbers as they are, NaN and infinities as null. */
export function jsonNumber(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}
