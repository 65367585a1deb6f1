// Plain-text explanations for `dino-ref explain temperature|centering|loss|schedules`. Every number
// printed is computed here by the real functions (softmax oracle, updateCenter, dinoLoss, the
// schedules); only the small example inputs are written by hand.

import { softmaxForwardRef } from "../kernels/softmax.js";
import { dinoLoss } from "../dino/loss.js";
import { updateCenter } from "../dino/center.js";
import { selectedBackend } from "../kernels/backend.js";
import { dinoSchedules, DEFAULT_SCHEDULE_ARGS, hyperparamsAt, teacherTempSchedule } from "../dino/schedules.js";

/** The topics `dino-ref explain` accepts. */
export const EXPLAIN_TOPICS = ["temperature", "centering", "loss", "schedules"] as const;
export type ExplainTopic = (typeof EXPLAIN_TOPICS)[number];

/** The explanation of one topic. */
export function explain(topic: ExplainTopic): string {
  switch (topic) {
    case "temperature": return explainTemperature();
    case "centering": return explainCentering();
    case "loss": return explainLoss();
    case "schedules": return explainSchedules();
  }
}

/** The example inputs, shared with the plots of `dino-ref explain TOPIC --out DIR` (src/explain/figures.ts). */
export const EXAMPLES = {
  /** One row of head outputs (cosines in [-1, 1]). */
  temperatureLogits: [0.9, 0.7, 0.3, 0.0, -0.5],
  /** Teacher outputs [4 rows, K = 4] where dimension 0 dominates every row; τt; centre momentum. */
  centering: {
    K: 4,
    teacher: [
      0.9, 0.2, 0.1, 0.0,
      0.8, 0.0, 0.5, 0.1,
      0.95, 0.1, 0.0, 0.6,
      0.85, 0.7, 0.2, 0.1,
    ],
    teacherTemp: 0.04,
    centerMomentum: 0.9,
    updates: 30,
  },
  /** One image, 2 global crops [2, K = 5] for the student and the teacher, the centre, the temperatures. */
  loss: {
    K: 5,
    student: [0.6, 0.4, 0.1, -0.2, -0.3, /* crop 1 */ 0.2, 0.7, 0.0, -0.1, -0.4],
    teacher: [0.5, 0.6, 0.1, -0.3, -0.2, /* crop 1 */ 0.8, 0.3, 0.0, -0.1, -0.5],
    center: [0.1, 0.1, 0.0, -0.1, -0.1],
    params: { studentTemp: 0.1, teacherTemp: 0.04, ncrops: 2 },
  },
} as const;

/** One row of head outputs through softmax at several temperatures: sharpening. */
export function explainTemperature(): string {
  const logits = Float64Array.from(EXAMPLES.temperatureLogits);
  const K = logits.length;
  const rows = [1, 0.1, 0.04, 0.01].map((tau) => {
    const p = softmax(logits, tau);
    return [fmt(tau), ...Array.from(p, (x) => fmt(x)), fmt(entropy(p))];
  });
  return [
    "Temperature: p = softmax(z / τ). A small τ sharpens the distribution (the teacher uses",
    "τt = 0.04 to 0.07), a large τ flattens it (the student uses τs = 0.1).",
    "",
    `logits z = [${Array.from(logits).join(", ")}]   (head outputs are cosines in [-1, 1])`,
    "",
    table(["τ", ...Array.from({ length: K }, (_, k) => `p${k}`), "entropy (nats)"], rows),
    "",
    `Entropy ranges from 0 (one-hot) to ln K = ${fmt(Math.log(K))} (uniform). Sharpening alone`,
    "drives every teacher output to one-hot on the same dimension: collapse (paper Sec. 5.3).",
  ].join("\n");
}

/** Subtracting the running mean of the teacher outputs flattens a dimension that dominates every row. */
export function explainCentering(): string {
  const { K, centerMomentum, updates } = EXAMPLES.centering;
  const teacher = Float32Array.from(EXAMPLES.centering.teacher);
  const rows = teacher.length / K;
  const tau = EXAMPLES.centering.teacherTemp;
  // the centre after 30 iterations of c ← 0.9·c + 0.1·mean on this same batch, from c = 0
  let center: Float32Array = new Float32Array(K);
  for (let i = 0; i < updates; i++) center = updateCenter(selectedBackend(), center, { shape: [rows, K], data: teacher }, centerMomentum);
  const centred = Float64Array.from(teacher, (x, i) => x - center[i % K]);
  const without = softmax(Float64Array.from(teacher), tau, rows);
  const withC = softmax(centred, tau, rows);
  const body = Array.from({ length: rows }, (_, r) => [
    String(r),
    Array.from(teacher.subarray(r * K, r * K + K), (x) => fmt(x)).join(" "),
    Array.from(without.subarray(r * K, r * K + K), (x) => fmt(x, 2)).join(" "),
    Array.from(withC.subarray(r * K, r * K + K), (x) => fmt(x, 2)).join(" "),
  ]);
  const share = (p: Float64Array) => Array.from({ length: rows }, (_, r) => p[r * K]).reduce((a, b) => a + b, 0) / rows;
  const meanEntropy = (p: Float64Array) => Array.from({ length: rows }, (_, r) => entropy(p.subarray(r * K, r * K + K))).reduce((a, b) => a + b, 0) / rows;
  return [
    "Centering: Pt = softmax((t − c) / τt), with c a running mean of the raw teacher outputs",
    "(c ← 0.9·c + 0.1·batch mean). A dimension that is large for EVERY image is pulled back, so no",
    "single dimension can take over; alone, centering pushes towards the uniform output, which the",
    "low teacher temperature counteracts.",
    "",
    `Dimension 0 dominates every row below. τt = ${tau}; centre after 30 updates on this batch:`,
    `c = [${Array.from(center, (x) => fmt(x)).join(", ")}]`,
    "",
    table(["row", "teacher output t", "softmax(t/τt)", "softmax((t − c)/τt)"], body),
    "",
    table(["", "mean mass on dim 0", "mean entropy (nats)"], [
      ["without centering", fmt(share(without)), fmt(meanEntropy(without))],
      ["with centering", fmt(share(withC)), fmt(meanEntropy(withC))],
    ]),
    "",
    "Without centering every image gets the same sharp target (dimension 0); with it, each image's",
    "target peaks where it differs from the average, so the targets differ between images.",
  ].join("\n");
}

/** The loss on one concrete pair, split as teacher entropy + KL. */
export function explainLoss(): string {
  const { K, params } = EXAMPLES.loss;
  const student = Float32Array.from(EXAMPLES.loss.student);
  const teacher = Float32Array.from(EXAMPLES.loss.teacher);
  const center = Float32Array.from(EXAMPLES.loss.center);
  const r = dinoLoss({ shape: [2, K], data: student }, { shape: [2, K], data: teacher }, center, params);
  const Ps = softmax(Float64Array.from(student), params.studentTemp, 2);
  const Pt = softmax(Float64Array.from(teacher, (x, i) => x - center[i % K]), params.teacherTemp, 2);
  const row = (p: Float64Array, i: number) => Array.from(p.subarray(i * K, i * K + K), (x) => fmt(x, 3)).join(" ");
  return [
    "Loss: for each pair (teacher crop iq, student crop v ≠ iq),",
    "  H(Pt, Ps) = −Σ_k Pt[k]·log Ps[k] = h(Pt) + KL(Pt‖Ps),",
    "with Pt = softmax((t − c)/τt) (no gradient) and Ps = softmax(s/τs). The loss is the mean over",
    "the 2·ncrops − 2 pairs; only the KL part depends on the student, so the loss can never go below",
    "the teacher's entropy. One image, 2 global crops, no local crops, τs = 0.1, τt = 0.04:",
    "",
    table(["", "crop 0", "crop 1"], [["Pt (teacher)", row(Pt, 0), row(Pt, 1)], ["Ps (student)", row(Ps, 0), row(Ps, 1)]]),
    "",
    table(
      ["pair (iq, v)", "H(Pt, Ps)", "h(Pt)", "KL(Pt‖Ps)"],
      r.pairs.map((p) => [`(${p.teacherCrop}, ${p.studentCrop})`, fmt(p.crossEntropy), fmt(p.teacherEntropy), fmt(p.kl)]),
    ),
    "",
    `loss = mean over ${r.terms} pairs = ${fmt(r.loss)} = teacher entropy ${fmt(r.teacherEntropy)} + KL ${fmt(r.kl)}`,
    "Collapse shows as KL → 0: with a one-hot teacher h → 0, with a uniform one h → ln K.",
  ].join("\n");
}

/** lr, wd, momentum and teacher temperature at the key iterations of the default recipe. */
export function explainSchedules(): string {
  const a = DEFAULT_SCHEDULE_ARGS;
  const s = dinoSchedules(a);
  const n = s.lr.length;
  const w = a.warmupEpochs * a.nitersPerEpoch;
  const at = (label: string, it: number) => {
    const h = hyperparamsAt(s, it);
    return [label, String(it), String(h.epoch), fmt(h.lr, 12), fmt(h.wd, 12), fmt(h.momentum, 12), fmt(h.teacherTemp, 12)];
  };
  const paper = teacherTempSchedule(0.04, 0.07, 30, a.epochs);
  return [
    `Schedules of main_dino.py's defaults: ${a.epochs} epochs × ${a.nitersPerEpoch} iterations (ImageNet, batch`,
    `${a.totalBatchSize} = 8 GPUs × 64), lr ${a.lr}·${a.totalBatchSize}/256 with ${a.warmupEpochs} warm-up epochs, min_lr ${a.minLr},`,
    `wd ${a.weightDecay} → ${a.weightDecayEnd}, teacher momentum ${a.momentumTeacher} → 1, teacher temp ${a.teacherTemp}.`,
    "lr, wd and momentum are indexed by iteration, the teacher temperature by epoch.",
    "",
    table(["", "iteration", "epoch", "lr", "wd", "momentum", "teacher temp"], [
      at("start", 0),
      at("end of warm-up", w - 1),
      at("first cosine step", w),
      at("end", n - 1),
    ]),
    "",
    "The warm-up is linspace(0, peak) with both ends (lr is exactly 0 at iteration 0, the peak",
    "appears twice); the cosine divides by its length, so the final values are never reached.",
    `Paper recipe teacher temperature (0.04 → 0.07 over 30 epochs): epoch 0 ${fmt(paper[0])}, epoch 1 ${fmt(paper[1])},`,
    `epoch 29 ${fmt(paper[29])}, epoch ${a.epochs - 1} ${fmt(paper[a.epochs - 1])}.`,
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------

/** softmax(x / τ) of each of `rows` rows, in float64 (the oracle). */
export function softmax(x: Float64Array, tau: number, rows = 1): Float64Array {
  const out = new Float64Array(x.length);
  softmaxForwardRef(out, x, rows, x.length / rows, tau);
  return out;
}

/** h(p) = −Σ_k p_k·ln p_k (nats), with 0·ln 0 = 0. */
export function entropy(p: ArrayLike<number>): number {
  let h = 0;
  for (let k = 0; k < p.length; k++) if (p[k] > 0) h -= p[k] * Math.log(p[k]);
  return h;
}

/** A number in at most `digits` significant digits, exponent form for very small or large values. */
function fmt(x: number, digits = 4): string {
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a < 1e-4 || a >= 1e6) return x.toExponential(digits - 1);
  return String(Number(x.toPrecision(digits)));
}

/** Columns padded to their widest cell, separated by two spaces. */
function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, j) => Math.max(...all.map((r) => [...(r[j] ?? "")].length)));
  const line = (r: string[]) => r.map((c, j) => c + " ".repeat(widths[j] - [...c].length)).join("  ").trimEnd();
  return [line(header), widths.map((wd) => "-".repeat(wd)).join("  "), ...rows.map(line)].join("\n");
}
