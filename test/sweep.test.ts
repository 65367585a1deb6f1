// `dino-ref sweep`: the grid syntax, every point checked before the first run, the table of a small
// sweep, and a finished run reused when the sweep runs again.
import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gridPoints, parseGridAxis } from "../src/train/sweep.js";
import { DinoRefError } from "../src/tensor/errors.js";
import { TINY_NETWORK } from "./tinyNetwork.js";
import { runCli } from "./runCli.js";

describe("sweep grids", () => {
  it("reads plain values, bracketed ranges and keys set together, and multiplies the axes", () => {
    expect(parseGridAxis("lr=0.005,0.01")).toEqual({ keys: ["lr"], values: [["0.005"], ["0.01"]] });
    expect(parseGridAxis("localScale=[0.05,0.4],[0.2,0.5]").values).toEqual([["[0.05,0.4]"], ["[0.2,0.5]"]]);
    const tied = parseGridAxis("patchSize/localSize=4/12,7/14");
    expect(tied.keys).toEqual(["patchSize", "localSize"]);
    expect(gridPoints([parseGridAxis("lr=1,2"), tied])).toEqual([
      ["lr=1", "patchSize=4", "localSize=12"], ["lr=1", "patchSize=7", "localSize=14"],
      ["lr=2", "patchSize=4", "localSize=12"], ["lr=2", "patchSize=7", "localSize=14"],
    ]);
    expect(gridPoints([])).toEqual([[]]);
  });

  it("refuses an unknown key, a bad value or a value with the wrong number of parts, in one line", () => {
    for (const bad of ["lrate=1,2", "lr=0.01,-1", "patchSize/localSize=4/12,7", "lr", "augmentation=digits,mirror"]) {
      expect(() => parseGridAxis(bad)).toThrow(DinoRefError);
      try {
        parseGridAxis(bad);
      } catch (e) {
        expect((e as Error).message.split("\n")).toHaveLength(1);
      }
    }
  });
});

describe("dino-ref sweep", () => {
  const tiny = Object.entries({ ...TINY_NETWORK, trainLimit: 48, batchSize: 16 }).flatMap(([k, v]) => ["--set", `${k}=${v}`]);

  it("writes one row per point with the k-NN gain over init, and reuses finished runs", async () => {
    const out = mkdtempSync(join(tmpdir(), "dino-ref-sweep-"));
    const args = ["sweep", ...tiny, "--set", "knnFeatures=cls+avgpool", "--set", "knnK=5", "--grid", "lr=0.004,0.008", "--steps", "2", "--eval-limit", "400", "--out", out];
    const first = await runCli(...args);
    expect(first.code).toBe(0);
    const json = JSON.parse(readFileSync(join(out, "sweep.json"), "utf8"));
    expect(json.rows.map((r: { settings: string[] }) => r.settings)).toEqual([["lr=0.004"], ["lr=0.008"]]);
    for (const r of json.rows) {
      expect(r.steps).toBe(2);
      expect(r.evalImages).toBe(400);
      expect(r.gainTeacher).toBeCloseTo(r.teacher - r.init, 10);
      expect(r.teacherEntropy).toBeGreaterThan(0);
    }
    expect(readFileSync(join(out, "sweep.md"), "utf8")).toContain("| 02_lr=0.008 | lr=0.008 | 2 |");
    const again = await runCli(...args);
    expect(again.err).toMatch(/run 2\/2: 02_lr=0.008 \(finished before: reused\)/);
    expect(JSON.parse(readFileSync(join(out, "sweep.json"), "utf8")).rows.map((r: { teacher: number }) => r.teacher)).toEqual(json.rows.map((r: { teacher: number }) => r.teacher));
  });

  it("checks every point before the first run", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "dino-ref-sweep-")), "s");
    const r = await runCli("sweep", ...tiny, "--grid", "patchSize=7,5", "--steps", "1", "--no-eval", "--out", out);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^dino-ref: sweep point patchSize=5: crop sizes 28 and 14 must be multiples of patchSize 5$/);
    expect(existsSync(out)).toBe(false);
  });

  it("scores the teacher's attention masks against the ground truth on mnist-clutter", async () => {
    const out = mkdtempSync(join(tmpdir(), "dino-ref-sweep-"));
    const r = await runCli("sweep", "--preset", "clutter-small", ...tiny, "--steps", "1", "--no-eval", "--segment-count", "20", "--out", out);
    expect(r.code).toBe(0);
    const [row] = JSON.parse(readFileSync(join(out, "sweep.json"), "utf8")).rows;
    expect(row.segmentation.images).toBe(20);
    for (const v of [row.segmentation.best, row.segmentation.chance]) expect(v).toBeGreaterThan(0);
    expect(readFileSync(join(out, "sweep.md"), "utf8")).toMatch(/\| best head \(chance\) \| head-mean map \|/);
  });
});
