// Hostile input (issue 17): every reader and argument answers with exit 2 and ONE `dino-ref:` line,
// within bounded time and memory, or (where the input is valid) the right answer; no run trains
// on an undecodable image; a non-finite value never reaches a checkpoint. The files are generated
// here: malformed PNGs and safetensors, edited checkpoints, folders with symlinks, argument lists.
// The cases that used to take gigabytes run as child processes whose peak memory is measured.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { deflateSync } from "node:zlib";
import { parseSafetensors, serializeSafetensors, tensor, type StTensor } from "../src/io/safetensors.js";
import { runTraining } from "../src/train/run.js";
import { preset, type TrainConfig } from "../src/train/config.js";
import { saveCheckpoint } from "../src/train/checkpoint.js";
import { createTrainState } from "../src/train/trainState.js";
import { prepareOutputFolder } from "../src/io/outputPath.js";
import { ts32Backend } from "../src/kernels/backend.js";
import { runCli } from "./runCli.js";
import { TINY_NETWORK } from "./tinyNetwork.js";
import { chunk, goodPng, hostilePngs, IEND, ihdr, nested, pngOf, rawRows, rawSafetensors, writeImageFolder } from "./hostileFiles.js";

const root = mkdtempSync(join(tmpdir(), "dino-ref-hostile-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const at = (...parts: string[]) => join(root, ...parts);

/** The tests' tiny network on 16-px images: a run of 2 epochs × 2 iterations takes a fraction of a second. */
const TINY = {
  ...TINY_NETWORK, patchSize: 4, globalSize: 16, localSize: 8, batchSize: 4, epochs: 2, stopAfterSteps: 0, warmupEpochs: 0, freezeLastLayer: 0, knnK: 3,
};
let config: TrainConfig;
const DATA = at("data");
const CK = at("run", "checkpoint.safetensors");

/** A copy of the short run's checkpoint with `edit` applied, written to `name`. */
function editedCheckpoint(name: string, edit: (tensors: Map<string, StTensor>, meta: Record<string, string>) => void): string {
  const f = parseSafetensors(readFileSync(CK), CK);
  const tensors = new Map([...f.tensors].map(([k, t]) => [k, { ...t, data: t.data.slice() } as StTensor]));
  const meta = { ...f.metadata };
  edit(tensors, meta);
  writeFileSync(at(name), serializeSafetensors(tensors, meta));
  return at(name);
}

/** A case file of `op` with the given params and tensors. */
function caseFile(name: string, op: string, params: object, tensors: Record<string, StTensor>): string {
  const meta = { format: "dino-golden/1", op, params: JSON.stringify(params), tolerance: JSON.stringify({ default: [1e-6, 1e-6] }), producer: "test/hostile.test.ts", description: "hostile" };
  writeFileSync(at(name), serializeSafetensors(Object.entries(tensors), meta));
  return at(name);
}

/** The first committed golden case of `op` with some params replaced. */
function withParams(op: string, params: object): string {
  const source = join("fixtures/golden", op, readdirSync(join("fixtures/golden", op)).sort()[0]);
  const f = parseSafetensors(readFileSync(source), source);
  writeFileSync(at(`${op}.safetensors`), serializeSafetensors(f.tensors, { ...f.metadata, params: JSON.stringify({ ...JSON.parse(f.metadata.params), ...params }) }));
  return at(`${op}.safetensors`);
}

const f32 = (shape: number[]) => tensor("F32", shape, new Float32Array(shape.reduce((a, b) => a * b, 1)));

/** A training folder: DATA plus `extra` files in class c0. */
function dataWith(name: string, extra: (c0: string) => void): string {
  const dir = at(name);
  writeImageFolder(dir, ["c0", "c1"], 6);
  extra(join(dir, "c0"));
  return dir;
}

/** An output folder for a run started from a copy of the short run's folder, its checkpoint replaced by `checkpoint` when given. */
function resumeFolder(name: string, checkpoint?: string): string {
  const dir = at(name);
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(at("run"))) copyFileSync(at("run", f), join(dir, f));
  if (checkpoint !== undefined) copyFileSync(checkpoint, join(dir, "checkpoint.safetensors"));
  return dir;
}

beforeAll(() => {
  writeImageFolder(DATA, ["c0", "c1"], 6);
  writeFileSync(at("tiny.json"), JSON.stringify(TINY));
  config = { ...preset("mnist-tiny"), ...TINY, dataset: "folder", dataPath: DATA };
  // the short run every checkpoint case starts from: stopped after iteration 2 (epoch 1 of 2)
  runTraining(config, { outDir: at("run"), steps: 2, skipEval: true, logEvery: 1 });
});

/** Runs the CLI in-process and checks the answer: exit 2, exactly one `dino-ref:` line matching `why`, in time. */
async function refused(argv: string[], why: RegExp): Promise<string> {
  const start = performance.now();
  const r = await runCli(...argv);
  expect(r.code, `${argv.join(" ")}\n${r.err}`).toBe(2);
  const lines = r.err.split("\n");
  expect(lines, r.err).toHaveLength(1);
  expect(lines[0]).toMatch(/^dino-ref: /);
  expect(lines[0]).toMatch(why);
  expect(performance.now() - start).toBeLessThan(20_000);
  return lines[0];
}

const train = (...more: string[]) => ["train", "--config", at("tiny.json"), "--no-eval", ...more];

describe("PNG files that do not decode: one line naming the file, never a picture of junk, never training", () => {
  it("attention refuses each hostile PNG, naming it and what is wrong", async () => {
    for (const [name, bytes, why] of hostilePngs()) {
      const path = at(`bad-${name.replace(/\W+/g, "-")}.png`);
      writeFileSync(path, bytes);
      await refused(["attention", path, "--checkpoint", CK, "--out", at("att")], new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: not a readable PNG file: .*${why.source}`));
    }
  });

  it("train --data stops before training on an undecodable image; --skip-bad skips it and trains", async () => {
    const [, emptyIdat] = hostilePngs()[0];
    const dir = dataWith("data-empty-idat", (c0) => writeFileSync(join(c0, "zz.png"), emptyIdat));
    await refused([...train("--data", dir, "--out", at("o-bad"))], /data-empty-idat\/c0\/zz\.png: not a readable PNG file: the compressed image data end early/);
    expect(existsSync(at("o-bad", "checkpoint.safetensors"))).toBe(false);
    const r = await runCli(...train("--data", dir, "--skip-bad", "--out", at("o-skip")));
    expect(r.code).toBe(0);
    expect(JSON.parse(readFileSync(at("o-skip", "summary.json"), "utf8")).skipped_images).toBe(1);
  });

  it("a file name with a newline stays on one line", async () => {
    const path = at("bad\nname.png");
    writeFileSync(path, "not a png");
    await refused(["attention", path, "--checkpoint", CK, "--out", at("att")], /bad\\nname\.png: not a readable PNG file/);
  });
});

describe("image folders with broken symlinks and loops", () => {
  it("names the entry in one line, or skips it with --skip-bad", async () => {
    const broken = dataWith("data-broken", (c0) => symlinkSync("/nonexistent/x.png", join(c0, "broken.png")));
    const loop = dataWith("data-loop", (c0) => symlinkSync("loop.png", join(c0, "loop.png")));
    const loopClass = dataWith("data-loop-class", () => {});
    symlinkSync("loopc", join(loopClass, "loopc"));
    await refused(train("--data", broken, "--out", at("o1")), /data-broken\/c0\/broken\.png: cannot read \(ENOENT: a broken symlink\)/);
    await refused(train("--data", loop, "--out", at("o2")), /data-loop\/c0\/loop\.png: cannot read \(ELOOP: a symlink loop\)/);
    await refused(train("--data", loopClass, "--out", at("o3")), /data-loop-class\/loopc: cannot read \(ELOOP: a symlink loop\)/);
    for (const dir of [broken, loop, loopClass]) {
      const r = await runCli(...train("--data", dir, "--skip-bad", "--steps", "1", "--out", at(`o-skip-${dir.length}`)));
      expect(r.code).toBe(0);
    }
  });

  it("check DIR searches a folder reached through a symlink once and names a symlink loop", async () => {
    const dir = at("cases");
    mkdirSync(join(dir, "sub"), { recursive: true });
    const golden = join("fixtures/golden/softmax", readdirSync("fixtures/golden/softmax")[0]);
    copyFileSync(golden, join(dir, "a.safetensors"));
    symlinkSync("..", join(dir, "sub", "up"));
    const r = await runCli("check", dir);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/1 of 1 cases passed/);
    symlinkSync("self", join(dir, "self"));
    await refused(["check", dir], /cases\/self: cannot read \(ELOOP: a symlink loop\)/);
  });
});

describe("safetensors files: duplicate keys, deep nesting, unknown ops", () => {
  it("rejects each in one line naming the file", async () => {
    const files: [string, Buffer, RegExp][] = [
      ["dup-format", rawSafetensors('{"__metadata__":{"format":"dino-golden/1","op":"softmax","format":"x"},"out.x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(4)), /the key "format" appears twice in the object "__metadata__"/],
      ["dup-tensor", rawSafetensors('{"out.x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"out.x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', new Uint8Array(8)), /the key "out\.x" appears twice/],
      ["deep-shape", rawSafetensors(`{"x":{"dtype":"F32","shape":${nested(200_000)},"data_offsets":[0,0]}}`), /nested more than 3 levels deep/],
      ["deep-offsets", rawSafetensors(`{"x":{"dtype":"F32","shape":[1],"data_offsets":${nested(200_000)}}}`, new Uint8Array(4)), /nested more than 3 levels deep/],
      ["deep-metadata", rawSafetensors(`{"__metadata__":{"a":${nested(200_000)}}}`), /nested more than 3 levels deep/],
    ];
    for (const [name, bytes, why] of files) {
      writeFileSync(at(`${name}.safetensors`), bytes);
      await refused(["check", at(`${name}.safetensors`)], why);
      await refused(["inspect", at(`${name}.safetensors`)], why);
    }
  });

  it("compare checks the case's op", async () => {
    const c = caseFile("unknown-op.safetensors", "frobnicate", {}, { "out.x": f32([1]) });
    writeFileSync(at("actual.safetensors"), serializeSafetensors([["out.x", f32([1])]]));
    await refused(["compare", c, at("actual.safetensors")], /op 'frobnicate' is not in the dino-golden\/1 contract/);
  });
});

describe("checkpoint metadata: every field checked", () => {
  it("knn, attention, linear and segment refuse a config that is not an object of known fields", async () => {
    const cases: [string, string, RegExp][] = [
      ["null", "null", /metadata "config": expected a JSON object of config keys \(got null\)/],
      ["array", "[1,2]", /got an array/],
      ["notjson", "{", /metadata "config" is not JSON/],
      ["dup", '{"lr": 0.1, "lr": 0.2}', /the key "lr" appears twice/],
      ["seed", JSON.stringify({ ...config, seed: -1 }), /config seed = -1; expected an integer ≥ 0/],
    ];
    for (const [name, value, why] of cases) {
      const ck = editedCheckpoint(`ck-config-${name}.safetensors`, (_, m) => (m.config = value));
      await refused(["knn", "--checkpoint", ck], why);
      await refused(["linear", "--checkpoint", ck], why);
    }
  });

  it("--resume refuses a bad iteration, epoch or optimizer_steps instead of running 0 steps", async () => {
    const steps = JSON.parse(parseSafetensors(readFileSync(CK), CK).metadata.optimizer_steps) as Record<string, number>;
    const first = Object.keys(steps)[0];
    const cases: [string, (m: Record<string, string>) => void, RegExp][] = [
      ["iteration-missing", (m) => delete m.iteration, /metadata "iteration" is missing; expected a non-negative integer/],
      ["iteration-abc", (m) => (m.iteration = "abc"), /metadata "iteration" is "abc"/],
      ["iteration-1e300", (m) => (m.iteration = "1e300"), /metadata "iteration" is "1e300"/],
      ["iteration-neg", (m) => (m.iteration = "-1"), /metadata "iteration" is "-1"/],
      ["iteration-past", (m) => (m.iteration = "9"), /optimizer_steps|iteration 9 and epoch 1 do not fit this run/],
      ["epoch-abc", (m) => (m.epoch = "abc"), /metadata "epoch" is "abc"/],
      ["epoch-wrong", (m) => (m.epoch = "0"), /iteration 2 and epoch 0 do not fit this run \(2 iterations per epoch, 2 epochs\)/],
      ["steps-notjson", (m) => (m.optimizer_steps = "{"), /metadata "optimizer_steps" is not valid JSON/],
      ["steps-array", (m) => (m.optimizer_steps = "[1]"), /metadata "optimizer_steps": expected a JSON object/],
      ["steps-neg", (m) => (m.optimizer_steps = JSON.stringify({ ...steps, [first]: -3 })), new RegExp(`${first.replace(/\./g, "\\.")} has step count -3; expected an integer in \\[1, 2\\]`)],
      ["steps-unknown", (m) => (m.optimizer_steps = JSON.stringify({ ...steps, nope: 1 })), /"nope" is not a trainable parameter/],
      ["steps-proto", (m) => (m.optimizer_steps = '{"__proto__": 1}'), /"__proto__" is not a trainable parameter/],
    ];
    for (const [name, edit, why] of cases) {
      const out = resumeFolder(`resume-${name}`, editedCheckpoint(`ck-${name}.safetensors`, (_, m) => edit(m)));
      await refused(train("--data", DATA, "--out", out, "--resume"), why);
    }
  });

  it("--resume names the field that differs and takes DIR/ for DIR", async () => {
    await refused(train("--data", DATA, "--out", resumeFolder("resume-lr"), "--resume", "--set", "lr=0.1"), /was trained with another configuration: lr = 0\.01 \(this run: 0\.1\)/);
    const r = await runCli(...train("--data", `${DATA}/`, "--out", resumeFolder("resume-slash"), "--resume"));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/resumed at iteration 2/);
  });
});

describe("non-finite values never reach disk", () => {
  it("a NaN in a checkpoint's optimizer state stops the resumed run before anything is written, naming the tensor", async () => {
    const ck = editedCheckpoint("ck-nan-moment.safetensors", (t) => ((t.get("optimizer.exp_avg_sq.backbone.blocks.0.attn.qkv.weight")!.data as Float32Array)[3] = NaN));
    const out = resumeFolder("resume-nan", ck);
    await refused(train("--data", DATA, "--out", out, "--resume"), /checkpoint\.safetensors: tensor optimizer\.exp_avg_sq\.backbone\.blocks\.0\.attn\.qkv\.weight holds NaN at index 3; a checkpoint with non-finite values cannot be resumed/);
    expect(readFileSync(join(out, "checkpoint.safetensors")).equals(readFileSync(ck))).toBe(true);
    expect(readdirSync(out).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("an update that makes the state non-finite stops the run at that step (numbered as the progress lines), the checkpoint untouched", async () => {
    // finite but impossible moments: a negative exp_avg_sq turns the next update into NaN
    const ck = editedCheckpoint("ck-negative-moment.safetensors", (t) => (t.get("optimizer.exp_avg_sq.backbone.cls_token")!.data as Float32Array).fill(-1));
    const out = resumeFolder("resume-negative", ck);
    await refused(train("--data", DATA, "--out", out, "--resume"), /^dino-ref: step 3: after the update tensor student\.backbone\.cls_token holds NaN at index 0; stopping before it reaches a checkpoint \(\S+checkpoint\.safetensors keeps iteration 2\)$/);
    expect(readFileSync(join(out, "checkpoint.safetensors")).equals(readFileSync(ck))).toBe(true);
  });

  it("saveCheckpoint refuses a state holding NaN, keeping the previous file", () => {
    const dir = at("save-nan");
    mkdirSync(dir);
    const state = createTrainState(ts32Backend, config);
    const path = join(dir, "checkpoint.safetensors");
    saveCheckpoint(path, config, state, { iteration: 0, epoch: 0 });
    const before = readFileSync(path);
    state.center[2] = Infinity;
    expect(() => saveCheckpoint(path, config, state, { iteration: 1, epoch: 0 })).toThrow(/checkpoint\.safetensors: not written: tensor center holds Infinity at index 2 \(the previous checkpoint is kept\)/);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it("knn, attention, linear and segment refuse non-finite weights by name", async () => {
    const nan = editedCheckpoint("ck-nan-teacher.safetensors", (t) => (t.get("teacher.backbone.blocks.1.mlp.fc1.weight")!.data as Float32Array).fill(NaN, 5, 6));
    const inf = editedCheckpoint("ck-inf-student.safetensors", (t) => ((t.get("student.backbone.pos_embed")!.data as Float32Array)[0] = -Infinity));
    const why = /the teacher backbone's blocks\.1\.mlp\.fc1\.weight holds NaN at index 5; refusing to compute with non-finite weights/;
    writeFileSync(at("good.png"), goodPng());
    await refused(["knn", "--checkpoint", nan], why);
    await refused(["linear", "--checkpoint", nan], why);
    await refused(["attention", at("good.png"), "--checkpoint", nan, "--out", at("att")], why);
    await refused(["segment", "--checkpoint", nan, "--count", "1"], why);
    await refused(["knn", "--checkpoint", inf, "--student"], /the student backbone's pos_embed holds -Infinity at index 0/);
  });
});

describe("arguments: our own one-line error for negative numbers, empty strings, non-integers, unknown names", () => {
  it("every numeric option refuses -1 in one line naming the option", async () => {
    const attention = ["attention", "x.png", "--checkpoint", CK, "--out", at("att")];
    const cases: [string[], string][] = [
      [[...train("--out", at("o")), "--steps", "-1"], "steps"], [[...train("--out", at("o")), "--epochs", "-1"], "epochs"], [[...train("--out", at("o")), "--seed", "-1"], "seed"],
      [["knn", "--checkpoint", CK, "--k", "-5"], "k"], [["knn", "--checkpoint", CK, "--temperature", "-1"], "temperature"],
      [["linear", "--checkpoint", CK, "--n-last-blocks", "-1"], "n-last-blocks"], [["linear", "--checkpoint", CK, "--epochs", "-1"], "epochs"], [["linear", "--checkpoint", CK, "--lr", "-1"], "lr"],
      [[...attention, "--threshold", "-0.5"], "threshold"], [[...attention, "--zoom", "-1"], "zoom"], [[...attention, "--max-side", "-1"], "max-side"],
      [["segment", "--checkpoint", CK, "--count", "-1"], "count"], [["segment", "--checkpoint", CK, "--threshold", "-1"], "threshold"], [["segment", "--checkpoint", CK, "--figure-count", "-1"], "figure-count"],
      [["dataset", "mnist-clutter", "--out", at("ds"), "--seed", "-1"], "seed"], [["dataset", "mnist-clutter", "--out", at("ds"), "--count", "-1"], "count"],
      [["explain", "collapse", "--out", at("ex"), "--steps", "-1"], "steps"], [["explain", "collapse", "--out", at("ex"), "--seed", "-1"], "seed"],
      [["bench", "--min-time", "-1"], "min-time"], [["check", "x", "--max-memory", "-1"], "max-memory"], [["check", "x", "--max-pixels", "-1"], "max-pixels"],
    ];
    for (const [argv, option] of cases) await refused(argv, new RegExp(`--${option}\\b`));
  });

  it("empty strings, non-integers and out-of-range values", async () => {
    await refused(train("--out", at("o"), "--seed", ""), /--seed "": expected an integer ≥ 0/);
    await refused(train("--out", at("o"), "--seed", "1e300"), /--seed 1e300: expected an integer ≥ 0/);
    await refused(train("--out", at("o"), "--epochs", "1e12"), /config epochs = 1000000000000; expected an integer in \[1, 1000000\]/);
    await refused(["attention", "x.png", "--checkpoint", CK, "--out", at("att"), "--zoom", "100000"], /--zoom 100000: expected an integer in \[0, 64\]/);
    await refused(["attention", "x.png", "--checkpoint", CK, "--out", at("att"), "--zoom", "1.5"], /--zoom 1\.5/);
    await refused(["check", "x", "--max-memory", "lots"], /--max-memory lots: expected a size such as 512M or 4G/);
    writeFileSync(at("seed.json"), JSON.stringify({ seed: -1 }));
    await refused(["train", "--config", at("seed.json"), "--out", at("o")], /seed\.json: config seed = -1/);
  });

  it("preset names are looked up as names, not on the object prototype", async () => {
    for (const name of ["__proto__", "constructor", "toString"]) {
      await refused(["train", "--preset", name, "--out", at("o")], new RegExp(`unknown preset '${name}'`));
      await refused(["preset", name], new RegExp(`unknown preset '${name}'`));
    }
  });

  it("DINO_REF_KERNELS=bogus is refused", async () => {
    process.env.DINO_REF_KERNELS = "bogus";
    try {
      await refused(["knn", "--checkpoint", CK], /DINO_REF_KERNELS="bogus": expected "wasm"/);
    } finally {
      delete process.env.DINO_REF_KERNELS;
    }
  });

  it("no command: the usage on stderr and exit 2", async () => {
    const r = await runCli();
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toMatch(/^usage: dino-ref <command>/);
  });
});

describe("output paths checked before any work", () => {
  it("--out an existing file, empty, /dev/null, under a file, or on a file system without room", async () => {
    writeFileSync(at("a-file"), "x");
    await refused(train("--out", at("a-file")), /--out \S+a-file: cannot create the folder \(EEXIST: a file of that name exists\)/);
    await refused(train("--out", ""), /--out "": expected a folder path/);
    await refused(train("--out", "/dev/null"), /--out \/dev\/null: cannot create the folder \(EEXIST/);
    await refused(train("--out", at("a-file", "sub")), /cannot create the folder \(ENOTDIR: a part of the path is a file, not a folder\)/);
    await refused(["attention", at("good.png"), "--checkpoint", CK, "--out", at("a-file")], /--out \S+a-file: cannot create the folder/);
    await refused(["dataset", "mnist-clutter", "--out", at("a-file"), "--count", "1"], /--out \S+a-file: cannot create the folder/);
    await refused(["segment", "--checkpoint", CK, "--figure", root], /--figure \S+: is a folder; expected a file path/);
    expect(() => prepareOutputFolder(at("roomy"), "--out", 2 ** 60)).toThrow(/--out \S+roomy: .* free on its file system; the outputs need about 1\.15e\+6 TB$/);
  });

  it("a read-only folder (when not running as root, who may write anywhere)", async () => {
    if (process.getuid?.() === 0) return;
    const ro = at("ro");
    mkdirSync(ro, { mode: 0o555 });
    await refused(train("--out", join(ro, "x")), /cannot create the folder \(EACCES: permission denied\)/);
  });
});

describe("leftovers of a killed run", () => {
  it("a temporary checkpoint of a process that no longer runs is removed by the next run in that folder; a live one is kept", async () => {
    const out = resumeFolder("leftovers");
    const dead = spawnSync(process.execPath, ["-e", ""]).pid!;
    writeFileSync(join(out, `checkpoint.safetensors.tmp-${dead}`), "half a checkpoint");
    writeFileSync(join(out, `summary.json.tmp-${process.ppid}`), "a live writer's");
    writeFileSync(join(out, `notes.txt.tmp-${dead}`), "not one of ours");
    const r = await runCli(...train("--data", DATA, "--out", out, "--resume"));
    expect(r.code).toBe(0);
    expect(readdirSync(out).filter((f) => f.includes(".tmp-")).sort()).toEqual([`notes.txt.tmp-${dead}`, `summary.json.tmp-${process.ppid}`]);
  });

  it("kill -9 during a run: the checkpoint left is loadable, and the resumed run ends with the uninterrupted run's bytes, no step logged twice", async () => {
    const args = [...train("--data", DATA, "--epochs", "50")];
    const ref = await runCli(...args, "--out", at("kill-ref"));
    expect(ref.code).toBe(0);
    const out = at("kill");
    // killed at some point after its first checkpoint (during an iteration or a checkpoint write)
    await new Promise<void>((resolve) => {
      const p = spawn(process.execPath, ["bin/dino-ref.js", ...args, "--out", out]);
      p.stderr.on("data", (d) => {
        if (String(d).includes("checkpoint (epoch 1)")) setTimeout(() => p.kill("SIGKILL"), 50);
      });
      p.on("close", () => resolve());
    });
    const r = await runCli(...args, "--out", out, "--resume");
    expect(r.code, r.err).toBe(0);
    // the kill landed before the end (100 iterations), after the first checkpoint
    const resumedAt = Number(/resumed at iteration (\d+)/.exec(r.out)![1]);
    expect(resumedAt >= 2 && resumedAt < 100, r.out).toBe(true);
    expect(readFileSync(join(out, "checkpoint.safetensors")).equals(readFileSync(at("kill-ref", "checkpoint.safetensors")))).toBe(true);
    expect(readdirSync(out).filter((f) => f.includes(".tmp-"))).toEqual([]);
    const steps = readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).step as number);
    expect(steps.every((s, i) => i === 0 || s > steps[i - 1]), steps.join(", ")).toBe(true);
    expect(steps.at(-1)).toBe(100);
  });

  it("metrics.jsonl never repeats a step after a resume from an earlier checkpoint", () => {
    const out = resumeFolder("metrics");
    runTraining(config, { outDir: out, resume: true, skipEval: true, logEvery: 1 });
    const finished = readFileSync(join(out, "checkpoint.safetensors"));
    // killed after logging steps 3 and 4 but before their checkpoint: the iteration-2 checkpoint is back
    copyFileSync(CK, join(out, "checkpoint.safetensors"));
    writeFileSync(join(out, "metrics.jsonl"), readFileSync(join(out, "metrics.jsonl"), "utf8") + '{"step": 5, "loss": 0.');
    runTraining(config, { outDir: out, resume: true, skipEval: true, logEvery: 1 });
    const steps = readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).step);
    expect(steps).toEqual([1, 2, 3, 4]);
    expect(readFileSync(join(out, "checkpoint.safetensors")).equals(finished)).toBe(true);
  });
});

describe("valid input gets the right answer", () => {
  it("knn --temperature 1e-320 votes as the nearest neighbour instead of overflowing", async () => {
    const tiny = await runCli("knn", "--checkpoint", CK, "--temperature", "1e-320");
    const nearest = await runCli("knn", "--checkpoint", CK, "--k", "1");
    expect(tiny.code).toBe(0);
    expect(tiny.out.match(/top-1 [\d.]+%/)![0]).toBe(nearest.out.match(/top-1 [\d.]+%/)![0]);
  });

  it("knn and linear under a small --max-memory extract features in smaller batches: the same numbers", async () => {
    for (const command of [["knn"], ["linear", "--epochs", "3"]]) {
      const usual = await runCli(...command, "--checkpoint", CK);
      const small = await runCli(...command, "--checkpoint", CK, "--max-memory", "100K");
      expect(usual.code, usual.err).toBe(0);
      expect(small.code, small.err).toBe(0);
      expect(small.out).toBe(usual.out);
    }
    await refused(["knn", "--checkpoint", CK, "--max-memory", "10K"], /features: the backbone's forward on one 16×16 px image \(17 tokens\) would need about [\d.]+ kB, above the --max-memory limit of 10\.2 kB; lower globalSize/);
  });

  it("attention --max-side shrinks an image whose attention would not fit, and says so", async () => {
    const big = at("big-448.png");
    writeFileSync(big, pngOf(ihdr(448, 448), chunk("IDAT", deflateSync(rawRows(448, 448, 3))), IEND));
    const line = await refused(["attention", big, "--checkpoint", CK, "--out", at("att")], /the attention of a 448×448 px image \(12,545 tokens of 4×4 px, 2 heads × N² weights\) would need about [\d.]+ GB, above the --max-memory limit of 1 GiB; resize it so that its longer side is at most \d+ px/);
    // a lower limit keeps the test fast: the longest side that fits 64 MiB
    const small = await refused(["attention", big, "--checkpoint", CK, "--out", at("att"), "--max-memory", "64M"], /above the --max-memory limit of 64 MiB; resize it so that its longer side is at most \d+ px/);
    const side = Number(/at most (\d+) px/.exec(small)![1]);
    expect(side).toBeLessThan(Number(/at most (\d+) px/.exec(line)![1]));
    const r = await runCli("attention", big, "--checkpoint", CK, "--out", at("att"), "--max-memory", "64M", "--max-side", String(side));
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(new RegExp(`resized from 448×448 to ${side}×${side} px \\(--max-side ${side}\\)`));
    // a larger side does not fit
    await refused(["attention", big, "--checkpoint", CK, "--out", at("att"), "--max-memory", "64M", "--max-side", String(side + 4)], /would need about/);
  });
});

/** Runs the built CLI in a child process; returns its exit code, stderr, seconds and peak memory (MB). */
function child(argv: string[]): Promise<{ code: number | null; err: string; seconds: number; maxRssMB: number }> {
  const rssFile = at(`rss-${Math.random().toString(36).slice(2)}`);
  const start = performance.now();
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ["--import", "./test/maxRss.mjs", "bin/dino-ref.js", ...argv], { env: { ...process.env, DINO_REF_MAX_RSS_FILE: rssFile } });
    let err = "";
    p.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => p.kill("SIGKILL"), 30_000);
    p.on("close", (code) => {
      clearTimeout(timer);
      const kb = existsSync(rssFile) ? Number(readFileSync(rssFile, "utf8")) : NaN;
      resolve({ code, err, seconds: (performance.now() - start) / 1000, maxRssMB: kb / 1024 });
    });
  });
}

describe("tiny files that asked for gigabytes: refused before allocating (child processes, peak memory measured)", () => {
  it("each gets exit 2 and one line within 20 s and well under 1.5 GB", async () => {
    const n = 20000;
    const hugePng = at("huge-20000.png");
    writeFileSync(hugePng, pngOf(ihdr(n, n, 8, 0), chunk("IDAT", deflateSync(Buffer.alloc(1000))), IEND));
    const hugeData = dataWith("data-huge", (c0) => copyFileSync(hugePng, join(c0, "zz.png")));
    const sparse = at("sparse-2g.safetensors");
    writeFileSync(sparse, rawSafetensors('{"out.x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(4)));
    truncateSync(sparse, 2 ** 31 - 4096);
    const cases: [string[], RegExp][] = [
      [["check", caseFile("cosine-2e8.safetensors", "cosine_schedule", { base_value: 1, final_value: 0, epochs: 2e8, niter_per_ep: 1 }, { "out.values": f32([1]) })], /op cosine_schedule: the 200000000 × 1 float64 schedule values would need about 1\.6 GB, above the --max-memory limit of 1 GiB/],
      [["check", caseFile("teacher-1e9.safetensors", "teacher_temp_schedule", { warmup_teacher_temp: 0.04, teacher_temp: 0.04, warmup_teacher_temp_epochs: 0, nepochs: 1e9 }, { "out.values": f32([1]) })], /op teacher_temp_schedule: the 1000000000 float64 schedule values/],
      [["check", caseFile("attention-n20000.safetensors", "attention", { scale: 1 }, { "in.q": f32([1, 1, n, 1]), "in.k": f32([1, 1, n, 1]), "in.v": f32([1, 1, n, 1]), "in.grad_out": f32([1, 1, n, 1]), "out.out": f32([1]) })], /op attention: the attention weights \[1, 1, 20000, 20000\] would need about 1\.6 GB/],
      [["check", caseFile("interpolate.safetensors", "interpolate_pos_encoding", { patch_size: 1, height: 1e6, width: 1e6 }, { "in.pos_embed": f32([1, 5, 2]), "out.pos_embed": f32([1]) })], /op interpolate_pos_encoding: the position embedding of 1000000000000 patches/],
      [["check", caseFile("knn-classes.safetensors", "knn", { k: 1, temperature: 0.07, num_classes: 2e9 }, { "in.train_features": f32([2, 2]), "in.test_features": f32([2, 2]), "in.train_labels": tensor("I64", [2], new BigInt64Array(2)), "in.test_labels": tensor("I64", [2], new BigInt64Array(2)), "out.top1": f32([1]) })], /op knn: the votes of 2000000000 classes/],
      [["check", sparse], /sparse-2g\.safetensors: not a valid safetensors file: bytes 4\.\.\d+ of the data belong to no tensor/],
      [["check", withParams("vit_forward", { depth: 1e9 })], /vit_forward\.safetensors: param depth must be ≤ \d+, got 1000000000/],
      [["check", withParams("dino_train_steps", { nlayers: 1e9 })], /dino_train_steps\.safetensors: param nlayers must be ≤ \d+, got 1000000000/],
      [["attention", hugePng, "--checkpoint", CK, "--out", at("att")], /huge-20000\.png: 20000×20000 px \(400,000,000 pixels\) is above the --max-pixels limit of 16,777,216 pixels/],
      [["train", "--config", at("tiny.json"), "--no-eval", "--data", hugeData, "--out", at("o-huge")], /data-huge\/c0\/zz\.png: 20000×20000 px/],
      [["train", "--config", at("tiny.json"), "--no-eval", "--data", DATA, "--out", at("o-big"), "--set", "globalSize=4096", "--set", "patchSize=1", "--set", "localSize=8"], /one training step \(batch 4, 2 × 4096 px and 2 × 8 px crops, patch 1, width 16, depth 2\) would need about [\d.]+e\+\d+ TB/],
    ];
    // two at a time (two cores)
    const results: Awaited<ReturnType<typeof child>>[] = [];
    for (let i = 0; i < cases.length; i += 2) results.push(...(await Promise.all(cases.slice(i, i + 2).map(([argv]) => child(argv)))));
    cases.forEach(([argv, why], i) => {
      const r = results[i];
      const label = `${argv.join(" ")}: ${r.err}`;
      expect(r.code, label).toBe(2);
      expect(r.err.trim().split("\n"), label).toHaveLength(1);
      expect(r.err, label).toMatch(why);
      expect(r.seconds, label).toBeLessThan(20);
      expect(r.maxRssMB, label).toBeLessThan(1536);
    });
  });
});
