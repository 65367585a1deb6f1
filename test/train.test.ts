// The training run as a CI job meets it: deterministic bytes, exact resume, a clear stop on a
// non-finite loss, and the teacher never receiving gradients. A very small configuration keeps
// this fast; the real presets are measured by `npm start` and reported in the README.
import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, copyFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runTraining } from "../src/train/run.js";
import { createTrainState } from "../src/train/trainState.js";
import { loadCheckpoint } from "../src/train/checkpoint.js";
import { preset, type TrainConfig } from "../src/train/config.js";
import { trainStep } from "../src/train/trainStep.js";
import { wasmBackend } from "../src/kernels/backend.js";
import { mkdirSync, writeFileSync } from "node:fs";
import { encodePng } from "../src/data/png.js";
import { loadMnist } from "../src/data/mnist.js";
import { TINY_NETWORK } from "./tinyNetwork.js";
import { runCli } from "./runCli.js";

// mnist-official's crops (28 and 12 px, patch 4): the tests below change the crop sizes to multiples of 4
const small: TrainConfig = {
  ...preset("mnist-official"),
  trainLimit: 48,
  batchSize: 16,
  epochs: 2,
  ...TINY_NETWORK,
  lr: 0.004,
  seed: 3,
};

const tmp = () => mkdtempSync(join(tmpdir(), "dino-ref-train-"));

/** The bytes of a typed array (a view, wherever it lives). */
function bytesOf(x: Float32Array | Float64Array): Buffer {
  return Buffer.from(x.buffer, x.byteOffset, x.byteLength);
}

describe("training runs", () => {
  it("log the teacher's k-NN every knnEveryEpochs epochs without changing the training", () => {
    const [a, b] = [tmp(), tmp()];
    const cfg = { ...small, epochs: 3, stopAfterSteps: 0 };
    const summary = runTraining({ ...cfg, knnEveryEpochs: 1 }, { outDir: a });
    runTraining(cfg, { outDir: b, skipEval: true });
    const knnLines = readFileSync(join(a, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((l) => "knn_top1" in l);
    // after epochs 1 and 2; the last epoch's k-NN is the summary's
    expect(knnLines.map((l) => l.epoch)).toEqual([1, 2]);
    for (const l of knnLines) expect(l.knn_top1).toBeGreaterThan(0);
    expect(summary.knn_top1).toBeGreaterThan(0);
    const [sa, sb] = [createTrainState(wasmBackend, cfg), createTrainState(wasmBackend, cfg)];
    loadCheckpoint(join(a, "checkpoint.safetensors"), sa);
    loadCheckpoint(join(b, "checkpoint.safetensors"), sb);
    expect(Buffer.from(sa.teacher.flat.data.buffer, sa.teacher.flat.data.byteOffset, sa.teacher.flat.data.byteLength)
      .equals(Buffer.from(sb.teacher.flat.data.buffer, sb.teacher.flat.data.byteOffset, sb.teacher.flat.data.byteLength))).toBe(true);
  });

  it("are byte-identical for the same seed, and differ for another seed", () => {
    const [a, b, c] = [tmp(), tmp(), tmp()];
    runTraining(small, { outDir: a, skipEval: true });
    runTraining(small, { outDir: b, skipEval: true });
    runTraining({ ...small, seed: 4 }, { outDir: c, skipEval: true });
    const bytes = (d: string) => readFileSync(join(d, "checkpoint.safetensors"));
    expect(bytes(a).equals(bytes(b))).toBe(true);
    expect(bytes(a).equals(bytes(c))).toBe(false);
  });

  it("resume from the epoch-1 checkpoint ends with the same bytes as an uninterrupted run", () => {
    const [full, cut] = [tmp(), tmp()];
    runTraining(small, { outDir: full, skipEval: true });
    // interrupted after epoch 1 (3 iterations of 16 images), then resumed
    runTraining(small, { outDir: cut, steps: 3, skipEval: true });
    const afterOne = readFileSync(join(cut, "checkpoint.safetensors"));
    runTraining(small, { outDir: cut, resume: true, skipEval: true });
    expect(readFileSync(join(cut, "checkpoint.safetensors")).equals(readFileSync(join(full, "checkpoint.safetensors")))).toBe(true);
    expect(afterOne.equals(readFileSync(join(full, "checkpoint.safetensors")))).toBe(false);
  });

  it("refuses to resume a checkpoint of another configuration, naming the file", () => {
    const d = tmp();
    runTraining(small, { outDir: d, steps: 1, skipEval: true });
    expect(() => runTraining({ ...small, lr: 0.001 }, { outDir: d, resume: true, skipEval: true })).toThrow(/checkpoint\.safetensors was trained with another configuration/);
  });

  it("stops on a non-finite loss with the step named, leaving the last checkpoint intact", () => {
    const d = tmp();
    runTraining(small, { outDir: d, steps: 3, skipEval: true });
    copyFileSync(join(d, "checkpoint.safetensors"), join(d, "before.safetensors"));
    const state = createTrainState(wasmBackend, small);
    const crops = [28, 28, 12, 12].map((s) => ({ shape: [2, 3, s, s], data: new Float32Array(2 * 3 * s * s).fill(NaN) }));
    expect(() => trainStep(wasmBackend, state, crops, { epoch: 0, lr: 0.001, weightDecay: 0.04, momentum: 0.996, teacherTemp: 0.04 }, { studentTemp: 0.1, centerMomentum: 0.9, clipGrad: 3, freezeLastLayer: 1 }, undefined, 17)).toThrow(
      /step 17: the loss is NaN/,
    );
    expect(readFileSync(join(d, "checkpoint.safetensors")).equals(readFileSync(join(d, "before.safetensors")))).toBe(true);
    expect(existsSync(join(d, "checkpoint.safetensors.tmp-" + process.pid))).toBe(false);
  });

  it("never gives the teacher a gradient buffer, and keeps it an exact copy at the start", () => {
    const state = createTrainState(wasmBackend, small);
    expect(() => state.teacher.grad("backbone.cls_token")).toThrow(/never receives gradients/);
    expect(bytesOf(state.teacher.flat.data).equals(bytesOf(state.student.flat.data))).toBe(true);
    expect(state.teacher.sharesStorageWith(state.student)).toBe(false);
  });

  it("logs one metrics line per logged step with the collapse signals", () => {
    const d = tmp();
    runTraining(small, { outDir: d, steps: 4, logEvery: 2, skipEval: true });
    const lines = readFileSync(join(d, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.step)).toEqual([1, 2, 4]);
    for (const l of lines) {
      expect(l.ln_k).toBeCloseTo(Math.log(32), 12);
      expect(l.teacher_entropy).toBeGreaterThan(0);
      expect(l.teacher_entropy).toBeLessThanOrEqual(Math.log(32) + 1e-9);
      expect(l.kl).toBeGreaterThanOrEqual(0);
      expect(l.argmax_prototypes).toBeGreaterThanOrEqual(1);
    }
  });
});

describe("training on a folder of PNGs", () => {
  /** 3 classes × 12 digits as PNG files (one class folder each), plus one corrupt file. */
  function folder(): string {
    const root = tmp();
    const { train } = loadMnist();
    const count = [0, 0, 0];
    for (let i = 0; count.some((n) => n < 12); i++) {
      const y = train.label(i);
      if (y > 2 || count[y] >= 12) continue;
      mkdirSync(join(root, `digit${y}`), { recursive: true });
      writeFileSync(join(root, `digit${y}`, `${i}.png`), encodePng(train.image(i)));
      count[y]++;
    }
    writeFileSync(join(root, "digit1", "broken.png"), "not a png");
    return root;
  }

  it("stops on a corrupt image naming the file, or skips it with --skip-bad and trains", () => {
    const root = folder();
    const c = { ...small, dataset: "folder" as const, dataPath: root, trainLimit: 0, batchSize: 8 };
    expect(() => runTraining(c, { outDir: tmp(), steps: 1, skipEval: true })).toThrow(/digit1\/broken\.png/);
    const out = tmp();
    const s = runTraining({ ...c, skipBad: true }, { outDir: out, steps: 2 });
    expect(s.steps).toBe(2);
    expect(s.skipped_images).toBe(1);
    expect(s.knn_top1_raw_pixels).toBeGreaterThan(0);
    expect(existsSync(join(out, "summary.json"))).toBe(true);
  });

  it("dino-ref knn scores a checkpoint (and with --init the same net at init) on the same images as its run's summary (resized to the global crop size)", async () => {
    const out = tmp();
    // 28-px images, 32-px global crops: the evaluation resizes every image to 32 × 32
    const c = { ...small, dataset: "folder" as const, dataPath: folder(), skipBad: true, trainLimit: 0, batchSize: 8, globalSize: 32, localSize: 16 };
    const s = runTraining(c, { outDir: out, steps: 2 });
    const r = await runCli("knn", "--checkpoint", join(out, "checkpoint.safetensors"));
    expect(r.code).toBe(0);
    expect(r.out).toContain(`top-1 ${s.knn_top1!.toFixed(2)}%, top-5 ${s.knn_top5!.toFixed(2)}%`);
    // the same net at initialisation: the summary's baseline
    const init = await runCli("knn", "--checkpoint", join(out, "checkpoint.safetensors"), "--init");
    expect(init.out).toContain(`top-1 ${s.knn_top1_random_init!.toFixed(2)}%`);
  });
});

describe("dino-ref attention", () => {
  it("writes a heat map per head, the mean and a mask per head, cropping to the patch grid and saying so", async () => {
    const { main } = await import("../src/cli/main.js");
    const d = tmp();
    runTraining(small, { outDir: d, steps: 1, skipEval: true });
    const { test } = loadMnist();
    const img = test.image(0);
    // 30×30: two pixels beyond the 4-pixel patch grid
    const padded = { width: 30, height: 30, channels: 3 as const, data: new Uint8Array(30 * 30 * 3) };
    for (let y = 0; y < 28; y++) padded.data.set(img.data.subarray(y * 28 * 3, (y + 1) * 28 * 3), y * 30 * 3);
    const png = join(d, "seven.png");
    writeFileSync(png, encodePng(padded));
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(["attention", png, "--checkpoint", join(d, "checkpoint.safetensors"), "--out", join(d, "maps"), "--zoom", "2"], { out: (l) => out.push(l), err: (l) => err.push(l) });
    expect(code).toBe(0);
    expect(err.join("\n")).toMatch(/cropped from 30×30 to 28×28 px/);
    // 2 heads: image, 2 heat maps, mean, 2 masks
    expect(out.join("\n")).toMatch(/6 pictures/);
    const { readPng } = await import("../src/data/png.js");
    expect(readPng(join(d, "maps", "seven-attn-mean.png")).width).toBe(56);
    const bad = await main(["attention", png, "--checkpoint", join(d, "checkpoint.safetensors"), "--out", join(d, "maps"), "--threshold", "2"], { out: () => {}, err: (l) => err.push(l) });
    expect(bad).toBe(2);
  });
});

describe("dino-ref linear", () => {
  it("trains the linear probe on frozen teacher features and prints top-1 and top-5", async () => {
    const { main } = await import("../src/cli/main.js");
    const d = tmp();
    runTraining({ ...small, trainLimit: 32 }, { outDir: d, steps: 1, skipEval: true });
    const out: string[] = [];
    const code = await main(["linear", "--checkpoint", join(d, "checkpoint.safetensors"), "--epochs", "1", "--n-last-blocks", "2"], { out: (l) => out.push(l), err: () => {} });
    expect(code).toBe(0);
    expect(out.join("\n")).toMatch(/CLS of the last 2 block\(s\), 32 features, 1 epochs\): top-1 \d+\.\d\d%, top-5 \d+\.\d\d%/);
  });
});
