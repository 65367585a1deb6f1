// Panel 2: the DINO loss of one pair of views, split as H(Pt, Ps) = h(Pt) + KL(Pt‖Ps), while a
// slider moves the student's outputs towards the teacher's. The loss comes from src/dino/loss.ts.

import { LOSS_TEACHER, lossSplit } from "./lessons.js";
import { byId, COLORS, fmt, renderBars, renderLegend } from "./draw.js";

export function setupLossPanel(): void {
  const mix = byId<HTMLInputElement>("mix-slider");
  const teacherTemp = byId<HTMLInputElement>("loss-teacher-temp");
  const update = () => {
    const alpha = Number(mix.value);
    const tt = Number(teacherTemp.value);
    const r = lossSplit(alpha, tt);
    byId("mix-value").textContent = alpha.toFixed(2);
    byId("loss-teacher-temp-value").textContent = String(tt);
    renderBars(
      byId("loss-bars"),
      [
        { values: r.teacherProbs, color: COLORS.teacher, label: "Pt" },
        { values: r.studentProbs, color: COLORS.student, label: "Ps" },
      ],
      Array.from(r.teacherProbs, (_, k) => `k=${k}`),
    );
    for (const [id, value] of [["loss-total", r.loss], ["loss-entropy", r.teacherEntropy], ["loss-kl", r.kl]] as const) {
      const el = byId(id);
      el.textContent = fmt(value);
      el.dataset.value = String(value);
    }
    // stacked bar: h(Pt) then KL, as fractions of the largest loss the slider can show
    const scale = Math.max(r.loss, 1e-12);
    byId("loss-stack-entropy").style.width = `${(100 * r.teacherEntropy) / scale}%`;
    byId("loss-stack-kl").style.width = `${(100 * r.kl) / scale}%`;
    byId("loss-student").textContent = `[${Array.from(r.student, (s) => fmt(s, 3)).join(", ")}]`;
  };
  renderLegend(byId("loss-legend"), [
    { label: "teacher Pt = softmax((t − c)/τt)", color: COLORS.teacher },
    { label: "student Ps = softmax(s/τs)", color: COLORS.student },
  ]);
  byId("loss-teacher").textContent = `[${LOSS_TEACHER.join(", ")}]`;
  mix.addEventListener("input", update);
  teacherTemp.addEventListener("input", update);
  update();
}
