// The playground's live training: DINO at toy scale, small enough to run in a browser in seconds,
// with centering and sharpening as switches, so that the two collapses of the paper's Sec. 5.3
// (Fig. 7) appear on screen. Every piece is the project's own: the DINO head (src/model/dinoHead.ts)
// on the SIMD wasm kernels, the loss (src/dino/loss.ts), the centre (center.ts), the teacher EMA
// (ema.ts), AdamW (adamw.ts), the schedules (schedules.ts) and the collapse verdict
// (src/train/collapse.ts). Only the data and the network's size are toy-sized.
//
// Data: C clusters in Din dimensions (means ~ N(0, 1)); a "view" of a point is the point plus
// Gaussian noise, larger than the clusters' spread, so the two global views of one point differ
// and outputting a constant is a tempting way to agree (the collapses are easy to reach). The
// student is a DINO head (MLP, L2 bottleneck, weight-normalised prototypes) on the raw point; the
// teacher is its EMA. Switches: centering off keeps c = 0; sharpening off sets τt = τs.
//
// Determinism: every random number comes from the counter-based Philox generator (src/tensor/rng.ts),
// keyed by (seed, purpose, index), so a run is a pure function of its config.
//
// Shapes: N points, B batch, Din input width, K prototypes (head output dim), 2 global views.

import { wasmBackend } from "../../src/kernels/backend.js";
import { ParamStore } from "../../src/model/params.js";
import { dinoHeadBackward, dinoHeadForward, dinoHeadParamSpecs, initDinoHead, isTrainableHeadParam, type DinoHeadConfig } from "../../src/model/dinoHead.js";
import { dinoLoss } from "../../src/dino/loss.js";
import { updateCenter } from "../../src/dino/center.js";
import { updateTeacher } from "../../src/dino/ema.js";
import { adamwStep, type AdamWState } from "../../src/dino/adamw.js";
import { clipGradients } from "../../src/dino/clipGradients.js";
import { cosineSchedule, teacherTempSchedule } from "../../src/dino/schedules.js";
import { collapseSignals, collapseState, type CollapseState } from "../../src/train/collapse.js";
import { arena } from "../../src/kernels/arena.js";
import { Rng, STREAM } from "../../src/tensor/rng.js";
import { check } from "../../src/tensor/errors.js";

export interface ToyRunConfig {
  readonly seed: number;
  /** Subtract the running centre from the teacher outputs (off: c stays 0). */
  readonly centering: boolean;
  /** Teacher temperature below the student's (off: τt = τs). */
  readonly sharpening: boolean;
  readonly epochs: number;
  /** Points in the data set; nitersPerEpoch = ⌊N / B⌋. */
  readonly points: number;
  readonly batchSize: number;
  readonly clusters: number;
  readonly inDim: number;
  /** K, the number of prototypes. */
  readonly outDim: number;
  readonly hiddenDim: number;
  readonly bottleneckDim: number;
  /** Standard deviation of a point around its cluster mean. */
  readonly spread: number;
  /** Standard deviation of the noise that makes a view. */
  readonly viewNoise: number;
  readonly lr: number;
  readonly minLr: number;
  readonly warmupEpochs: number;
  readonly weightDecay: number;
  readonly weightDecayEnd: number;
  readonly momentumTeacher: number;
  readonly studentTemp: number;
  /** τt when sharpening is on (after its warm-up). */
  readonly teacherTemp: number;
  readonly warmupTeacherTemp: number;
  readonly warmupTeacherTempEpochs: number;
  readonly centerMomentum: number;
  /** Per-parameter gradient norm cap; 0 disables. */
  readonly clipGrad: number;
}

export const TOY_DEFAULTS: ToyRunConfig = {
  seed: 0,
  centering: true,
  sharpening: true,
  epochs: 80,
  points: 256,
  batchSize: 32,
  clusters: 8,
  inDim: 16,
  outDim: 16,
  hiddenDim: 64,
  bottleneckDim: 16,
  spread: 0.3,
  viewNoise: 1.75,
  lr: 0.2,
  minLr: 1e-4,
  warmupEpochs: 2,
  weightDecay: 0.04,
  weightDecayEnd: 0.4,
  momentumTeacher: 0.99,
  studentTemp: 0.1,
  teacherTemp: 0.04,
  warmupTeacherTemp: 0.04,
  warmupTeacherTempEpochs: 0,
  centerMomentum: 0.9,
  clipGrad: 3,
};

/** How many teacher rows a step record keeps, for display. */
export const SAMPLE_ROWS = 4;

/** The four schedules of a toy run (lr, wd, momentum per iteration; τt per epoch, as main_dino.py). */
export interface ToySchedules {
  readonly nitersPerEpoch: number;
  readonly lr: Float64Array;
  readonly wd: Float64Array;
  readonly momentum: Float64Array;
  readonly teacherTemp: Float64Array;
}

/** What one iteration records. */
export interface ToyStepRecord {
  readonly step: number;
  readonly epoch: number;
  readonly loss: number;
  /** Mean teacher entropy h(Pt) (nats). */
  readonly teacherEntropy: number;
  /** Mean KL(Pt‖Ps). loss = teacherEntropy + kl. */
  readonly kl: number;
  readonly lnK: number;
  readonly maxTeacherProb: number;
  readonly argmaxPrototypes: number;
  readonly state: CollapseState;
  /** The teacher's targets Pt for the first SAMPLE_ROWS images of the batch (view 1) [SAMPLE_ROWS, K]. */
  readonly sampleTeacherProbs: Float64Array;
}

/** Fills in defaults and checks the config; DinoRefError naming the field otherwise. */
export function toyConfig(overrides: Partial<ToyRunConfig> = {}): ToyRunConfig {
  const c = { ...TOY_DEFAULTS, ...overrides };
  for (const key of ["epochs", "points", "batchSize", "clusters", "inDim", "outDim", "hiddenDim", "bottleneckDim"] as const) {
    check(Number.isInteger(c[key]) && c[key] >= 1, () => `toy run: ${key} ${c[key]}; expected a positive integer`);
  }
  check(c.batchSize <= c.points, () => `toy run: batchSize ${c.batchSize} is larger than points ${c.points}`);
  check(Number.isSafeInteger(c.seed) && c.seed >= 0, () => `toy run: seed ${c.seed}; expected a non-negative integer`);
  return c;
}

/** The schedules a toy run follows: warm-up + cosine lr, cosine wd and λ, τt (τs without sharpening). */
export function toySchedules(c: ToyRunConfig): ToySchedules {
  const nitersPerEpoch = Math.floor(c.points / c.batchSize);
  const teacherTemp = c.sharpening ? teacherTempSchedule(c.warmupTeacherTemp, c.teacherTemp, c.warmupTeacherTempEpochs, c.epochs) : new Float64Array(c.epochs).fill(c.studentTemp);
  return {
    nitersPerEpoch,
    // lr: linear scaling lr·B/256, linear warm-up from 0, then a cosine to minLr
    lr: cosineSchedule((c.lr * c.batchSize) / 256, c.minLr, c.epochs, nitersPerEpoch, c.warmupEpochs),
    wd: cosineSchedule(c.weightDecay, c.weightDecayEnd, c.epochs, nitersPerEpoch),
    momentum: cosineSchedule(c.momentumTeacher, 1, c.epochs, nitersPerEpoch),
    teacherTemp,
  };
}

/** The toy data set: points [N, Din] around `clusters` means, and each point's cluster. */
export function toyData(c: ToyRunConfig): { points: Float32Array; labels: Int32Array } {
  const meanRng = new Rng(c.seed, STREAM.data, 0);
  const means = Float64Array.from({ length: c.clusters * c.inDim }, () => meanRng.normal());
  const pointRng = new Rng(c.seed, STREAM.data, 1);
  const points = new Float32Array(c.points * c.inDim);
  const labels = new Int32Array(c.points);
  for (let n = 0; n < c.points; n++) {
    // cluster n mod C, so every cluster has ⌊N/C⌋ or ⌈N/C⌉ points
    const label = n % c.clusters;
    labels[n] = label;
    // x = mean_label + spread·ε
    for (let d = 0; d < c.inDim; d++) points[n * c.inDim + d] = means[label * c.inDim + d] + c.spread * pointRng.normal();
  }
  return { points, labels };
}

/**
 * A toy DINO run, one iteration per `step()`. The parameters live in the kernels' arena: `dispose()`
 * frees them (runs must be disposed in reverse order of creation, like any arena allocation).
 */
export class ToyRun {
  readonly config: ToyRunConfig;
  readonly schedules: ToySchedules;
  readonly totalSteps: number;
  readonly head: DinoHeadConfig;
  private readonly arenaMark: number;
  private readonly student: ParamStore;
  private readonly teacher: ParamStore;
  private readonly optimizer: AdamWState = new Map();
  private center: Float32Array;
  private readonly data: { points: Float32Array; labels: Int32Array };
  private order: Int32Array = new Int32Array(0);
  private it = 0;
  private disposed = false;

  constructor(overrides: Partial<ToyRunConfig> = {}) {
    this.config = toyConfig(overrides);
    const c = this.config;
    this.schedules = toySchedules(c);
    this.totalSteps = c.epochs * this.schedules.nitersPerEpoch;
    this.head = { inDim: c.inDim, outDim: c.outDim, hiddenDim: c.hiddenDim, bottleneckDim: c.bottleneckDim, nlayers: 3, normLastLayer: true };
    this.data = toyData(c);
    this.arenaMark = arena().mark();
    const specs = dinoHeadParamSpecs(this.head);
    this.student = ParamStore.create(wasmBackend, specs);
    this.teacher = ParamStore.create(wasmBackend, specs, { grads: false });
    // the student is initialised as the official head; the teacher starts as its copy
    initDinoHead(this.student, this.head, new Rng(c.seed, STREAM.init));
    this.teacher.flat.data.set(this.student.flat.data);
    this.center = new Float32Array(c.outDim);
  }

  /** Iterations done so far. */
  get step(): number {
    return this.it;
  }

  get done(): boolean {
    return this.it >= this.totalSteps;
  }

  /** One DINO iteration: teacher and student on two views, loss, backward, AdamW, EMA, centre. */
  next(): ToyStepRecord {
    check(!this.disposed, "toy run: next() after dispose()");
    check(!this.done, () => `toy run: all ${this.totalSteps} iterations are done`);
    const c = this.config;
    const s = this.schedules;
    const be = wasmBackend;
    const it = this.it;
    const epoch = Math.floor(it / s.nitersPerEpoch);
    const B = c.batchSize;
    const K = c.outDim;
    const mark = be.mark();
    try {
      // ---- two global views of B points: rows 0..B−1 view 1, rows B..2B−1 view 2 ----
      const views = be.alloc([2 * B, c.inDim]);
      views.data.set(this.makeViews(it));

      // ---- teacher (no gradients) and student on both views ----
      const { y: teacherOut } = dinoHeadForward(be, this.teacher, this.head, views, 2 * B);
      const { y: studentOut, cache } = dinoHeadForward(be, this.student, this.head, views, 2 * B);

      // ---- loss: H(Pt, Ps) = h(Pt) + KL(Pt‖Ps) over the pairs (view 1 → view 2), (view 2 → view 1) ----
      const result = dinoLoss(studentOut as { shape: number[]; data: Float32Array }, teacherOut, this.center, {
        studentTemp: c.studentTemp,
        teacherTemp: s.teacherTemp[epoch],
        ncrops: 2,
      });
      check(Number.isFinite(result.loss), () => `toy run: the loss is ${result.loss} at step ${it}`);

      // ---- backward, clipping, AdamW ----
      this.student.zeroGrads();
      const gradOut = be.alloc([2 * B, K]);
      gradOut.data.set(result.gradStudent.data);
      dinoHeadBackward(be, this.student, this.head, cache, gradOut);
      const params = this.student.params.filter((p) => isTrainableHeadParam(p.name, this.head));
      const grads = this.student.grads.filter((g) => isTrainableHeadParam(g.name, this.head));
      clipGradients(wasmBackend, grads, c.clipGrad);
      adamwStep(wasmBackend, params, grads, this.optimizer, { lr: s.lr[it], weightDecay: s.wd[it] });

      // ---- teacher EMA θt ← λθt + (1 − λ)θs, then the centre (or none) ----
      updateTeacher(wasmBackend, this.teacher.params, this.student.params, s.momentum[it]);
      if (c.centering) this.center = updateCenter(wasmBackend, this.center, teacherOut as { shape: number[]; data: Float32Array }, c.centerMomentum);

      const signals = collapseSignals(result.teacherProbs, 2 * B, K, result.teacherEntropy, result.kl);
      const rows = Math.min(SAMPLE_ROWS, B);
      this.it++;
      return {
        step: it,
        epoch,
        loss: result.loss,
        teacherEntropy: signals.teacherEntropy,
        kl: signals.kl,
        lnK: signals.lnK,
        maxTeacherProb: signals.maxTeacherProb,
        argmaxPrototypes: signals.argmaxPrototypes,
        state: collapseState(signals),
        sampleTeacherProbs: result.teacherProbs.slice(0, rows * K),
      };
    } finally {
      be.release(mark);
    }
  }

  /** Frees the run's parameters from the arena. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    arena().release(this.arenaMark);
  }

  /** The two views [2B, Din] of iteration `it`'s batch (a fresh permutation of the points every epoch). */
  private makeViews(it: number): Float32Array {
    const c = this.config;
    const s = this.schedules;
    const epoch = Math.floor(it / s.nitersPerEpoch);
    if (it % s.nitersPerEpoch === 0) this.order = new Rng(c.seed, STREAM.shuffle, epoch).permutation(c.points);
    const B = c.batchSize;
    const first = (it % s.nitersPerEpoch) * B;
    const out = new Float32Array(2 * B * c.inDim);
    for (let v = 0; v < 2; v++) {
      for (let b = 0; b < B; b++) {
        const n = this.order[first + b];
        // each view draws from its own stream position: (iteration, view, row)
        const rng = new Rng(c.seed, STREAM.crops, (it * 2 + v) * B + b);
        // view = x + σ·ε
        for (let d = 0; d < c.inDim; d++) out[(v * B + b) * c.inDim + d] = this.data.points[n * c.inDim + d] + c.viewNoise * rng.normal();
      }
    }
    return out;
  }
}
