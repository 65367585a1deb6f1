// Weights in and out without Python, as a user meets them: `dino-ref convert` on files PyTorch
// wrote (fixtures/weights, reference-tests/weights/make_weight_fixtures.py) against what PyTorch
// itself saw in them, malicious pickles refused, any backbone in the evaluations (`knn`,
// `linear`, `features`, `attention`, `inspect` with --weights and --data train/ val/ folders of
// PNGs and JPEGs), the Hugging Face layout both ways, and `train --init`. That torch.load reads
// the .pth files written here identically is checked with PyTorch in CI
// (reference-tests/weights/check_pth_roundtrip.py, run by .ci/run).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import jpeg from "jpeg-js";
import { describe, expect, it } from "vitest";
import { parseSafetensors, readSafetensors, serializeSafetensors, tensor, type StTensor } from "../src/io/safetensors.js";
import { encodePng } from "../src/data/png.js";
import { loadMnist } from "../src/data/mnist.js";
import { readWeightsFile } from "../src/model/weightsFile.js";
import { readInitSource, applyInit } from "../src/train/initFrom.js";
import { createTrainState } from "../src/train/trainState.js";
import { preset } from "../src/train/config.js";
import { wasmBackend } from "../src/kernels/backend.js";
import { TINY_NETWORK } from "./tinyNetwork.js";
import { runCli } from "./runCli.js";

const ROOT = resolve(__dirname, "..");
const W = "fixtures/weights";
const MARKER = "/tmp/dino-ref-pickle-ran";
const tmp = () => mkdtempSync(join(tmpdir(), "dino-ref-weights-"));
const bits = (t: StTensor) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString("hex");

function sameTensors(a: ReadonlyMap<string, StTensor>, b: ReadonlyMap<string, StTensor>): void {
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [k, t] of a) expect([k, t.dtype, t.shape, bits(t)]).toEqual([k, b.get(k)!.dtype, b.get(k)!.shape, bits(b.get(k)!)]);
}

/** DIR/train and DIR/val with digits 0–2 of the bundled MNIST (28 px): PNGs, every third a JPEG. */
function digitFolders(perClassTrain = 10, perClassVal = 4): string {
  const root = tmp();
  const { train } = loadMnist();
  const count = [0, 0, 0];
  for (let i = 0; count.some((n) => n < perClassTrain + perClassVal); i++) {
    const y = train.label(i);
    if (y > 2 || count[y] >= perClassTrain + perClassVal) continue;
    const split = count[y] < perClassTrain ? "train" : "val";
    const dir = join(root, split, `digit${y}`);
    mkdirSync(dir, { recursive: true });
    const img = train.image(i);
    if (i % 3 === 0) {
      const rgba = new Uint8Array(img.width * img.height * 4);
      for (let p = 0; p < img.width * img.height; p++) rgba.set([img.data[3 * p], img.data[3 * p + 1], img.data[3 * p + 2], 255], 4 * p);
      writeFileSync(join(dir, `${i}.jpg`), jpeg.encode({ width: img.width, height: img.height, data: rgba }, 95).data);
    } else writeFileSync(join(dir, `${i}.png`), encodePng(img));
    count[y]++;
  }
  return root;
}

describe("dino-ref convert", () => {
  for (const [name, what] of [["checkpoint.pth", "an official training checkpoint"], ["backbone.pth", "a released backbone"], ["backbone_legacy.pth", "a legacy-format backbone"], ["backbone_fp16.pth", "a half-precision backbone"]]) {
    it(`turns ${what} written by PyTorch into safetensors bit for bit, and back into a .pth that reads the same`, async () => {
      const d = tmp();
      const st = join(d, "out.safetensors");
      const r = await runCli("convert", `${W}/${name}`, st);
      expect(r.code, r.err).toBe(0);
      const ours = readSafetensors(st);
      const expected = parseSafetensors(readFileSync(`${W}/${name.replace(".pth", ".expected.safetensors")}`), "expected");
      // what reference-tests/convert_checkpoint.py made of the same file through torch.load
      sameTensors(ours.tensors, expected.tensors);
      const { source: _a, ...oursMeta } = ours.metadata;
      const { source: _b, ...expectedMeta } = expected.metadata;
      expect(oursMeta).toEqual(expectedMeta);
      if (name === "checkpoint.pth") expect(r.out).toMatch(/kind training_checkpoint, epoch 3; dropped: fp16_scaler, optimizer/);
      const back = join(d, "back.pth");
      expect((await runCli("convert", st, back)).code).toBe(0);
      sameTensors(readWeightsFile(back).tensors, readWeightsFile(`${W}/${name}`).tensors);
    });
  }

  it("runs with no Python on PATH", () => {
    expect(existsSync(join(ROOT, "dist/cli/main.js")), "dist/ is missing: npm test builds it").toBe(true);
    const bin = tmp();
    symlinkSync(process.execPath, join(bin, "node"));
    const env = { PATH: bin, HOME: process.env.HOME ?? "/tmp" };
    expect(spawnSync("python3", ["--version"], { env }).error).toBeDefined();
    const out = join(tmp(), "ckpt.safetensors");
    const r = spawnSync(process.execPath, [join(ROOT, "bin/dino-ref.js"), "convert", join(ROOT, W, "checkpoint.pth"), out], { env, encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    sameTensors(readSafetensors(out).tensors, parseSafetensors(readFileSync(`${W}/checkpoint.expected.safetensors`), "e").tensors);
  });

  for (const [file, global] of [["evil_system.pth", "posix.system"], ["evil_eval.pth", "builtins.eval"], ["evil_stack_global.pt", "posix.system"]] as const) {
    it(`refuses ${file}, which would run code, in one line with exit 2; nothing runs, nothing is written`, async () => {
      const existed = existsSync(MARKER);
      const out = join(tmp(), "x.safetensors");
      for (const command of [["convert", `${W}/${file}`, out], ["inspect", `${W}/${file}`], ["knn", "--weights", `${W}/${file}`, "--data", "nowhere"]]) {
        const r = await runCli(...command);
        expect(r.code).toBe(2);
        expect(r.out).toBe("");
        expect(r.err.split("\n")).toHaveLength(1);
        expect(r.err).toMatch(new RegExp(`^dino-ref: ${W}/${file}.*refused: the pickle asks for the Python global '${global.replace(".", "\\.")}'.*nothing was run$`));
      }
      expect(existsSync(out)).toBe(false);
      if (!existed) expect(existsSync(MARKER)).toBe(false);
    });
  }

  it("converts a Hugging Face layout file to the official layout and back, bit for bit, and trace gives the same numbers on both", async () => {
    const d = tmp();
    const [official, hf] = [join(d, "official.safetensors"), join(d, "hf.safetensors")];
    expect((await runCli("convert", `${W}/hf_backbone.safetensors`, official, "--layout", "official")).code).toBe(0);
    sameTensors(readSafetensors(official).tensors, readWeightsFile(`${W}/backbone.pth`).tensors);
    expect((await runCli("convert", official, hf, "--layout", "hf")).code).toBe(0);
    const [ours, theirs] = [readSafetensors(hf), readSafetensors(`${W}/hf_backbone.safetensors`)];
    sameTensors(ours.tensors, theirs.tensors);
    expect(ours.metadata).toEqual(theirs.metadata);
    // trace gives the same numbers, bit for bit, on the Hugging Face file and on its official conversion
    const w = readWeightsFile(`${W}/backbone.pth`).tensors;
    const [patch, grid] = [w.get("patch_embed.proj.weight")!.shape[2], Math.round(Math.sqrt(w.get("pos_embed")!.shape[1] - 1))];
    const side = patch * grid;
    const x = Float32Array.from({ length: 2 * 3 * side * side }, (_, i) => Math.sin(i * 0.37));
    const input = join(d, "x.safetensors");
    writeFileSync(input, serializeSafetensors([["x", tensor("F32", [2, 3, side, side], x)]]));
    const traces = [];
    for (const weights of [`${W}/hf_backbone.safetensors`, official]) {
      const out = join(d, `trace-${traces.length}.safetensors`);
      const t = await runCli("trace", "--weights", weights, "--input", input, "--out", out);
      expect(t.code, t.err).toBe(0);
      traces.push(readSafetensors(out).tensors);
    }
    expect(traces[0].size).toBeGreaterThan(10);
    sameTensors(traces[0], traces[1]);
    // a training checkpoint gives its teacher's backbone (or the student's)
    const r = await runCli("convert", `${W}/checkpoint.pth`, join(d, "teacher_hf.safetensors"), "--layout", "hf");
    expect(r.out).toMatch(/took the teacher's backbone, left out 47 other tensor\(s\) \(a DINO head among them\)/);
  });

  it("says what is wrong with its arguments in one line", async () => {
    for (const [args, message] of [
      [["convert", `${W}/backbone.pth`], /expected IN and OUT/],
      [["convert", `${W}/backbone.pth`, "out.npz"], /out\.npz: unknown format; expected \.pth, \.pt, \.bin or \.safetensors/],
      [["convert", `${W}/backbone.pth`, "o.safetensors", "--layout", "timm"], /--layout timm: expected official or hf/],
      [["convert", "missing.pth", "o.safetensors"], /missing\.pth: cannot read file \(ENOENT\)/],
      [["convert", `${W}/dtypes.pth`, "o.safetensors", "--layout", "hf"], /has no place in the Hugging Face ViTModel layout|the backbone has no/],
    ] as const) {
      const r = await runCli(...args);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message);
    }
  });
});

describe("any backbone in every evaluation", () => {
  const data = digitFolders();

  it("knn --weights converted.safetensors --data DIR prints top-1 and top-5 on val/ against train/ (PNG and JPEG)", async () => {
    const st = join(tmp(), "backbone.safetensors");
    await runCli("convert", `${W}/backbone.pth`, st);
    const r = await runCli("knn", "--weights", st, "--data", data, "--k", "5");
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^k-NN \(teacher of .*backbone\.safetensors, cls features, k = 5, T = 0\.07\): top-1 \d+\.\d\d%, top-5 \d+\.\d\d% on 12 images of .*\/val against 30 of .*\/train \(resize to 28×28, ImageNet mean\/std\)$/);
    // the .pth directly, and the Hugging Face file: the same weights, the same numbers
    const pth = await runCli("knn", "--weights", `${W}/backbone.pth`, "--data", data, "--k", "5");
    const hf = await runCli("knn", "--weights", `${W}/hf_backbone.safetensors`, "--data", data, "--k", "5");
    const score = (s: string) => s.match(/top-1 .*$/)![0];
    expect(score(pth.out)).toBe(score(r.out));
    expect(score(hf.out)).toBe(score(r.out));
    expect(hf.err).toMatch(/note: Hugging Face layout: renamed to the official keys/);
    // the official photo transform: shorter side to ⌊28·256/224⌋ = 32, centre crop 28
    const photo = await runCli("knn", "--weights", st, "--data", data, "--eval-transform", "imagenet", "--image-size", "28");
    expect(photo.out).toMatch(/resize the shorter side to 32, centre crop 28, ImageNet mean\/std/);
  });

  it("features gives the same CLS features for the official, the Hugging Face and the .pth file, with labels and file names", async () => {
    const d = tmp();
    const files = ["hf_backbone.safetensors", "backbone.pth", "backbone_legacy.pth"].map((f) => [f, join(d, `${f}.features.safetensors`)] as const);
    for (const [f, out] of files) {
      const r = await runCli("features", "--weights", `${W}/${f}`, "--data", data, "--out", out, "--patch-tokens");
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/train 30 images, val 12 images; 16 features each and the patch tokens/);
    }
    const [a, b, c] = files.map(([, out]) => readSafetensors(out));
    sameTensors(a.tensors, b.tensors);
    sameTensors(a.tensors, c.tensors);
    const f = a.tensors.get("train.features")!;
    expect(f.shape).toEqual([30, 16]);
    expect(a.tensors.get("val.patch_tokens")!.shape).toEqual([12, 49, 16]);
    // L2-normalised rows, as eval_knn.py dumps them
    const x = f.data as Float32Array;
    for (let r = 0; r < 30; r++) expect(Math.hypot(...x.subarray(16 * r, 16 * r + 16))).toBeCloseTo(1, 5);
    expect(Array.from(a.tensors.get("val.labels")!.data as BigInt64Array, Number)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    expect(JSON.parse(a.metadata.classes)).toEqual(["digit0", "digit1", "digit2"]);
    expect((JSON.parse(a.metadata["val.files"]) as string[])[0]).toMatch(/^val\/digit0\/\d+\.(png|jpg)$/);
    expect(a.metadata.format).toBe("dino-ref-features/1");
  });

  it("linear, attention and inspect take --weights too; a corrupt JPEG names itself, --skip-bad skips it", async () => {
    const lin = await runCli("linear", "--weights", `${W}/checkpoint.pth`, "--data", data, "--epochs", "2", "--student");
    expect(lin.code, lin.err).toBe(0);
    expect(lin.out).toMatch(/^linear probe \(student of .*checkpoint\.pth; CLS of the last 2 block\(s\), 32 features, 2 epochs\): top-1 \d+\.\d\d%/);
    const d = tmp();
    const jpg = join(d, "digit.jpg");
    writeFileSync(jpg, readFileSync(join(data, "train", "digit0", readdirSync(join(data, "train", "digit0")).find((f) => f.endsWith(".jpg"))!)));
    const att = await runCli("attention", jpg, "--weights", `${W}/hf_backbone.safetensors`, "--out", join(d, "maps"));
    expect(att.code, att.err).toBe(0);
    expect(att.out).toMatch(/digit\.jpg: \d+ pictures/);
    const ins = await runCli("inspect", "--weights", `${W}/checkpoint.pth`);
    expect(ins.out).toMatch(/checkpoint\.pth: torch zip, 77 tensors \(F32\)/);
    expect(ins.out).toMatch(/PyTorch training checkpoint, epoch 3; not weights \(left out by convert\): fp16_scaler, optimizer/);
    expect(ins.out).toMatch(/layout: official/);
    const hfIns = await runCli("inspect", `${W}/hf_backbone.safetensors`);
    expect(hfIns.out).toMatch(/layout: Hugging Face ViTModel/);
    // a corrupt JPEG
    const broken = join(data, "val", "digit1", "zz-broken.jpg");
    writeFileSync(broken, Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 0, 0xff, 0xd9]));
    try {
      const bad = await runCli("knn", "--weights", `${W}/backbone.pth`, "--data", data);
      expect(bad.code).toBe(2);
      expect(bad.err).toMatch(/^dino-ref: .*zz-broken\.jpg: not a readable JPEG file/m);
      const skip = await runCli("knn", "--weights", `${W}/backbone.pth`, "--data", data, "--skip-bad");
      expect(skip.code).toBe(0);
      expect(skip.err).toMatch(/skipping .*zz-broken\.jpg/);
      expect(skip.out).toMatch(/on 12 images/);
    } finally {
      rmSync(broken);
    }
  });

  it("asks for --data when the weights have no images of their own, and checks the folders", async () => {
    const r = await runCli("knn", "--weights", `${W}/backbone.pth`);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/is not a dino-ref training checkpoint, so it has no images of its own: give --data DIR with train\/ and val\/ class folders/);
    const noSplits = await runCli("knn", "--weights", `${W}/backbone.pth`, "--data", join(data, "train"));
    expect(noSplits.err).toMatch(/expected train\/ and val\/ folders/);
    const both = await runCli("knn", "--weights", `${W}/backbone.pth`, "--checkpoint", `${W}/backbone.pth`);
    expect(both.err).toMatch(/give --weights FILE or --checkpoint FILE \(the same option\), not both/);
    const transform = await runCli("knn", "--weights", `${W}/backbone.pth`, "--data", data, "--eval-transform", "center");
    expect(transform.err).toMatch(/--eval-transform center: expected resize or imagenet/);
  });
});

describe("train --init", () => {
  // mnist-official: patch 4 crops (28 and 12 px), as the official backbones' patch size here
  const run = ["--preset", "mnist-official", "--set", "trainLimit=32", "--set", "batchSize=16", "--steps", "2", "--no-eval"];

  it("starts from a converted official backbone: both backbones loaded, heads fresh, and the summary says so", async () => {
    const d = tmp();
    const st = join(d, "backbone.safetensors");
    await runCli("convert", `${W}/backbone.pth`, st);
    const out = join(d, "run");
    // the architecture comes from the file; the head count (not in the weights, width 16) from --set
    const r = await runCli("train", ...run, "--set", "numHeads=2", "--init", st, "--out", out);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/initialised from .*backbone\.safetensors \(backbone\): loaded student backbone \(from the file\), teacher backbone \(from the file\); fresh: student and teacher DINO heads/);
    const s = JSON.parse(readFileSync(join(out, "summary.json"), "utf8"));
    expect(s.init.kind).toBe("backbone");
    expect(s.init.loaded).toEqual(["student backbone (from the file)", "teacher backbone (from the file)"]);
    expect(s.init.fresh[0]).toMatch(/DINO heads/);
    expect(s.preset_config).toMatchObject({ embedDim: 16, depth: 2, patchSize: 4, mlpRatio: 2, globalSize: 28, numHeads: 2 });
  });

  it("fits the default preset's local crops to the file's patch size: 14 of 28 px becomes 12 for patch 4, unless --set gives one", async () => {
    const out = join(tmp(), "run");
    const r = await runCli("train", "--set", "trainLimit=32", "--set", "batchSize=16", "--steps", "1", "--no-eval", "--init", `${W}/backbone.pth`, "--out", out);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(readFileSync(join(out, "summary.json"), "utf8")).preset_config).toMatchObject({ patchSize: 4, globalSize: 28, localSize: 12 });
    const bad = await runCli("train", "--set", "localSize=14", "--steps", "1", "--no-eval", "--init", `${W}/backbone.pth`, "--out", join(tmp(), "run"));
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^dino-ref: train: crop sizes 28 and 14 must be multiples of patchSize 4$/);
  });

  it("loads exactly the file's weights into student and teacher", () => {
    const src = readInitSource(`${W}/backbone.pth`);
    const c = { ...preset("mnist-official"), ...TINY_NETWORK, ...src.architecture };
    const state = createTrainState(wasmBackend, c);
    applyInit(state, src);
    const file = readWeightsFile(`${W}/backbone.pth`).tensors;
    for (const store of [state.student, state.teacher]) {
      for (const [k, t] of file) expect(bits({ dtype: "F32", shape: t.shape, data: store.param(`backbone.${k}`).data as Float32Array })).toBe(bits(t));
    }
  });

  it("continues from an official training checkpoint: backbones, heads and centre, its architecture", async () => {
    const out = join(tmp(), "run");
    const r = await runCli("train", ...run, "--set", "numHeads=2", "--init", `${W}/checkpoint.pth`, "--out", out);
    expect(r.code, r.err).toBe(0);
    const s = JSON.parse(readFileSync(join(out, "summary.json"), "utf8"));
    expect(s.init.kind).toBe("training checkpoint");
    expect(s.init.loaded).toEqual(["student backbone (from the file's student)", "student DINO head (from the file's student)", "teacher backbone (from the file's teacher)", "teacher DINO head (from the file's teacher)", "centre"]);
    expect(s.preset_config).toMatchObject({ outDim: 32, hiddenDim: 24, bottleneckDim: 8, headLayers: 3, normLastLayer: true });
    // the same options with --resume continue the run (the architecture again from the file)
    const resumed = await runCli("train", ...run.map((x) => (x === "2" ? "3" : x)), "--set", "numHeads=2", "--init", `${W}/checkpoint.pth`, "--out", out, "--resume");
    expect(resumed.code, resumed.err).toBe(0);
    expect(resumed.out).toMatch(/resumed: the run started from .*checkpoint\.pth \(training checkpoint\); its checkpoint holds those weights/);
    expect(JSON.parse(readFileSync(join(out, "summary.json"), "utf8")).init.resumed).toBe(true);
  });

  it("names the field when a setting contradicts the file's architecture", async () => {
    const r = await runCli("train", ...run, "--set", "embedDim=32", "--init", `${W}/backbone.pth`, "--out", tmp());
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^dino-ref: train --init .*backbone\.pth: the file's embedDim is 16 but --config \/ --set give 32/);
    const heads = await runCli("train", ...run, "--set", "numHeads=3", "--init", `${W}/backbone.pth`, "--out", tmp());
    expect(heads.err).toMatch(/numHeads 3 does not divide the file's width 16; give the head count with --set numHeads=N/);
  });
});
