// The plots of `dino-ref explain TOPIC --out DIR`: the same examples as the text (src/explain/equations.ts),
// swept over the quantity that matters, every number computed by the real functions (softmax
// oracle, updateCenter, dinoLoss, the schedules).

import { updateCenter } from "../dino/center.js";
import { selectedBackend } from "../kernels/backend.js";
import { dinoLoss } from "../dino/loss.js";
import { dinoSchedules, DEFAULT_SCHEDULE_ARGS, teacherTempSchedule } from "../dino/schedules.js";
import { EXAMPLES, softmax, entropy as entropyOf, type ExplainTopic } from "./equations.js";
import type { Figure, LinePoint } from "../plot/lineChart.js";

/** The figures of a topic, by file name (without .png). */
export function topicFigures(topic: ExplainTopic): Record<string, Figure> {
  switch (topic) {
    case "temperature": return { temperature: temperatureFigure() };
    case "centering": return { centering: centeringFigure() };
    case "loss": return { loss: lossFigure() };
    case "schedules": return { schedules: schedulesFigure() };
  }
}

/** p = softmax(z / τ) of one row and its entropy, for τ from 0.01 to 10 (log axis). */
export function temperatureFigure(): Figure {
  const z = Float64Array.from(EXAMPLES.temperatureLogits);
  const K = z.length;
  const taus = Array.from({ length: 121 }, (_, i) => 10 ** (-2 + i / 40));
  const probs: LinePoint[] = [];
  const entropy: LinePoint[] = [];
  for (const tau of taus) {
    const p = softmax(z, tau);
    for (let k = 0; k < K; k++) probs.push({ x: tau, y: p[k], series: `p${k} (z = ${z[k]})` });
    entropy.push({ x: tau, y: entropyOf(p), series: "entropy h(p)" });
  }
  const temps = [{ x: 0.04, label: "τt 0.04" }, { x: 0.1, label: "τs 0.1" }];
  return {
    title: `Temperature: p = softmax(z / τ), z = [${Array.from(z).join(", ")}]`,
    xLabel: "temperature τ (log axis)",
    xScale: "log",
    panels: [
      { yLabel: "probability p_k", points: probs, xRules: temps },
      { yLabel: "entropy (nats)", points: entropy, rules: [{ y: Math.log(K), label: `ln K = ${Math.log(K).toFixed(4)} (uniform)` }], xRules: temps },
    ],
  };
}

/** Mean teacher probability per dimension and mean entropy as the centre is updated on one batch. */
export function centeringFigure(): Figure {
  const { K, teacherTemp, centerMomentum, updates } = EXAMPLES.centering;
  const teacher = Float32Array.from(EXAMPLES.centering.teacher);
  const rows = teacher.length / K;
  const mass: LinePoint[] = [];
  const entropy: LinePoint[] = [];
  let center: Float32Array = new Float32Array(K);
  for (let u = 0; u <= updates; u++) {
    // Pt = softmax((t − c) / τt) with the centre after u updates
    const p = softmax(Float64Array.from(teacher, (x, i) => x - center[i % K]), teacherTemp, rows);
    for (let k = 0; k < K; k++) {
      let m = 0;
      for (let r = 0; r < rows; r++) m += p[r * K + k] / rows;
      mass.push({ x: u, y: m, series: `dimension ${k}` });
    }
    let h = 0;
    for (let r = 0; r < rows; r++) h += entropyOf(p.subarray(r * K, r * K + K)) / rows;
    entropy.push({ x: u, y: h, series: "mean entropy" });
    // c ← m·c + (1 − m)·mean(t)
    center = updateCenter(selectedBackend(), center, { shape: [rows, K], data: teacher }, centerMomentum);
  }
  return {
    title: `Centering: Pt = softmax((t − c) / ${teacherTemp}) on one batch where dimension 0 dominates`,
    xLabel: `centre updates c ← ${centerMomentum}·c + ${(1 - centerMomentum).toFixed(1)}·mean(t), from c = 0`,
    panels: [
      { yLabel: "mean teacher probability", points: mass },
      { yLabel: "mean entropy (nats)", points: entropy, rules: [{ y: Math.log(K), label: `ln K = ${Math.log(K).toFixed(4)}` }] },
    ],
  };
}

/** H(Pt, Ps) = h(Pt) + KL(Pt‖Ps) as the student's logits move from the example's towards τs·log Pt (there Ps = Pt). */
export function lossFigure(): Figure {
  const { K, params } = EXAMPLES.loss;
  const s0 = Float64Array.from(EXAMPLES.loss.student);
  const teacher = Float32Array.from(EXAMPLES.loss.teacher);
  const center = Float32Array.from(EXAMPLES.loss.center);
  // the student logits whose softmax at τs is the target of the OTHER crop (the loss pairs student
  // crop v with teacher crop iq ≠ v): τs·log Pt[1 − v]
  const pt = softmax(Float64Array.from(teacher, (x, i) => x - center[i % K]), params.teacherTemp, 2);
  const target = Float64Array.from({ length: 2 * K }, (_, j) => params.studentTemp * Math.log(pt[((Math.floor(j / K) + 1) % 2) * K + (j % K)]));
  const points: LinePoint[] = [];
  for (let i = 0; i <= 50; i++) {
    const a = i / 50;
    // s(α) = (1 − α)·s0 + α·τs·log Pt
    const student = Float32Array.from(s0, (x, j) => (1 - a) * x + a * target[j]);
    const r = dinoLoss({ shape: [2, K], data: student }, { shape: [2, K], data: teacher }, center, params);
    points.push({ x: a, y: r.loss, series: "loss H(Pt, Ps)" }, { x: a, y: r.teacherEntropy, series: "teacher entropy h(Pt)" }, { x: a, y: r.kl, series: "KL(Pt‖Ps)" });
  }
  return {
    title: "Loss H = h(Pt) + KL(Pt‖Ps) as the student logits move from s to τs·log Pt",
    xLabel: "α (student logits (1 − α)·s + α·τs·log Pt; at α = 1, Ps = Pt)",
    panels: [{ yLabel: "nats", points, rules: [{ y: Math.log(K), label: `ln K = ${Math.log(K).toFixed(4)}` }] }],
  };
}

/** lr, weight decay, teacher momentum and teacher temperature of main_dino.py's defaults, per epoch. */
export function schedulesFigure(): Figure {
  const a = DEFAULT_SCHEDULE_ARGS;
  const s = dinoSchedules(a);
  const n = s.lr.length;
  const stride = Math.max(1, Math.floor(a.nitersPerEpoch / 20));
  const its = Array.from({ length: Math.ceil(n / stride) }, (_, i) => i * stride).concat(n - 1);
  const series = "main_dino.py defaults";
  const paper = "paper: τt 0.04 → 0.07 over 30 epochs";
  const per = (values: Float64Array) => its.map((it) => ({ x: it / a.nitersPerEpoch, y: values[it], series }));
  const paperTemps = teacherTempSchedule(0.04, 0.07, 30, a.epochs);
  const temps = its.flatMap((it) => {
    const epoch = Math.floor(it / a.nitersPerEpoch);
    return [{ x: it / a.nitersPerEpoch, y: s.teacherTemp[epoch], series }, { x: it / a.nitersPerEpoch, y: paperTemps[epoch], series: paper }];
  });
  const warm = [{ x: a.warmupEpochs, label: "end of lr warm-up" }];
  return {
    title: `Schedules: ${a.epochs} epochs × ${a.nitersPerEpoch} iterations, batch ${a.totalBatchSize}`,
    xLabel: "epoch",
    height: 150,
    panels: [
      { yLabel: "learning rate", points: per(s.lr), xRules: warm },
      { yLabel: "weight decay", points: per(s.wd) },
      { yLabel: "teacher momentum λ", points: per(s.momentum) },
      { yLabel: "teacher temperature τt", points: temps },
    ],
  };
}
