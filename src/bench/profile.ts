// `dino-ref bench --profile`: where the time of one mnist-tiny training step goes, per phase
// (teacher forward, student forward, loss, backward, clipping, AdamW, EMA, centre; the data
// pipeline timed on its own) and per kernel of the backend (calls, ms, % of the step, GFLOP/s),
// beside PyTorch's profiler on the same step (reference-tests/train_torch.py --profile-steps).
// A phase's time outside the kernels is TypeScript glue (copies, reshapes, the loss in float64).

import type { Backend } from "../kernels/backend.js";
import { wasmBackend } from "../kernels/backend.js";
import { createTrainState } from "../train/trainState.js";
import { datasetSplits } from "../data/splits.js";
import { preset } from "../train/config.js";
import { trainStep, type StepPhase, type StepPhases } from "../train/trainStep.js";
import { trainLoader, cropTensors } from "../train/trainLoader.js";
import { threadCount } from "../kernels/threads.js";
import { FLOPS_PER_ELEMENT } from "./rowKernels.js";
import { WARMUPS, benchStepHyperparams } from "./train.js";
import { NO_BUGS } from "../tensor/portingBugs.js";

/** One kernel's totals over the profiled steps. */
export interface OpStat {
  readonly op: string;
  calls: number;
  seconds: number;
  /** Floating-point operations (matmul and attention: 2 per multiply-add; row kernels: nominal counts). */
  flops: number;
}

/** One phase's totals: wall time, and the part of it spent inside backend kernels. */
export interface PhaseStat {
  readonly phase: string;
  seconds: number;
  kernelSeconds: number;
}

export interface StepProfile {
  readonly steps: number;
  readonly threads: number;
  /** Mean wall seconds of a whole step. */
  readonly stepSeconds: number;
  readonly images: number;
  readonly phases: PhaseStat[];
  readonly ops: OpStat[];
  /** Mean seconds to build one batch of crops (outside the step). */
  readonly dataSeconds: number;
}

/** Collects phase and kernel times: the StepPhases of trainStep and the kernel wrapper of `profiledBackend`. */
export class Recorder implements StepPhases {
  readonly ops = new Map<string, OpStat>();
  readonly phases = new Map<string, PhaseStat>();
  private current: PhaseStat | null = null;
  private since = 0;

  /** `now`: the clock in ms (wall time; a CPU-time clock suits one thread on a busy machine). */
  constructor(private readonly now: () => number = () => performance.now()) {}

  begin(phase: StepPhase): void {
    this.end();
    this.current = this.phases.get(phase) ?? { phase, seconds: 0, kernelSeconds: 0 };
    this.phases.set(phase, this.current);
    this.since = this.now();
  }

  end(): void {
    if (this.current !== null) this.current.seconds += (this.now() - this.since) / 1000;
    this.current = null;
  }

  /** Times `fn` as one call of kernel `op` doing `flops` operations. */
  time<T>(op: string, flops: number, fn: () => T): T {
    const t0 = this.now();
    try {
      return fn();
    } finally {
      const s = (this.now() - t0) / 1000;
      const stat = this.ops.get(op) ?? { op, calls: 0, seconds: 0, flops: 0 };
      stat.calls++;
      stat.seconds += s;
      stat.flops += flops;
      this.ops.set(op, stat);
      if (this.current !== null) this.current.kernelSeconds += s;
    }
  }
}

/** What a linear layer's matmul layout computes (y = x·Wᵀ forward; the two gradients backward). */
const MATMUL_ROLE = { NT: "NT: x·Wᵀ, y·W_projᵀ (forward)", NN: "NN: ∂y·W (∂x)", TN: "TN: ∂yᵀ·x (∂W)" } as const;

/** `be` with every kernel call timed into `rec` (same results: the calls are passed through). */
export function profiledBackend(be: Backend, rec: Recorder): Backend {
  const F = FLOPS_PER_ELEMENT;
  return {
    ...be,
    alloc: (shape) => rec.time("alloc (zero-filled)", 0, () => be.alloc(shape)),
    empty: (shape) => rec.time("alloc (not filled)", 0, () => be.empty(shape)),
    zero: (x) => rec.time("zero fill", 0, () => be.zero(x)),
    matmul: (c, a, b, bias, M, K, N, layout, acc, resid) =>
      rec.time(`matmul ${MATMUL_ROLE[layout]}`, 2 * M * K * N, () => be.matmul(c, a, b, bias, M, K, N, layout, acc, resid)),
    matmulBackward: (ga, gb, gbias, gc, a, b, M, K, N) =>
      rec.time("matmul backward", 2 * M * K * N * ((ga ? 1 : 0) + (gb ? 1 : 0)), () => be.matmulBackward(ga, gb, gbias, gc, a, b, M, K, N)),
    matmulBiasGrad: (g, c, M, N) => rec.time("bias gradient Σ rows", M * N, () => be.matmulBiasGrad(g, c, M, N)),
    layerNormForward: (y, mean, rstd, x, w, b, R, D, eps) =>
      rec.time("layer norm forward", F.layerNormForward * R * D, () => be.layerNormForward(y, mean, rstd, x, w, b, R, D, eps)),
    layerNormBackward: (gx, gw, gb, gy, x, mean, rstd, w, R, D) =>
      rec.time("layer norm backward", F.layerNormBackward * R * D, () => be.layerNormBackward(gx, gw, gb, gy, x, mean, rstd, w, R, D)),
    geluForward: (y, x, n) => rec.time("GELU forward", F.geluForward * n, () => be.geluForward(y, x, n)),
    geluBackward: (gx, gy, x, n) => rec.time("GELU backward", F.geluBackward * n, () => be.geluBackward(gx, gy, x, n)),
    attentionForward: (out, attn, q, k, v, B, H, N, Dh, scale) =>
      rec.time("attention forward", 4 * B * H * N * N * Dh, () => be.attentionForward(out, attn, q, k, v, B, H, N, Dh, scale)),
    attentionBackward: (gq, gk, gv, go, q, k, v, attn, B, H, N, Dh, scale) =>
      rec.time("attention backward", 8 * B * H * N * N * Dh, () => be.attentionBackward(gq, gk, gv, go, q, k, v, attn, B, H, N, Dh, scale)),
    attentionForwardRows: (out, attn, qkv, B, H, N, Dh, scale, nq = N) =>
      rec.time("attention forward", 4 * B * H * nq * N * Dh, () => be.attentionForwardRows(out, attn, qkv, B, H, N, Dh, scale, nq)),
    attentionBackwardRows: (g, go, qkv, attn, B, H, N, Dh, scale, nq = N) =>
      rec.time("attention backward", 8 * B * H * nq * N * Dh, () => be.attentionBackwardRows(g, go, qkv, attn, B, H, N, Dh, scale, nq)),
    softmaxForward: (p, x, R, K, t) => rec.time("softmax", F.softmax * R * K, () => be.softmaxForward(p, x, R, K, t)),
    logSoftmaxForward: (p, x, R, K, t) => rec.time("log-softmax", F.logSoftmax * R * K, () => be.logSoftmaxForward(p, x, R, K, t)),
    emaUpdate: (t, s, m) => rec.time("EMA", 3 * t.length, () => be.emaUpdate(t, s, m)),
    adamwUpdate: (p, g, m, v, h) => rec.time("AdamW", 15 * p.length, () => be.adamwUpdate(p, g, m, v, h)),
    l2Norm: (x) => rec.time("clipping ‖g‖", 2 * x.length, () => be.l2Norm(x)),
    scaleInPlace: (x, s) => rec.time("clipping g·coef", x.length, () => be.scaleInPlace(x, s)),
  };
}

/**
 * Profiles `steps` mnist-tiny training steps (after WARMUPS unprofiled warm-up steps) on the wasm
 * backend with the current thread count: each step on the next batch of the first epoch, whose
 * crops are built (and timed) before the step.
 */
export function profileTrainStep(steps: number, now: () => number = () => performance.now()): StepProfile {
  const c = preset("mnist-tiny");
  const state = createTrainState(wasmBackend, c);
  const loader = trainLoader(c, datasetSplits(c).train);
  const { schedule, settings } = benchStepHyperparams(c);
  const crops = (i: number) => cropTensors(loader.batch(0, i % loader.batchesPerEpoch));
  for (let i = 0; i < WARMUPS; i++) trainStep(wasmBackend, state, crops(i), schedule, settings);
  const rec = new Recorder(now);
  const be = profiledBackend(wasmBackend, rec);
  let dataSeconds = 0;
  let stepSeconds = 0;
  for (let i = 0; i < steps; i++) {
    const t0 = now();
    const x = crops(WARMUPS + i);
    const t1 = now();
    trainStep(be, state, x, schedule, settings, undefined, 1, NO_BUGS, rec);
    stepSeconds += (now() - t1) / 1000;
    dataSeconds += (t1 - t0) / 1000;
  }
  const per = (s: number) => s / steps;
  return {
    steps,
    threads: threadCount(),
    stepSeconds: per(stepSeconds),
    images: c.batchSize,
    dataSeconds: per(dataSeconds),
    phases: [...rec.phases.values()].map((p) => ({ phase: p.phase, seconds: per(p.seconds), kernelSeconds: per(p.kernelSeconds) })),
    ops: [...rec.ops.values()].map((o) => ({ op: o.op, calls: o.calls / steps, seconds: per(o.seconds), flops: o.flops / steps })).sort((a, b) => b.seconds - a.seconds),
  };
}

const pct = (part: number, whole: number) => `${((100 * part) / whole).toFixed(1)}%`;
const ms = (s: number) => (1000 * s).toFixed(1);

/** Rows of the phase table: phase, ms, % of the step, ms in kernels, ms of glue. */
export function phaseRows(p: StepProfile): string[][] {
  const rows = p.phases.map((x) => [x.phase, ms(x.seconds), pct(x.seconds, p.stepSeconds), ms(x.kernelSeconds), ms(x.seconds - x.kernelSeconds)]);
  const inPhases = p.phases.reduce((s, x) => s + x.seconds, 0);
  rows.push(["(between phases)", ms(p.stepSeconds - inPhases), pct(p.stepSeconds - inPhases, p.stepSeconds), "", ""]);
  rows.push(["whole step", ms(p.stepSeconds), "100%", ms(p.phases.reduce((s, x) => s + x.kernelSeconds, 0)), ""]);
  rows.push(["data (outside the step)", ms(p.dataSeconds), pct(p.dataSeconds, p.stepSeconds), "", ""]);
  return rows;
}

/** Rows of the kernel table: op, calls per step, ms, % of the step, GFLOP/s. */
export function opRows(p: StepProfile): string[][] {
  return p.ops.map((o) => [o.op, String(Math.round(o.calls)), ms(o.seconds), pct(o.seconds, p.stepSeconds), o.flops > 0 ? (o.flops / o.seconds / 1e9).toFixed(1) : ""]);
}
