// The paper's other applications as a user meets them, on the checkpoint of a 2-step mnist-tiny
// training: retrieval, copydetect, videoseg, knn --labels and finetune each exit 0 with a number
// under its --json key (small counts keep this fast), and bad input gets one line and exit 2.
import { describe, expect, it, beforeAll } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runTraining } from "../src/train/run.js";
import { preset } from "../src/train/config.js";
import { readPng } from "../src/data/png.js";
import { runCli } from "./runCli.js";

const tmp = () => mkdtempSync(join(tmpdir(), "dino-ref-apps-"));

let checkpoint: string;
beforeAll(() => {
  const d = tmp();
  // `dino-ref train --preset mnist-tiny --steps 2`, without the final k-NN evaluation
  runTraining(preset("mnist-tiny"), { outDir: d, steps: 2, skipEval: true });
  checkpoint = join(d, "checkpoint.safetensors");
}, 300_000);

/** Runs a command with --json and returns the parsed object (after checking exit 0 and one line). */
async function json(...argv: string[]): Promise<Record<string, unknown>> {
  const r = await runCli(...argv, "--json");
  expect(r.err.split("\n").filter((l) => l.startsWith("dino-ref:"))).toEqual([]);
  expect(r.code).toBe(0);
  expect(r.out.split("\n")).toHaveLength(1);
  return JSON.parse(r.out) as Record<string, unknown>;
}

const isNumber = (x: unknown) => typeof x === "number" && Number.isFinite(x);

describe("the application commands on a 2-step checkpoint", () => {
  it("retrieval prints mAP Medium under `map`, beside the net at init and raw pixels", async () => {
    const r = await json("retrieval", "--weights", checkpoint, "--queries", "10", "--distractors", "20");
    expect(isNumber(r.map) && isNumber(r.map_hard)).toBe(true);
    expect(isNumber((r.init as Record<string, unknown>).map) && isNumber((r.raw_pixels as Record<string, unknown>).map)).toBe(true);
    expect([r.queries, r.database]).toEqual([10, 10 * 5 + 20]);
  });

  it("copydetect prints mAP under `map` (--checkpoint works as --weights)", async () => {
    const r = await json("copydetect", "--checkpoint", checkpoint, "--originals", "10", "--copies", "1", "--distractors", "20", "--whitening", "40");
    expect(isNumber(r.map)).toBe(true);
    expect(r.map as number).toBeGreaterThanOrEqual(0);
    expect(r.map as number).toBeLessThanOrEqual(1);
    expect(isNumber((r.init as Record<string, unknown>).map)).toBe(true);
  });

  it("videoseg prints (J&F)m under `jf_mean` and draws the strip", async () => {
    const figure = join(tmp(), "strip.png");
    const r = await json("videoseg", "--weights", checkpoint, "--clips", "2", "--frames", "4", "--figure", figure);
    expect(isNumber(r.jf_mean)).toBe(true);
    // no --size: 49 px, the multiple of mnist-tiny's patch 7 nearest the default 48
    expect(r.size).toBe(49);
    // the true labels on the 7-px patch grid: well above what a 2-step net reaches, below 1 (coarse grid)
    const ceiling = (r.patch_ceiling as Record<string, number>).jf_mean;
    expect(ceiling).toBeGreaterThan(0.3);
    expect(ceiling).toBeLessThan(1);
    expect(readPng(figure).width).toBeGreaterThan(4 * 49);
  });

  it("knn --labels 1% prints top-1 under `top1` from 80 labelled digits, beside init and raw pixels", async () => {
    const r = await json("knn", "--checkpoint", checkpoint, "--labels", "1%");
    expect(r.labels).toBe(80);
    expect(isNumber(r.top1) && isNumber((r.init as Record<string, unknown>).top1) && isNumber((r.raw_pixels as Record<string, unknown>).top1)).toBe(true);
  });

  it("linear --labels 10 prints top-1 under `top1`", async () => {
    const r = await json("linear", "--checkpoint", checkpoint, "--labels", "10", "--epochs", "2");
    expect(r.labels).toBe(10);
    expect(isNumber(r.top1)).toBe(true);
  });

  it("finetune --epochs 1 prints top-1 under `top1`, beside the linear probe and the net at init fine-tuned", async () => {
    const r = await json("finetune", "--weights", checkpoint, "--epochs", "1", "--train-count", "64", "--test-count", "50", "--probe-epochs", "2");
    expect(isNumber(r.top1)).toBe(true);
    expect(isNumber((r.linear_probe as Record<string, unknown>).top1) && isNumber((r.init as Record<string, unknown>).top1)).toBe(true);
    expect([r.train, r.test]).toEqual([64, 50]);
  });
});

describe("bad input to the application commands: one line, exit 2", () => {
  const cases: [string, string[], RegExp][] = [
    ["no weights", ["retrieval"], /retrieval: --weights FILE is required/],
    ["a missing file", ["copydetect", "--weights", "/nonexistent/w.safetensors"], /nonexistent/],
    ["zero queries", ["retrieval", "--weights", "CKPT", "--queries", "0"], /--queries 0: expected an integer in \[1, 1000\]/],
    ["a one-image whitening set", ["copydetect", "--weights", "CKPT", "--whitening", "1"], /--whitening 1/],
    ["frames off the patch grid", ["videoseg", "--weights", "CKPT", "--size", "30"], /--size 30: frames must be a multiple of the patch size 7/],
    ["a bad label share", ["knn", "--checkpoint", "CKPT", "--labels", "0%"], /--labels 0%/],
    ["more neighbours than labels", ["knn", "--checkpoint", "CKPT", "--labels", "10"], /--k 20 is more than the 10 labelled images/],
    ["--labels with --train-count", ["finetune", "--weights", "CKPT", "--labels", "1%", "--train-count", "5"], /not both/],
    ["two different files", ["finetune", "--weights", "a", "--checkpoint", "b"], /give --weights FILE or --checkpoint FILE \(the same option\), not both/],
    ["a stray argument", ["videoseg", "extra"], /videoseg: unexpected argument extra/],
  ];
  for (const [what, argv, message] of cases) {
    it(what, async () => {
      const r = await runCli(...argv.map((a) => (a === "CKPT" ? checkpoint : a)));
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err.split("\n")).toHaveLength(1);
    });
  }

  it("a weights file with NaN says so instead of ranking at random", async () => {
    const bytes = readFileSync(checkpoint);
    // the first float of the teacher's cls_token set to NaN: find the tensor in the header
    const n = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString("utf8")) as Record<string, { data_offsets: [number, number] }>;
    const at = 8 + n + header["teacher.backbone.cls_token"].data_offsets[0];
    const copy = Buffer.from(bytes);
    copy.writeFloatLE(NaN, at);
    const path = join(tmp(), "nan.safetensors");
    writeFileSync(path, copy);
    expect(existsSync(path)).toBe(true);
    const r = await runCli("retrieval", "--weights", path, "--queries", "2", "--distractors", "2");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/teacher backbone.s cls_token holds NaN at index 0; refusing to compute with non-finite weights$/);
  });
});
