// What the commands that score a backbone beside its initialisation share (retrieval, copydetect,
// videoseg, finetune, segment): the backbone of their --weights file (loaded as every evaluation
// loads it: evalInput.ts), and the same architecture at initialisation with the seed the weights
// were trained with (0 for files that do not say).

import type { Backend } from "../kernels/backend.js";
import type { ParamStore } from "../model/params.js";
import { backboneAtInit } from "../model/dino.js";
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
}

/** The backbone of the weights file and the same network at initialisation. */
export function trainedAndInit(be: Backend, command: string, a: WeightsArgs, io: Io): Networks {
  const { path, side, loaded, config } = loadWeights(command, be, a, io);
  const { backbone, cfg } = loaded;
  const seed = config?.seed ?? 0;
  return { path, side, trained: backbone, init: backboneAtInit(be, cfg, seed), cfg, seed, config };
}

