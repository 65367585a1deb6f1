// Panel 4: the four schedules of a run drawn over its iterations (src/dino/schedules.ts): the
// learning rate (linear warm-up, then cosine), weight decay and teacher momentum (cosines), and
// the teacher temperature (per epoch). Either the live run's, or main_dino.py's for ViT-S/16.

import { dinoSchedules, DEFAULT_SCHEDULE_ARGS, type DinoSchedules } from "../../src/dino/schedules.js";
import { toyConfig, toySchedules, type ToyRunConfig } from "./toyRun.js";
import { byId, COLORS, drawChart, fmt } from "./draw.js";

export type Recipe = "toy" | "vits16" | "vits16-warmup";

/** The schedules of a recipe; "toy" follows the live run's switches. */
export function recipeSchedules(recipe: Recipe, toy: Partial<ToyRunConfig>): DinoSchedules {
  switch (recipe) {
    case "toy":
      return toySchedules(toyConfig(toy));
    case "vits16":
      return dinoSchedules(DEFAULT_SCHEDULE_ARGS);
    case "vits16-warmup":
      // the official README's advice for longer runs: τt from 0.04 to 0.07 over 30 epochs
      return dinoSchedules({ ...DEFAULT_SCHEDULE_ARGS, teacherTemp: 0.07, warmupTeacherTempEpochs: 30 });
  }
}

/** τt per iteration (the schedule is per epoch). */
function teacherTempPerIteration(s: DinoSchedules): Float64Array {
  return Float64Array.from({ length: s.lr.length }, (_, it) => s.teacherTemp[Math.floor(it / s.nitersPerEpoch)]);
}

export class SchedulePanel {
  private recipe: Recipe = "toy";
  private schedules: DinoSchedules;
  private teacherTemp: Float64Array;
  private cursor: number | undefined;

  constructor(private toy: Partial<ToyRunConfig>) {
    const select = byId<HTMLSelectElement>("schedule-recipe");
    select.addEventListener("change", () => {
      this.recipe = select.value as Recipe;
      this.recompute();
    });
    this.schedules = recipeSchedules(this.recipe, toy);
    this.teacherTemp = teacherTempPerIteration(this.schedules);
    window.addEventListener("resize", () => this.draw());
    this.draw();
  }

  /** The live run's switches changed (they set the toy recipe's τt). */
  setToy(toy: Partial<ToyRunConfig>): void {
    this.toy = toy;
    if (this.recipe === "toy") this.recompute();
  }

  /** Marks the live run's current iteration (toy recipe only). */
  setCursor(step: number | undefined): void {
    this.cursor = step;
    if (this.recipe === "toy") this.draw();
  }

  private recompute(): void {
    this.schedules = recipeSchedules(this.recipe, this.toy);
    this.teacherTemp = teacherTempPerIteration(this.schedules);
    this.draw();
  }

  private draw(): void {
    const s = this.schedules;
    const n = s.lr.length;
    const cursor = this.recipe === "toy" ? this.cursor : undefined;
    const charts: [string, string, Float64Array, string][] = [
      ["schedule-lr", "learning rate", s.lr, COLORS.student],
      ["schedule-wd", "weight decay", s.wd, COLORS.kl],
      ["schedule-momentum", "teacher momentum λ", s.momentum, COLORS.entropy],
      ["schedule-teacher-temp", "teacher temperature τt", this.teacherTemp, COLORS.teacher],
    ];
    for (const [id, label, values, color] of charts) {
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of values) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      // a flat schedule still gets a visible band
      const pad = hi > lo ? 0.05 * (hi - lo) : Math.max(Math.abs(hi) * 0.1, 1e-3);
      drawChart(byId<HTMLCanvasElement>(id), [{ label, color, values }], {
        xCount: n,
        // a schedule that starts at 0 (the lr warm-up) keeps 0 as the axis floor
        yMin: lo >= 0 ? Math.max(0, lo - pad) : lo - pad,
        yMax: hi + pad,
        xLabel: `iteration (${s.lr.length / s.nitersPerEpoch} epochs × ${s.nitersPerEpoch})`,
        cursor,
      });
      const at = cursor ?? 0;
      byId(`${id}-value`).textContent = `${fmt(values[0], 3)} → ${fmt(values[n - 1], 3)}${cursor === undefined ? "" : `; now ${fmt(values[at], 3)}`}`;
    }
  }
}
