// Benchmark of a whole DINO training iteration of the `mnist-tiny` preset, and of `mnist-official`
// (mnist-tiny's previous step: batch 64, patch 4, 49 tokens a global crop) (teacher on 2 global
// crops, student on all crops, loss, backward, clipping, AdamW, EMA, centre) on real MNIST crops,
// reported as images/s, on 1 and 2 threads, beside PyTorch's on the same configuration with 1 and
// 2 threads measured in the same run (reference-tests/train_torch.py --bench-steps), and the wasm
// memory the step takes at its peak.

import type { BenchCase } from "./types.js";
import { wasmBackend, type Tensor } from "../kernels/backend.js";
import { createTrainState, type TrainState } from "../train/trainState.js";
import { datasetSplits } from "../data/splits.js";
import { preset, type TrainConfig } from "../train/config.js";
import { trainStep, type StepSchedule, type StepSettings } from "../train/trainStep.js";
import { trainLoader, cropTensors } from "../train/trainLoader.js";
import { torchTrainStep } from "./torch.js";
import { trainStepFlops } from "../train/stepFlops.js";

/** Untimed steps first: the TypeScript of the step (the loss, the glue) runs once per step and is optimised by V8 after a few. */
export const WARMUPS = 5;

/**
 * The hyperparameters of a measured step (bench and bench --profile): past the warm-ups, the last
 * layer free, so that every parameter is updated.
 */
export function benchStepHyperparams(c: TrainConfig): { schedule: StepSchedule; settings: StepSettings } {
  return {
    schedule: { epoch: 1, lr: 1e-4, weightDecay: 0.04, momentum: 0.996, teacherTemp: c.teacherTemp },
    settings: { studentTemp: c.studentTemp, centerMomentum: c.centerMomentum, clipGrad: c.clipGrad, freezeLastLayer: 0 },
  };
}

/** The presets whose training step bench measures. */
export const BENCH_TRAIN_PRESETS = ["mnist-tiny", "mnist-official"] as const;

export function trainBenchCases(): BenchCase[] {
  return BENCH_TRAIN_PRESETS.flatMap(presetStepCases);
}

function presetStepCases(presetName: string): BenchCase[] {
  const c = preset(presetName);
  let prepared: { state: TrainState; crops: Tensor[] } | null = null;
  const { schedule, settings } = benchStepHyperparams(c);
  const flops = trainStepFlops(c);
  const name = `dino train step ${presetName} b${c.batchSize} (${2}x${c.globalSize}px + ${c.localCrops}x${c.localSize}px)`;
  const step = () => {
    if (prepared === null) {
      const state = createTrainState(wasmBackend, c);
      prepared = { state, crops: cropTensors(trainLoader(c, datasetSplits(c).train).batch(0, 0)) };
    }
    const { state, crops } = prepared;
    trainStep(wasmBackend, state, crops, schedule, settings);
  };
  const note = "backbone flops only; crops prepared once";
  return [
    { name, impl: "wasm-simd", threads: 1, flops, images: c.batchSize, note, peakMemory: true, warmups: WARMUPS, run: step },
    { name, impl: "wasm-simd x2", threads: 2, flops, images: c.batchSize, note, peakMemory: true, warmups: WARMUPS, run: step },
    ...[1, 2].map((t): BenchCase => ({ name, impl: `torch x${t}`, flops, images: c.batchSize, run() {}, external: () => torchTrainStep(presetName, t, 10) })),
  ];
}
