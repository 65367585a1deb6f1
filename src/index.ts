// dino-ref as a library: the equations of DINO, the ViT and head with their backward passes, the
// golden case files and their check, training and the k-NN evaluation — the same functions the
// CLI runs. Every function that computes takes the Backend it runs on (`wasmBackend`, the SIMD
// kernels; `ts32Backend`, the TypeScript oracles; `selectedBackend()` reads DINO_REF_KERNELS).
//
//   import { checkCase, dinoLoss } from "dino-ref";
//   const r = await checkCase("fixtures/golden/dino_loss/k17_nc2_b1.safetensors");
//   if (!r.passed) console.log(r.outputs.filter((o) => !o.pass));

import { readGoldenCase } from "./io/golden.js";
import { checkCase as checkGoldenCase, casePassed } from "./ops/registry.js";
import { selectedBackend, type Backend } from "./kernels/backend.js";
import type { OutputReport } from "./io/golden.js";

// ---- errors and tensors ----
export { DinoRefError } from "./tensor/errors.js";
export type { FloatArray } from "./tensor/floatArray.js";
export type { NamedTensor } from "./tensor/named.js";
export { Rng, STREAM } from "./tensor/rng.js";

// ---- backends: the one kernel table ----
export { wasmBackend, ts32Backend, ts64Backend, selectedBackend, type Backend, type BackendName, type Tensor } from "./kernels/backend.js";

// ---- files ----
export { readSafetensors, writeSafetensors, parseSafetensors, serializeSafetensors, tensor, type StTensor, type DType, type SafetensorsFile } from "./io/safetensors.js";
export { readGoldenCase, readGoldenCase as readCase, findCaseFiles, compareTensors, GOLDEN_FORMAT, type GoldenCase, type OutputReport, type Tolerance } from "./io/golden.js";
export { runCase, CONTRACT_OPS } from "./ops/registry.js";

// ---- the equations (src/dino) ----
export { dinoLoss, dinoLossWithCenterUpdate, type DinoLossParams, type DinoLossResult } from "./dino/loss.js";
export { updateCenter } from "./dino/center.js";
export { cosineSchedule, teacherTempSchedule, dinoSchedules, hyperparamsAt, type ScheduleArgs, type DinoSchedules } from "./dino/schedules.js";
export { updateTeacher } from "./dino/ema.js";
export { clipGradients, clipCoefficient, type GradNorm } from "./dino/clipGradients.js";
export { adamwStep, type AdamWState, type AdamWOptions } from "./dino/adamw.js";
export { cancelLastLayerGradients } from "./dino/freezeLastLayer.js";
export { isRegularized, paramGroups } from "./dino/paramGroups.js";

// ---- the model (src/model) ----
export { vitConfig, vitPreset, type VitConfig } from "./model/vitConfig.js";
export { vitParamSpecs, initVit } from "./model/vitParams.js";
export { vitForward, vitBackward, vitLastSelfAttention, vitIntermediateLayers, type VitCache } from "./model/vit.js";
export { dinoHeadForward, dinoHeadBackward, dinoHeadParamSpecs, initDinoHead, type DinoHeadConfig } from "./model/dinoHead.js";
export { dinoParamSpecs, initDino, initBackbone, multiCropForward, multiCropBackward, type DinoModelConfig } from "./model/dino.js";
export { ParamStore, HostParams, type ParamSpec, type ParamScope } from "./model/params.js";
export { loadBackbone, type LoadedBackbone } from "./model/loadBackbone.js";
export { inferVit, inferHead } from "./model/inferArchitecture.js";
export { matchStateDict, loadMatched, networkTensors } from "./model/stateDict.js";
export { interpolatePosEncoding } from "./model/posEmbed.js";

// ---- training (src/train) ----
export { runTraining as train, type RunOptions, type RunEvent, type Summary } from "./train/run.js";
export { trainStep, type StepResult, type StepSchedule, type StepSettings } from "./train/trainStep.js";
export { createTrainState, modelConfig, type TrainState } from "./train/trainState.js";
export { preset, PRESETS, withDefaults, type TrainConfig } from "./train/config.js";
export { validateConfig, parseSetting } from "./train/configCheck.js";
export { saveCheckpoint, loadCheckpoint, checkpointConfig } from "./train/checkpoint.js";

// ---- evaluation (src/eval) ----
export { knnClassify as knn, l2NormalizeRows, type KnnOptions, type KnnResult } from "./eval/knn.js";
export { extractFeatures } from "./eval/features.js";
export { clsAttention } from "./eval/attentionMaps.js";
export { attentionMask } from "./eval/attentionMask.js";

/** The result of checking one golden case: whether every output passed, and the per-output rows. */
export interface CheckResult {
  readonly path: string;
  readonly op: string;
  readonly passed: boolean;
  readonly outputs: readonly OutputReport[];
}

/**
 * Recomputes the golden case file at `path` with dino-ref (the same path as `dino-ref check`) and
 * compares every expected output with the case's tolerance. Rejects with a DinoRefError for a file
 * that is not a valid case.
 */
export async function checkCase(path: string, opts: { backend?: Backend } = {}): Promise<CheckResult> {
  const r = checkGoldenCase(readGoldenCase(path), opts.backend ?? selectedBackend());
  return { path: r.path, op: r.op, passed: casePassed(r), outputs: r.outputs };
}
