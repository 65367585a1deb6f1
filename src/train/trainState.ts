// The state a training run carries from one iteration to the next, and how a run's config creates
// it: the student initialised from the seed, the teacher an exact copy of it (with no gradient
// storage, so no gradient can ever reach it), the centre at zero and an empty AdamW state.

import type { Backend } from "../kernels/backend.js";
import { ParamStore } from "../model/params.js";
import { vitConfig } from "../model/vitConfig.js";
import { dinoParamSpecs, initDino, type DinoModelConfig } from "../model/dino.js";
import type { AdamWState } from "../dino/adamw.js";
import type { TrainConfig } from "./config.js";

/** Everything a run carries from one iteration to the next. */
export interface TrainState {
  readonly model: DinoModelConfig;
  /** The student: trained by AdamW. */
  readonly student: ParamStore;
  /** The teacher: an EMA of the student; built without gradients, so none can ever reach it. */
  readonly teacher: ParamStore;
  /** c [K]: running mean of the teacher outputs. */
  center: Float32Array;
  /** AdamW moments and per-tensor step counts. */
  readonly optimizer: AdamWState;
}

/** The DINO network of a training config. */
export function modelConfig(c: TrainConfig): DinoModelConfig {
  return {
    vit: vitConfig({ patchSize: c.patchSize, embedDim: c.embedDim, depth: c.depth, numHeads: c.numHeads, mlpRatio: c.mlpRatio, qkvBias: true, imgSize: c.globalSize, dropPathRate: c.dropPathRate }),
    head: { inDim: c.embedDim, outDim: c.outDim, hiddenDim: c.hiddenDim, bottleneckDim: c.bottleneckDim, nlayers: c.headLayers, normLastLayer: c.normLastLayer },
  };
}

/** Student initialised from the seed, teacher an exact copy with no gradient storage. */
export function createTrainState(be: Backend, c: TrainConfig): TrainState {
  const model = modelConfig(c);
  const specs = dinoParamSpecs(model);
  const student = ParamStore.create(be, specs);
  initDino(student, model, c.seed);
  const teacher = ParamStore.create(be, specs, { grads: false });
  teacher.copyFrom(student);
  // a teacher aliased to the student would train by gradients and stop being an average
  if (teacher.sharesStorageWith(student)) throw new Error("teacher and student share storage");
  return { model, student, teacher, center: new Float32Array(c.outDim), optimizer: new Map() };
}

/**
 * The first NaN or infinity in the state, described by its checkpoint key ("tensor
 * optimizer.exp_avg.backbone.cls_token holds NaN at index 3"), or null when every value is finite:
 * the weights of both networks, the centre and AdamW's moments.
 */
export function firstNonFinite(state: TrainState): string | null {
  const scan = (what: string, data: Float32Array): string | null => {
    for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return `tensor ${what} holds ${data[i]} at index ${i}`;
    return null;
  };
  for (const p of state.student.params) {
    const bad = scan(`student.${p.name}`, p.data);
    if (bad !== null) return bad;
  }
  for (const p of state.teacher.params) {
    const bad = scan(`teacher.${p.name}`, p.data);
    if (bad !== null) return bad;
  }
  const centre = scan("center", state.center);
  if (centre !== null) return centre;
  for (const [name, s] of state.optimizer) {
    const bad = scan(`optimizer.exp_avg.${name}`, s.expAvg) ?? scan(`optimizer.exp_avg_sq.${name}`, s.expAvgSq);
    if (bad !== null) return bad;
  }
  return null;
}
