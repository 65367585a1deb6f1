// What the application commands (retrieval, copydetect, videoseg, finetune) share: the weights
// file of --weights (or its alias --checkpoint), its backbone, and the same architecture at
// initialisation with the seed the weights were trained with (0 for files that do not say).

import { DinoRefError } from "../tensor/errors.js";
import type { Backend } from "../kernels/backend.js";
import { ParamStore } from "../model/params.js";
import { vitParamSpecs } from "../model/vitParams.js";
import { initBackbone } from "../model/dino.js";
import { loadBackbone } from "../model/loadBackbone.js";
import type { VitConfig } from "../model/vitConfig.js";
import { trainingConfigOf } from "../train/checkpoint.js";
import type { TrainConfig } from "../train/config.js";

export interface WeightsArgs {
  weights?: string;
  checkpoint?: string;
  student?: boolean;
}

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

/** The path of --weights FILE (--checkpoint FILE is the same option). */
export function weightsPath(command: string, a: WeightsArgs): string {
  if (a.weights !== undefined && a.checkpoint !== undefined && a.weights !== a.checkpoint) {
    throw new DinoRefError(`${command}: --weights and --checkpoint name the same option; give one file`);
  }
  const path = a.weights ?? a.checkpoint;
  if (path === undefined) throw new DinoRefError(`${command}: --weights FILE is required (official-key safetensors weights or a dino-ref checkpoint)`);
  return path;
}

/** The backbone of the weights file and the same network at initialisation. */
export function trainedAndInit(be: Backend, command: string, a: WeightsArgs): Networks {
  const path = weightsPath(command, a);
  const side = a.student ? "student" : "teacher";
  const { backbone, cfg, metadata, notes } = loadBackbone(be, path, side);
  const config = trainingConfigOf(metadata, path);
  const seed = config?.seed ?? 0;
  const init = ParamStore.create(be, vitParamSpecs(cfg), { grads: false });
  initBackbone(init, cfg, seed);
  return { path, side, trained: backbone, init, cfg, seed, config, notes };
}

/** The number a --json line holds for a measurement: finite numbers as they are, NaN and infinities as null. */
export function jsonNumber(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}
