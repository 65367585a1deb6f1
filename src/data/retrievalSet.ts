// A generated instance-retrieval set in the spirit of revisited Oxford/Paris: each query is one
// held-out MNIST digit INSTANCE rendered on an mnist-clutter canvas; its positives are other
// renderings of the same instance, graded as the revisited protocol grades landmark photos:
//   easy  the digit near the query's size and place (scale ×0.85–1.15, shifted by up to ±3 px), on
//         another background with other clutter and another ink colour
//   hard  placed and scaled anew (17–31 px) and fainter (contrast 90–140 against clutter at
//         30–70), with more clutter (6 fragments)
//   junk  barely visible: tiny (8–11 px) and faint (40–60); removed from the ranking when scored
// Every other image is a negative, including the renderings of other instances of the same digit
// class (distractors): retrieval must find the instance, not the class.
//
// The canvases are mnist-clutter's with a dark background and a bright digit (RETRIEVAL_STYLE), the
// look of the digits the presets train on (on mnist-clutter's own colourful canvases a network
// trained on the plain digits is at chance, and so is its initialisation).
// Rendering r of digit g is renderMnistClutter(g, pool, seed·64 + r, style + variant) (so r < 64;
// easy ones at a box near the query's, drawn from Rng(seed, STREAM.retrieval, 1 + 64·g + r)): r = 0 is the query, then the easy, hard and junk
// renderings. Queries are the first `queries` held-out digits in class-interleaved order,
// distractors the next `distractors`; fragments come from the held-out digits only. The database
// is shuffled by Rng(seed, STREAM.retrieval).

import { DinoRefError } from "../tensor/errors.js";
import { Rng, STREAM } from "../tensor/rng.js";
import { generatedDataset, interleaveByLabel, type ImageDataset } from "./dataset.js";
import type { Image } from "./image.js";
import { mnistDigits, splitPerClass } from "./mnist.js";
import { MNIST_CLUTTER_DEFAULTS, renderMnistClutter, type DigitBox, type MnistClutterConfig } from "./mnistClutter.js";

/** Relevance codes of the revisited protocol (the golden op retrieval_map's `relevance`). */
export const RELEVANCE_CODE = { negative: 0, easy: 1, hard: 2, junk: 3 } as const;

export interface RetrievalSetOptions {
  queries: number;
  /** Positives of each grade per query. */
  easy: number;
  hard: number;
  junk: number;
  /** Renderings of other digit instances in the database. */
  distractors: number;
  seed: number;
}

export const RETRIEVAL_DEFAULTS: RetrievalSetOptions = Object.freeze({ queries: 50, easy: 2, hard: 2, junk: 1, distractors: 250, seed: 0 });

/**
 * The look of the canvases: mnist-clutter's marks on a dark background (base 0–40) with a bright
 * digit (contrast 150–230) and clutter at 30–70, the look of the bundled digits the presets train on.
 */
export const RETRIEVAL_STYLE: Partial<MnistClutterConfig> = Object.freeze({ baseRange: [0, 40] as const, contrast: [150, 230] as const, clutterContrast: [30, 70] as const, waveAmplitude: 8 });

/** Rendering variants by grade. */
export const RETRIEVAL_VARIANTS: Readonly<Record<"query" | "easy" | "hard" | "junk", Partial<MnistClutterConfig>>> = Object.freeze({
  query: {},
  easy: {},
  hard: { contrast: [90, 140] as const, fragments: 6 },
  junk: { digitScale: [0.3, 0.4] as const, contrast: [40, 60] as const, fragments: 6 },
});

const RENDERINGS = 64;

export interface RetrievalSet {
  readonly queries: ImageDataset;
  readonly database: ImageDataset;
  /** Relevance of database image i to query q: relevance[q·Ndb + i] (RELEVANCE_CODE). */
  readonly relevance: Uint8Array;
  readonly options: RetrievalSetOptions;
}

interface Rendering {
  digit: number;
  r: number;
  grade: keyof typeof RETRIEVAL_VARIANTS | "distractor";
}

/** The retrieval set of `options` (rendered on demand, then kept). */
export function makeRetrievalSet(options: Partial<RetrievalSetOptions> = {}): RetrievalSet {
  const o: RetrievalSetOptions = { ...RETRIEVAL_DEFAULTS, ...options };
  for (const key of ["queries", "easy", "hard", "junk", "distractors", "seed"] as const) {
    if (!(Number.isSafeInteger(o[key]) && o[key] >= 0)) throw new DinoRefError(`retrieval set: ${key} ${o[key]}; expected a non-negative integer`);
  }
  if (o.queries < 1 || o.easy + o.hard < 1) throw new DinoRefError(`retrieval set: ${o.queries} queries with ${o.easy + o.hard} positives each; expected at least one query and one easy or hard positive`);
  if (1 + o.easy + o.hard + o.junk > RENDERINGS) throw new DinoRefError(`retrieval set: ${1 + o.easy + o.hard + o.junk} renderings per digit; at most ${RENDERINGS}`);
  if (o.seed * RENDERINGS + RENDERINGS > Number.MAX_SAFE_INTEGER) throw new DinoRefError(`retrieval set: seed ${o.seed} is too large`);
  const { labels } = mnistDigits();
  const { test } = splitPerClass(labels, 10, 0, 0.8);
  const digits = Array.from(interleaveByLabel(test, (g) => labels[g], 10));
  if (o.queries + o.distractors > digits.length) throw new DinoRefError(`retrieval set: ${o.queries} queries + ${o.distractors} distractors need that many held-out digits; there are ${digits.length}`);

  const queryDigits = digits.slice(0, o.queries);
  const db: Rendering[] = [];
  queryDigits.forEach((digit) => {
    let r = 1;
    for (const grade of ["easy", "hard", "junk"] as const) for (let k = 0; k < o[grade]; k++) db.push({ digit, r: r++, grade });
  });
  for (const digit of digits.slice(o.queries, o.queries + o.distractors)) db.push({ digit, r: 0, grade: "distractor" });
  const order = new Rng(o.seed, STREAM.retrieval).permutation(db.length);
  const database = Array.from(order, (i) => db[i]);

  const relevance = new Uint8Array(o.queries * database.length);
  queryDigits.forEach((digit, q) => {
    database.forEach((d, i) => {
      if (d.digit === digit && d.grade !== "distractor" && d.grade !== "query") relevance[q * database.length + i] = RELEVANCE_CODE[d.grade];
    });
  });
  const view = (items: Rendering[], name: string) => renderedDataset(items, test, o.seed, labels, name);
  return { queries: view(queryDigits.map((digit) => ({ digit, r: 0, grade: "query" })), "retrieval query"), database: view(database, "retrieval database"), relevance, options: o };
}

/** The query's box moved by up to ±3 px and scaled by U(0.85, 1.15) (kept on the 32-px canvas). */
function nearBox(box: DigitBox, rng: Rng, S = MNIST_CLUTTER_DEFAULTS.size): DigitBox {
  const side = Math.min(S, Math.max(8, Math.round(box.side * rng.uniformIn(0.85, 1.15))));
  // the same centre, shifted by an integer in [−3, 3] per axis, then clamped inside
  const at = (x: number) => Math.min(S - side, Math.max(0, Math.round(x + (box.side - side) / 2) + rng.int(7) - 3));
  return { side, x: at(box.x), y: at(box.y) };
}

function renderedDataset(items: Rendering[], pool: Int32Array, seed: number, labels: Uint8Array, name: string): ImageDataset {
  const config = (grade: Rendering["grade"]) => ({ ...MNIST_CLUTTER_DEFAULTS, ...RETRIEVAL_STYLE, ...(grade === "distractor" ? {} : RETRIEVAL_VARIANTS[grade]) });
  // the query's box of a digit, for its easy renderings (rendered once per digit)
  const boxes = new Map<number, DigitBox>();
  const queryBox = (digit: number): DigitBox => {
    let box = boxes.get(digit);
    if (box === undefined) boxes.set(digit, (box = renderMnistClutter(digit, pool, seed * RENDERINGS, config("query")).box));
    return box;
  };
  const render = (i: number): Image => {
    const { digit, r, grade } = items[i];
    return renderMnistClutter(digit, pool, seed * RENDERINGS + r, config(grade), grade === "easy" ? nearBox(queryBox(digit), new Rng(seed, STREAM.retrieval, 1 + digit * RENDERINGS + r)) : undefined).image;
  };
  const classes = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
  return generatedDataset(name, items.length, classes, render, (i) => labels[items[i].digit], (i) => `${name} #${i} (mnist #${items[i].digit}, ${items[i].grade} rendering ${items[i].r})`);
}
