// The harder generated variant of the bundled data ("mnist-canvas"): each MNIST digit drawn at a
// random scale and position on a larger coloured, noisy canvas with clutter cut from other digits.
// Raw-pixel k-NN does poorly on it (the digit moves, changes size and colour), so a model has to
// learn the invariances the multi-crop augmentation teaches. Same labels and split as `loadMnist`.
//
// Image of MNIST digit g (its index in the full 10,000) is a pure function of (seed, g, config,
// the split it belongs to): every draw comes from Rng(seed, STREAM.data, g), in this order:
//   1. background colour: 3 × U(0, background) grey levels;
//   2. ink colour: 3 × U(inkMin, 255) (colour: false → one draw, grey ink);
//   3. for each of `fragments` clutter pieces: source digit = pool[int(|pool|)] (the images of the
//      same split, so test pixels never appear in train images), a fragmentSize² window of it at
//      offset (int(29 − fragmentSize), int(29 − fragmentSize)), a canvas position (int, int);
//   4. digit scale U(digitScale) → side d = round(28·scale), position (int(S − d + 1), int(S − d + 1));
//   5. per-pixel noise, the same for the 3 channels: ⌈S²/4⌉ 32-bit draws, byte k of draw q
//      gives pixel 4q + k the value noise·(2b/255 − 1) (256 levels evenly spaced in ±noise).
// Drawing: canvas = background + noise; each piece and then the digit are blended in with
// α = ink/255 (times fragmentIntensity for the pieces) towards the ink colour; the digit is
// resized with the antialiased bicubic of resample.ts. Generated on demand (~0.3 ms per image at
// 40 px), nothing cached.

import { DinoRefError } from "../tensor/errors.js";
import { Rng, STREAM } from "../tensor/rng.js";
import { checkIndex, type ImageDataset } from "./dataset.js";
import { greyToRgb, type Image, makeImage } from "./image.js";
import { MNIST_SIZE, mnistDigits, mnistGrey, splitPerClass } from "./mnist.js";
import { resizeBicubic } from "./resample.js";

export interface MnistCanvasConfig {
  /** Canvas side S in pixels. */
  size: number;
  /** Digit side = round(28·U(lo, hi)); must fit: 28·hi <= size. */
  digitScale: readonly [number, number];
  /** Number of clutter pieces cut from other digits of the same split. */
  fragments: number;
  fragmentSize: number;
  fragmentIntensity: number;
  /** Background colour channels ~ U(0, background). */
  background: number;
  /** Ink colour channels ~ U(inkMin, 255). */
  inkMin: number;
  /** Colour ink (3 draws) or grey ink (1 draw). */
  colour: boolean;
  /** Per-pixel noise amplitude in grey levels (256 evenly spaced levels in ±noise, same for the 3 channels). */
  noise: number;
}

export const MNIST_CANVAS_DEFAULTS: MnistCanvasConfig = Object.freeze({
  size: 40,
  digitScale: [0.6, 1.3] as const,
  fragments: 3,
  fragmentSize: 10,
  fragmentIntensity: 0.8,
  background: 80,
  inkMin: 150,
  colour: true,
  noise: 24,
});

function checkConfig(cfg: MnistCanvasConfig): void {
  const bad = (what: string) => new DinoRefError(`mnist-canvas ${what}`);
  if (!(Number.isInteger(cfg.size) && cfg.size >= MNIST_SIZE)) throw bad(`size ${cfg.size}; expected an integer >= 28`);
  const [lo, hi] = cfg.digitScale;
  if (!(lo > 0 && lo <= hi && Math.round(MNIST_SIZE * hi) <= cfg.size)) throw bad(`digitScale [${lo}, ${hi}]; expected 0 < lo <= hi and round(28·hi) <= size ${cfg.size}`);
  if (!(Number.isInteger(cfg.fragments) && cfg.fragments >= 0)) throw bad(`fragments ${cfg.fragments}; expected a non-negative integer`);
  if (!(Number.isInteger(cfg.fragmentSize) && cfg.fragmentSize >= 1 && cfg.fragmentSize <= Math.min(MNIST_SIZE, cfg.size))) throw bad(`fragmentSize ${cfg.fragmentSize}; expected an integer in [1, 28]`);
  if (!(cfg.fragmentIntensity >= 0 && cfg.fragmentIntensity <= 1)) throw bad(`fragmentIntensity ${cfg.fragmentIntensity}; expected a number in [0, 1]`);
  if (!(cfg.background >= 0 && cfg.background <= 255 && cfg.inkMin >= 0 && cfg.inkMin <= 255 && cfg.noise >= 0 && cfg.noise <= 255)) {
    throw bad(`background ${cfg.background}, inkMin ${cfg.inkMin}, noise ${cfg.noise}; expected grey levels in [0, 255]`);
  }
}

/** Canvas image of MNIST digit g; clutter comes from the digits listed in `pool`. */
export function renderMnistCanvas(g: number, pool: ArrayLike<number>, seed: number, cfg: MnistCanvasConfig = MNIST_CANVAS_DEFAULTS): Image {
  const S = cfg.size;
  const rng = new Rng(seed, STREAM.data, g);
  const bg = [0, 1, 2].map(() => rng.uniformIn(0, cfg.background));
  const inkGrey = cfg.colour ? 0 : rng.uniformIn(cfg.inkMin, 255);
  const ink = cfg.colour ? [0, 1, 2].map(() => rng.uniformIn(cfg.inkMin, 255)) : [inkGrey, inkGrey, inkGrey];
  const canvas = new Float64Array(S * S * 3);
  for (let p = 0; p < S * S; p++) for (let c = 0; c < 3; c++) canvas[3 * p + c] = bg[c];
  // blend `alpha(x, y)` of a w × h layer at (x0, y0) towards the ink colour
  const paint = (x0: number, y0: number, w: number, h: number, alpha: (x: number, y: number) => number) => {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const a = alpha(x, y);
        const p = ((y0 + y) * S + (x0 + x)) * 3;
        for (let c = 0; c < 3; c++) canvas[p + c] += a * (ink[c] - canvas[p + c]);
      }
    }
  };
  const F = cfg.fragmentSize;
  for (let f = 0; f < cfg.fragments && pool.length > 0; f++) {
    const src = mnistGrey(pool[rng.int(pool.length)]);
    const sx = rng.int(MNIST_SIZE - F + 1);
    const sy = rng.int(MNIST_SIZE - F + 1);
    const x0 = rng.int(S - F + 1);
    const y0 = rng.int(S - F + 1);
    paint(x0, y0, F, F, (x, y) => (cfg.fragmentIntensity * src[(sy + y) * MNIST_SIZE + sx + x]) / 255);
  }
  const d = Math.round(MNIST_SIZE * rng.uniformIn(cfg.digitScale[0], cfg.digitScale[1]));
  const x0 = rng.int(S - d + 1);
  const y0 = rng.int(S - d + 1);
  const digit = resizeBicubic(greyToRgb(MNIST_SIZE, MNIST_SIZE, mnistGrey(g)), d, d);
  paint(x0, y0, d, d, (x, y) => digit.data[(y * d + x) * 3] / 255);
  const out = makeImage(S, S);
  let bits = 0;
  for (let p = 0; p < S * S; p++) {
    // one 32-bit draw gives the noise of 4 pixels: byte b → noise·(2b/255 − 1)
    if (p % 4 === 0) bits = rng.nextUint32();
    const n = cfg.noise * ((2 * ((bits >>> (8 * (p % 4))) & 255)) / 255 - 1);
    for (let c = 0; c < 3; c++) {
      const v = Math.round(canvas[3 * p + c] + n);
      out.data[3 * p + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return out;
}

/** The canvas images of the MNIST digits at `indices` (into the full 10,000), clutter from the same list. */
function canvasDataset(indices: Int32Array, seed: number, cfg: MnistCanvasConfig, name: string): ImageDataset {
  const { labels } = mnistDigits();
  return {
    length: indices.length,
    classes: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
    image(i) {
      checkIndex(this, i, name);
      return renderMnistCanvas(indices[i], indices, seed, cfg);
    },
    label(i) {
      checkIndex(this, i, name);
      return labels[indices[i]];
    },
    describe: (i) => `${name} #${i} (mnist #${indices[i]}, digit ${labels[indices[i]]})`,
  };
}

export interface MnistCanvasSplit {
  readonly train: ImageDataset;
  readonly test: ImageDataset;
  readonly trainIndices: Int32Array;
  readonly testIndices: Int32Array;
  readonly config: MnistCanvasConfig;
}

/** The canvas variant with the same 80/20 per-class split as loadMnist(splitSeed). */
export function loadMnistCanvas(options: { seed?: number; splitSeed?: number; trainFraction?: number; config?: Partial<MnistCanvasConfig> } = {}): MnistCanvasSplit {
  const { seed = 0, splitSeed = 0, trainFraction = 0.8 } = options;
  const config: MnistCanvasConfig = { ...MNIST_CANVAS_DEFAULTS, ...options.config };
  checkConfig(config);
  const { train, test } = splitPerClass(mnistDigits().labels, 10, splitSeed, trainFraction);
  return {
    train: canvasDataset(train, seed, config, "mnist-canvas train"),
    test: canvasDataset(test, seed, config, "mnist-canvas test"),
    trainIndices: train,
    testIndices: test,
    config,
  };
}
