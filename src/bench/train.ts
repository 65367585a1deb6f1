// Benchmark of a whole DINO training iteration of the `mnist-tiny` preset (teacher on 2 global
// crops, student on all crops, loss, backward, clipping, AdamW, EMA, centre) on real MNIST crops,
// reported as images/s, beside PyTorch's on the same configuration measured in the same run
// (reference-tests/train_torch.py --bench-steps, with as many threads as ours).

import type { BenchCase } from "./types.js";
import { wasmBackend, type Tensor } from "../kernels/backend.js";
import { createTrainState, type TrainState } from "../train/trainState.js";
import { datasetSplits } from "../data/splits.js";
import { preset } from "../train/config.js";
import { trainStep } from "../train/trainStep.js";
import { MultiCropLoader } from "../data/loader.js";
import { trainStepFlops } from "../train/stepFlops.js";
import { threadCount } from "../kernels/threads.js";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The PyTorch trainer of the same preset (run by /usr/bin/python3). */
const TORCH_SCRIPT = fileURLToPath(new URL("../../reference-tests/train_torch.py", import.meta.url));
const PYTHON = "/usr/bin/python3";

/** PyTorch's median seconds per training step of `presetName` with `threads` threads, or why it could not run. */
export function torchTrainStep(presetName: string, threads: number, steps: number): { seconds: number; reps: number } | { skipped: string } {
  if (!existsSync(PYTHON) || !existsSync(TORCH_SCRIPT)) return { skipped: `needs ${PYTHON} with torch and ${TORCH_SCRIPT}` };
  const r = spawnSync(PYTHON, [TORCH_SCRIPT, "--preset", presetName, "--threads", String(threads), "--bench-steps", String(steps)], { encoding: "utf8", timeout: 600_000 });
  const line = r.stdout?.trim().split("\n").pop() ?? "";
  if (r.status !== 0 || !line.startsWith("{")) return { skipped: `PyTorch did not run (${(r.stderr ?? String(r.error)).trim().split("\n").pop()}); install python3-torch` };
  const out = JSON.parse(line) as { seconds_per_step: number; reps: number };
  return { seconds: out.seconds_per_step, reps: out.reps };
}

export function trainBenchCases(): BenchCase[] {
  const c = preset("mnist-tiny");
  let prepared: { state: TrainState; crops: Tensor[] } | null = null;
  const flops = trainStepFlops(c);
  const name = `dino train step mnist-tiny b${c.batchSize} (${2}x${c.globalSize}px + ${c.localCrops}x${c.localSize}px)`;
  const threads = threadCount();
  return [
    {
      name,
      impl: `wasm-simd x${threads}`,
      flops,
      images: c.batchSize,
      note: "backbone flops only; crops prepared once",
      run() {
        if (prepared === null) {
          const state = createTrainState(wasmBackend, c);
          const loader = new MultiCropLoader(datasetSplits(c).train, { globalSize: c.globalSize, localSize: c.localSize, localCount: c.localCrops }, c.seed, c.batchSize);
          const batch = loader.batch(0, 0);
          prepared = { state, crops: batch.crops.map((data, i) => ({ shape: [c.batchSize, 3, batch.sizes[i], batch.sizes[i]], data })) };
        }
        const { state, crops } = prepared;
        trainStep(wasmBackend, state, crops, { epoch: 1, lr: 1e-4, weightDecay: 0.04, momentum: 0.996, teacherTemp: c.teacherTemp }, { studentTemp: c.studentTemp, centerMomentum: c.centerMomentum, clipGrad: c.clipGrad, freezeLastLayer: 0 });
      },
    },
    {
      name,
      impl: `torch x${threads}`,
      flops,
      images: c.batchSize,
      note: "reference-tests/train_torch.py --bench-steps 10 (PyTorch + its BLAS)",
      run() {},
      external: () => torchTrainStep("mnist-tiny", threads, 10),
    },
  ];
}
