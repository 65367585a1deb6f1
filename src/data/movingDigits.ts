// Generated video clips for video object segmentation (a tiny DAVIS): each clip shows `objects`
// held-out MNIST digits, bold (their grey levels dilated by a 3×3 maximum, so strokes are ~4–5 px
// wide and survive a 4-px patch grid), moving at constant velocity and bouncing off the borders
// over a static textured background, with a label map per frame (0 background, k digit k; a
// later digit passes in front of an earlier one and hides it). Every draw of clip c comes from
// Rng(seed, STREAM.video, c), in this order:
//   1. background: base colour 3 × U(50, 205); two plane waves (3 amplitudes U(±20), frequency
//      U(0.5, 2) and U(2, 4) cycles per frame, angle U(0, π), phase U(0, 2π)); 3 blobs (centre
//      U(0, S)², radius U(2, 6), colour at distance U(15, 45) from the base);
//   2. per digit: ink at distance U(80, 150) from the base (sign ±, 3 jitters U(±24)), side
//      round(28·U(digitScale)), start position U(0, S − side)², direction U(0, 2π), speed U(speed);
//   3. per frame: noise ⌈S²/4⌉ 32-bit draws (byte b → noise·(2b/255 − 1)), as mnist-clutter's.
// Digit k of clip c is the (c·objects + k)-th held-out digit in class-interleaved order.

import { DinoRefError } from "../tensor/errors.js";
import { Rng, STREAM } from "../tensor/rng.js";
import { interleaveByLabel } from "./dataset.js";
import { type Image, luma } from "./image.js";
import { MNIST_SIZE, mnistDigits, splitPerClass } from "./mnist.js";
import { resizedDigit, withNoise } from "./mnistClutter.js";

export interface MovingDigitsConfig {
  /** Frame side S in pixels. */
  size: number;
  frames: number;
  objects: number;
  /** Digit side = round(28·U(lo, hi)). */
  digitScale: readonly [number, number];
  /** Pixels per frame. */
  speed: readonly [number, number];
  /** Per-pixel noise amplitude in grey levels. */
  noise: number;
}

export const MOVING_DIGITS_DEFAULTS: MovingDigitsConfig = Object.freeze({ size: 48, frames: 12, objects: 2, digitScale: [0.75, 1.0] as const, speed: [1, 2.5] as const, noise: 10 });

export interface VideoClip {
  readonly frames: Image[];
  /** Label map per frame [S·S]: 0 background, k = 1..objects the digit drawn k-th. */
  readonly labels: Uint8Array[];
  readonly objects: number;
  /** The MNIST indices of the digits, object 1 first. */
  readonly digits: number[];
}

/** Throws unless the config makes sense. */
export function checkMovingDigitsConfig(c: MovingDigitsConfig): void {
  const bad = (what: string) => new DinoRefError(`moving digits: ${what}`);
  if (!(Number.isInteger(c.size) && c.size >= 8)) throw bad(`frame size ${c.size}; expected an integer ≥ 8`);
  if (!(Number.isInteger(c.frames) && c.frames >= 3)) throw bad(`${c.frames} frames; expected an integer ≥ 3 (DAVIS scores every frame but the first and the last)`);
  if (!(Number.isInteger(c.objects) && c.objects >= 1 && c.objects <= 9)) throw bad(`${c.objects} objects; expected an integer in [1, 9]`);
  if (!(c.digitScale[0] >= 0.2 && c.digitScale[0] <= c.digitScale[1] && Math.round(MNIST_SIZE * c.digitScale[1]) <= c.size)) throw bad(`digit scale [${c.digitScale}]; expected 0.2 ≤ lo ≤ hi and digits of at most ${c.size} px`);
  if (!(c.speed[0] >= 0 && c.speed[0] <= c.speed[1] && c.speed[1] <= c.size)) throw bad(`speed [${c.speed}]; expected 0 ≤ lo ≤ hi ≤ ${c.size} px per frame`);
  if (!(c.noise >= 0 && c.noise <= 255)) throw bad(`noise ${c.noise}; expected grey levels in [0, 255]`);
}

/** The grey levels of a digit dilated by a 3×3 maximum (bold strokes). */
function bold(grey: Uint8Array, side: number): Uint8Array {
  const out = new Uint8Array(side * side);
  for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) {
    let m = 0;
    for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
      const [u, v] = [x + dx, y + dy];
      if (u >= 0 && v >= 0 && u < side && v < side) m = Math.max(m, grey[v * side + u]);
    }
    out[y * side + x] = m;
  }
  return out;
}

/** A colour at distance U(range) in luma from `base` (towards the side that stays in [0, 255]), with jitters U(±24). */
function colourFrom(rng: Rng, base: number[], range: readonly [number, number]): number[] {
  let sign = rng.uniform() < 0.5 ? -1 : 1;
  const offset = rng.uniformIn(range[0], range[1]);
  const jitter = [0, 1, 2].map(() => rng.uniformIn(-24, 24));
  const l = luma(base[0], base[1], base[2]);
  if (l + sign * offset < 0 || l + sign * offset > 255) sign = -sign;
  return jitter.map((j, c) => Math.min(255, Math.max(0, base[c] + sign * offset + j)));
}

/** Clip c of the moving-digits set. */
export function movingDigitsClip(c: number, seed: number, cfg: MovingDigitsConfig = MOVING_DIGITS_DEFAULTS): VideoClip {
  checkMovingDigitsConfig(cfg);
  const { labels: digitLabels } = mnistDigits();
  const held = interleaveByLabel(splitPerClass(digitLabels, 10, 0, 0.8).test, (g) => digitLabels[g], 10);
  if (!(Number.isInteger(c) && c >= 0 && (c + 1) * cfg.objects <= held.length)) throw new DinoRefError(`moving digits: clip ${c}; expected an integer in [0, ${Math.floor(held.length / cfg.objects)})`);
  const S = cfg.size;
  const rng = new Rng(seed, STREAM.video, c);

  // 1. the static background: base + two waves + blobs
  const base = [0, 1, 2].map(() => rng.uniformIn(50, 205));
  const background = new Float64Array(S * S * 3);
  for (let p = 0; p < S * S; p++) for (let k = 0; k < 3; k++) background[3 * p + k] = base[k];
  for (const freq of [[0.5, 2], [2, 4]]) {
    const amp = [0, 1, 2].map(() => rng.uniformIn(-20, 20));
    const f = rng.uniformIn(freq[0], freq[1]);
    const angle = rng.uniformIn(0, Math.PI);
    const phase = rng.uniformIn(0, 2 * Math.PI);
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) {
      // amp·sin(2π·f·(x cos θ + y sin θ)/S + φ)
      const s = Math.sin((2 * Math.PI * f * (x * Math.cos(angle) + y * Math.sin(angle))) / S + phase);
      for (let k = 0; k < 3; k++) background[3 * (y * S + x) + k] += amp[k] * s;
    }
  }
  for (let b = 0; b < 3; b++) {
    const [cx, cy, rho] = [rng.uniformIn(0, S), rng.uniformIn(0, S), rng.uniformIn(2, 6)];
    const colour = colourFrom(rng, base, [15, 45]);
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) {
      // α = 0.9·exp(−r²/2ρ²)
      const a = 0.9 * Math.exp(-((x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2) / (2 * rho * rho));
      for (let k = 0; k < 3; k++) background[3 * (y * S + x) + k] += a * (colour[k] - background[3 * (y * S + x) + k]);
    }
  }

  // 2. the digits and their straight, bouncing paths
  const digits = Array.from({ length: cfg.objects }, (_, k) => held[c * cfg.objects + k]);
  const objects = digits.map((g) => {
    const ink = colourFrom(rng, base, [80, 150]);
    const side = Math.round(MNIST_SIZE * rng.uniformIn(cfg.digitScale[0], cfg.digitScale[1]));
    const room = S - side;
    const [x0, y0] = [rng.uniformIn(0, room), rng.uniformIn(0, room)];
    const [angle, speed] = [rng.uniformIn(0, 2 * Math.PI), rng.uniformIn(cfg.speed[0], cfg.speed[1])];
    return { ink, side, room, x0, y0, vx: speed * Math.cos(angle), vy: speed * Math.sin(angle), alpha: bold(resizedDigit(g, side), side) };
  });

  // 3. the frames
  const frames: Image[] = [];
  const labels: Uint8Array[] = [];
  for (let t = 0; t < cfg.frames; t++) {
    const canvas = Float64Array.from(background);
    const label = new Uint8Array(S * S);
    objects.forEach((o, k) => {
      // position at time t, reflected at the borders [0, room]
      const [x, y] = [Math.round(bounce(o.x0 + o.vx * t, o.room)), Math.round(bounce(o.y0 + o.vy * t, o.room))];
      for (let v = 0; v < o.side; v++) for (let u = 0; u < o.side; u++) {
        const a = o.alpha[v * o.side + u] / 255;
        const p = (y + v) * S + x + u;
        for (let ch = 0; ch < 3; ch++) canvas[3 * p + ch] += a * (o.ink[ch] - canvas[3 * p + ch]);
        if (a >= 0.5) label[p] = k + 1;
      }
    });
    const image = withNoise(canvas, S, cfg.noise, rng);
    frames.push(image);
    labels.push(label);
  }
  return { frames, labels, objects: cfg.objects, digits };
}

/** A coordinate moving freely, folded back into [0, room] (a reflection at each border). */
function bounce(x: number, room: number): number {
  if (room === 0) return 0;
  const period = 2 * room;
  const m = ((x % period) + period) % period;
  return m <= room ? m : period - m;
}
