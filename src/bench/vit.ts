// Benchmark cases for the whole ViT backbone: ViT-S/16 inference (the teacher's forward) at 224 px
// on 1 and 2 threads beside PyTorch's (reference-tests/bench_vit_torch.py, 1 and 2 threads, in the
// same run); a tiny training configuration forward+backward beside the TypeScript oracles; and one
// ViT-S/16 training pass (forward + backward) at 224 px, batch 64, for its peak wasm memory (the
// blocks recomputed in the backward). Weights and images are made on the first call, so listing
// cases costs nothing.

import type { BenchCase } from "./types.js";
import { ts32Backend, wasmBackend, type Backend, type Tensor } from "../kernels/backend.js";
import { ParamStore, type ParamScope } from "../model/params.js";
import { vitBackward, vitForward } from "../model/vit.js";
import { vitConfig, vitPreset, type VitConfig } from "../model/vitConfig.js";
import { vitForwardFlops } from "../model/vitFlops.js";
import { initVit, vitParamSpecs } from "../model/vitParams.js";
import { Rng, STREAM } from "../tensor/rng.js";
import { torchVitForward } from "./torch.js";

/** Deterministic images in [−1, 1). */
function images(be: Backend, B: number, H: number, W: number, seed: number): Tensor {
  const t = be.alloc([B, 3, H, W]);
  const r = new Rng(seed, STREAM.data);
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = 2 * r.uniform() - 1;
  return t;
}

/** A lazily prepared case: `prepare` runs on the first call of run() (the untimed warm-up). */
function lazy(prepare: () => () => void): () => void {
  let run: (() => void) | null = null;
  return () => {
    if (run === null) run = prepare();
    run();
  };
}

function params(be: Backend, cfg: VitConfig, grads: boolean): ParamScope {
  const specs = vitParamSpecs(cfg);
  const p = ParamStore.create(be, specs, { grads });
  initVit(p, cfg, new Rng(0, STREAM.init));
  return p;
}

/** Inference: forward without cache, activations freed after each call. */
function forwardCase(be: Backend, cfg: VitConfig, B: number, H: number, W: number): () => void {
  return lazy(() => {
    const p = params(be, cfg, false);
    const img = images(be, B, H, W, 1);
    return () => {
      const m = be.mark();
      vitForward(be, p, cfg, img, B, H, W, { cache: false });
      be.release(m);
    };
  });
}

/** A training step's backbone part: forward with cache, backward to every parameter (drop path on). */
function trainCase(be: Backend, cfg: VitConfig, B: number, H: number, W: number): () => void {
  return lazy(() => {
    const p = params(be, cfg, true);
    const img = images(be, B, H, W, 2);
    const gradCls = be.alloc([B, cfg.embedDim]);
    gradCls.data.fill(1 / B);
    let step = 0;
    return () => {
      const m = be.mark();
      const { cache } = vitForward(be, p, cfg, img, B, H, W, { training: true, dropPathRng: new Rng(0, STREAM.dropPath, step++) });
      vitBackward(be, p, cfg, cache!, gradCls);
      be.release(m);
    };
  });
}

export function vitBenchCases(): BenchCase[] {
  const small = vitPreset("vit_small", 16);
  const smallTrain = vitPreset("vit_small", 16, { dropPathRate: 0.1 });
  const tiny = vitConfig({ patchSize: 4, embedDim: 64, depth: 4, numHeads: 4, mlpRatio: 4, imgSize: 28, dropPathRate: 0.1 });
  const tinyName = "vit tiny fwd+bwd p4 D64 depth4 h4 28px b64";
  const tsBatch = 4;
  // the backward is counted as twice the forward
  const trainFlops = (cfg: VitConfig, b: number, px: number) => 3 * vitForwardFlops(cfg, b, px, px);
  const fwdName = "vit_small/16 forward 224px b16";
  const fwdFlops = vitForwardFlops(small, 16, 224, 224);
  const forward = forwardCase(wasmBackend, small, 16, 224, 224);
  return [
    { name: fwdName, impl: "wasm-simd", threads: 1, flops: fwdFlops, images: 16, run: forward },
    { name: fwdName, impl: "wasm-simd x2", threads: 2, flops: fwdFlops, images: 16, run: forward },
    ...[1, 2].map((t): BenchCase => ({ name: fwdName, impl: `torch x${t}`, flops: fwdFlops, images: 16, run() {}, external: () => torchVitForward(t, 5) })),
    { name: tinyName, impl: "wasm-simd", threads: 1, flops: trainFlops(tiny, 64, 28), images: 64, note: "drop path 0.1", run: trainCase(wasmBackend, tiny, 64, 28, 28) },
    { name: tinyName, impl: "ts", flops: trainFlops(tiny, tsBatch, 28), images: tsBatch, note: `ts oracles on a batch of ${tsBatch}`, run: trainCase(ts32Backend, tiny, tsBatch, 28, 28) },
    {
      name: "vit_small/16 fwd+bwd 224px b64", impl: "wasm-simd x2", threads: 2, flops: trainFlops(smallTrain, 64, 224), images: 64, peakMemory: true, once: true,
      note: "one cold call, for the memory: blocks recomputed in the backward (activation checkpointing)", run: trainCase(wasmBackend, smallTrain, 64, 224, 224),
    },
  ];
}
