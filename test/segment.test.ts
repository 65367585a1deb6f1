// `dino-ref dataset` and `dino-ref segment` as a user meets them, and the one-line errors for bad
// inputs: a file that is not a PNG, a checkpoint whose weights do not match its architecture, a
// mask of another size than its image; images off the patch grid are cropped and the output says so.
import { describe, expect, it, beforeAll } from "vitest";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, readdirSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runTraining } from "../src/train/run.js";
import { preset, type TrainConfig } from "../src/train/config.js";
import { parseSafetensors, serializeSafetensors } from "../src/io/safetensors.js";
import { encodePng, readPng } from "../src/data/png.js";
import { makeImage } from "../src/data/image.js";
import { runCli } from "./runCli.js";
import { TINY_NETWORK } from "./tinyNetwork.js";

const tmp = () => mkdtempSync(join(tmpdir(), "dino-ref-seg-"));

const run = runCli;

const small: TrainConfig = {
  ...preset("clutter-small"),
  trainLimit: 32,
  batchSize: 16,
  ...TINY_NETWORK,
  seed: 3,
};

let checkpoint: string;
let data: string;
beforeAll(async () => {
  const d = tmp();
  runTraining(small, { outDir: d, steps: 1, skipEval: true });
  checkpoint = join(d, "checkpoint.safetensors");
  data = join(tmp(), "clutter");
  const r = await run("dataset", "mnist-clutter", "--out", data, "--seed", "3", "--count", "20");
  expect(r.code).toBe(0);
});

/** The first image and mask files of a mask folder. */
function firstFiles(dir: string): { image: string; mask: string } {
  const name = readdirSync(join(dir, "images", "0")).sort()[0];
  return { image: join(dir, "images", "0", name), mask: join(dir, "masks", "0", name) };
}

/** A copy of the written data set with `edit` applied. */
function editedData(edit: (files: { image: string; mask: string }) => void): string {
  const copy = join(tmp(), "copy");
  for (const kind of ["images", "masks"]) {
    for (const cls of readdirSync(join(data, kind))) {
      for (const f of readdirSync(join(data, kind, cls))) {
        const to = join(copy, kind, cls);
        if (!existsSync(to)) mkdirSync(to, { recursive: true });
        writeFileSync(join(to, f), readFileSync(join(data, kind, cls, f)));
      }
    }
  }
  edit(firstFiles(copy));
  return copy;
}

describe("dino-ref dataset", () => {
  it("writes images and masks per class, two of each digit for --count 20, and what wrote them", () => {
    expect(readdirSync(join(data, "images")).sort()).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    for (const cls of ["0", "9"]) expect(readdirSync(join(data, "masks", cls))).toEqual(readdirSync(join(data, "images", cls)));
    expect(readdirSync(join(data, "images", "4"))).toHaveLength(2);
    const { image, mask } = firstFiles(data);
    expect([readPng(image).width, readPng(mask).height]).toEqual([32, 32]);
    const about = JSON.parse(readFileSync(join(data, "dataset.json"), "utf8"));
    expect([about.dataset, about.seed, about.split, about.count]).toEqual(["mnist-clutter", 3, "test", 20]);
  });

  it("is deterministic: the same seed writes the same bytes", async () => {
    const again = join(tmp(), "again");
    await run("dataset", "mnist-clutter", "--out", again, "--seed", "3", "--count", "20");
    const { image, mask } = firstFiles(data);
    expect(readFileSync(image.replace(data, again)).equals(readFileSync(image))).toBe(true);
    expect(readFileSync(mask.replace(data, again)).equals(readFileSync(mask))).toBe(true);
  });

  it("names the known data sets for an unknown one", async () => {
    const r = await run("dataset", "imagenet", "--out", tmp());
    expect([r.code, r.err]).toEqual([2, "dino-ref: unknown data set 'imagenet' (data sets with masks: mnist-clutter)"]);
  });
});

describe("dino-ref segment", () => {
  it("prints the Jaccard per head, the best head and the head mean, beside the same net at init, and writes a figure", async () => {
    const figure = join(tmp(), "fig.png");
    const r = await run("segment", "--checkpoint", checkpoint, "--count", "20", "--figure", figure, "--figure-count", "3");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/20 held-out images of mnist-clutter \(seed 3\); masks keep 0\.6/);
    expect(r.out).toMatch(/head 0\s+head 1\s+best head\s+mean of heads\s+head-mean map\s+best head, chance/);
    expect(r.out).toMatch(/trained teacher\s+0\.\d{3}\s+0\.\d{3}\s+0\.\d{3} \([01]\)/);
    expect(r.out).toMatch(/same net at init \(seed 3\)\s+0\.\d{3}/);
    expect(r.out).toMatch(/references: best mask of whole 4×4 patches 0\.\d{3}; the whole image 0\.\d{3}/);
    // 3 rows of 6 tiles, 32 px zoomed 3× to 96, 4-px gaps
    expect([readPng(figure).width, readPng(figure).height]).toEqual([6 * 96 + 5 * 4, 3 * 96 + 2 * 4]);
  });

  it("gives the same numbers on the PNGs that `dataset` wrote as on the generated images", async () => {
    const built = await run("segment", "--checkpoint", checkpoint, "--count", "20");
    const folder = await run("segment", "--checkpoint", checkpoint, "--data", data);
    const table = (s: string) => s.split("\n").slice(1);
    expect(table(folder.out)).toEqual(table(built.out));
  });

  it("crops images off the patch grid (and their masks) as the official script does, and says so", async () => {
    const dir = editedData(({ image, mask }) => {
      // 34×34: the 32×32 image in the top-left, 2 px of border
      for (const [path, grey] of [[image, false], [mask, true]] as const) {
        const src = readPng(path);
        const out = makeImage(34, 34);
        for (let y = 0; y < 32; y++) out.data.set(src.data.subarray(y * 96, (y + 1) * 96), y * 34 * 3);
        writeFileSync(path, encodePng(grey ? { width: 34, height: 34, channels: 1, data: Uint8Array.from({ length: 34 * 34 }, (_, p) => out.data[3 * p]) } : out));
      }
    });
    const r = await run("segment", "--checkpoint", checkpoint, "--data", dir);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^note: .*images\/0\/\d+\.png: cropped from 34×34 to 32×32 px \(a multiple of the patch size 4\), top-left kept \(its mask likewise\)$/);
    const plain = await run("segment", "--checkpoint", checkpoint, "--data", data);
    expect(r.out.split("\n").slice(1)).toEqual(plain.out.split("\n").slice(1));
  });

  it("one line naming the file: an image or a mask that is not a PNG, a mask of another size", async () => {
    const notPng = editedData(({ image }) => writeFileSync(image, "JFIF not a png"));
    let r = await run("segment", "--checkpoint", checkpoint, "--data", notPng);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^dino-ref: \S+images\/0\/\d+\.png: not a readable PNG file: the first 8 bytes are not the PNG signature \(file has 14 bytes\)$/);
    const badMask = editedData(({ mask }) => writeFileSync(mask, ""));
    r = await run("segment", "--checkpoint", checkpoint, "--data", badMask);
    expect(r.err).toMatch(/^dino-ref: \S+masks\/0\/\d+\.png: not a readable PNG file/);
    const smallMask = editedData(({ mask }) => writeFileSync(mask, encodePng({ width: 28, height: 28, channels: 1, data: new Uint8Array(784) })));
    r = await run("segment", "--checkpoint", checkpoint, "--data", smallMask);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^dino-ref: \S+masks\/0\/\d+\.png: the mask is 28×28 px but its image \S+ is 32×32 px; expected the same size$/);
    expect(r.err.split("\n")).toHaveLength(1);
  });

  it("one line for a checkpoint whose weights do not match its recorded architecture, or a file without a ViT", async () => {
    const f = parseSafetensors(readFileSync(checkpoint), checkpoint);
    const config = JSON.parse(f.metadata.config);
    f.metadata.config = JSON.stringify({ ...config, embedDim: 32, numHeads: 4 });
    const other = join(tmp(), "other.safetensors");
    writeFileSync(other, serializeSafetensors(f.tensors, f.metadata));
    for (const argv of [["segment", "--checkpoint", other, "--count", "2"], ["attention", firstFiles(data).image, "--checkpoint", other, "--out", tmp()]]) {
      const r = await run(...argv);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/^dino-ref: \S+other\.safetensors: the weights have embedDim 16 but the checkpoint's config says 32 \(the weights and the recorded config do not match\)$/);
      expect(r.err.split("\n")).toHaveLength(1);
    }
    const noVit = join(tmp(), "empty.safetensors");
    writeFileSync(noVit, serializeSafetensors([]));
    const r = await run("segment", "--checkpoint", noVit);
    expect(r.err).toMatch(/^dino-ref: \S+empty\.safetensors: no ViT backbone in this file/);
  });
});

describe("dino-ref attention with bad inputs", () => {
  it("one line naming a file that is not a PNG", async () => {
    const notPng = join(tmp(), "photo.png");
    writeFileSync(notPng, "GIF89a...");
    const r = await run("attention", notPng, "--checkpoint", checkpoint, "--out", tmp());
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^dino-ref: \S+photo\.png: not a readable PNG file: the first 8 bytes are not the PNG signature \(file has 9 bytes\)$/);
  });
});
