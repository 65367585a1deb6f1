// Changing a run from the command line as a CI job does: `--set KEY=VALUE`, `--config FILE.json`
// and `--no-eval`, every value checked against the config table, every mistake one line.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "./runCli.js";
import { trainConfigFrom } from "../src/cli/train.js";
import { preset, PRESETS } from "../src/train/config.js";
import { CONFIG_FIELDS, CONFIG_KEYS, parseSetting, partialConfig, validateConfig } from "../src/train/configCheck.js";
import { DinoRefError } from "../src/tensor/errors.js";

const tmp = () => mkdtempSync(join(tmpdir(), "dino-ref-config-"));

describe("the config table", () => {
  it("covers every field of every preset, and every preset passes it", () => {
    for (const name of Object.keys(PRESETS)) {
      const c = preset(name);
      expect(Object.keys(c).sort()).toEqual([...CONFIG_KEYS].sort());
      validateConfig(c, name);
    }
  });

  it("round-trips every preset value through --set KEY=VALUE", () => {
    const c = preset("mnist-tiny");
    for (const key of CONFIG_KEYS) {
      const v = c[key];
      const text = Array.isArray(v) ? v.join(",") : String(v);
      if (CONFIG_FIELDS[key].kind === "text" && text === "") continue;
      expect(parseSetting(`${key}=${text}`)).toEqual([key, v]);
    }
  });

  it("refuses any value outside a field's bounds, with the key named (property)", () => {
    fc.assert(
      fc.property(fc.constantFrom(...CONFIG_KEYS), fc.oneof(fc.double(), fc.string(), fc.boolean(), fc.constant(null), fc.array(fc.double(), { maxLength: 3 })), (key, value) => {
        let accepted = true;
        try {
          partialConfig({ [key]: value }, "test.json");
        } catch (e) {
          accepted = false;
          expect(e).toBeInstanceOf(DinoRefError);
          expect((e as Error).message).toContain(`config ${key} = `);
          expect((e as Error).message.split("\n")).toHaveLength(1);
        }
        // what is accepted has the field's type
        const kind = CONFIG_FIELDS[key].kind;
        if (accepted) {
          if (kind === "integer") expect(Number.isSafeInteger(value)).toBe(true);
          if (kind === "number") expect(Number.isFinite(value)).toBe(true);
          if (kind === "boolean") expect(typeof value).toBe("boolean");
          if (kind === "range") expect(Array.isArray(value) && value.length === 2).toBe(true);
        }
      }),
    );
  });

  it("applies the preset, then --config, then each --set in order, then --seed", () => {
    const dir = tmp();
    const file = join(dir, "c.json");
    writeFileSync(file, JSON.stringify({ lr: 0.02, batchSize: 16, centering: false }));
    const c = trainConfigFrom({ preset: "mnist-tiny", config: file, set: ["batchSize=32", "lr=0.03", "localScale=0.1,0.3", "lr=0.04"], seed: "5" });
    expect({ lr: c.lr, batchSize: c.batchSize, centering: c.centering, localScale: c.localScale, seed: c.seed, depth: c.depth }).toEqual({ lr: 0.04, batchSize: 32, centering: false, localScale: [0.1, 0.3], seed: 5, depth: 4 });
  });
});

describe("dino-ref train --set / --config / --no-eval", () => {
  it("runs 3 steps without evaluation and records the changed field and that no evaluation ran", async () => {
    const out = tmp();
    // mnist-tiny's own batch size is 32: 16 shows that --set reached the run
    const r = await runCli("train", "--preset", "mnist-tiny", "--steps", "3", "--no-eval", "--set", "batchSize=16", "--out", out);
    expect(r.code).toBe(0);
    const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8"));
    expect(summary.preset_config.batchSize).toBe(16);
    expect(summary.evaluation).toBe("none (--no-eval)");
    expect(summary.steps).toBe(3);
    expect("knn_top1" in summary).toBe(false);
    expect(existsSync(join(out, "attention"))).toBe(false);
    expect(r.out).toMatch(/no evaluation \(--no-eval\)/);
  });

  it("answers a wrong key, value or file in one line with exit 2", async () => {
    const dir = tmp();
    const notJson = join(dir, "bad.json");
    writeFileSync(notJson, "{ lr: 1 ");
    const array = join(dir, "array.json");
    writeFileSync(array, "[1, 2]");
    const wrongType = join(dir, "type.json");
    writeFileSync(wrongType, JSON.stringify({ depth: "four" }));
    const cases: [string[], RegExp][] = [
      [["--set", "nosuchfield=1"], /^dino-ref: --set: unknown config key 'nosuchfield' \(known: dataset, .*seed\)$/],
      [["--set", "lr"], /^dino-ref: --set lr: expected KEY=VALUE/],
      [["--set", "depth=2.5"], /^dino-ref: --set depth=2\.5: expected an integer in \[1, 1024\]$/],
      [["--set", "lr=-1"], /^dino-ref: --set lr=-1: expected a number > 0$/],
      [["--set", "localScale=0.5,0.1"], /^dino-ref: --set localScale=0\.5,0\.1: expected two numbers \[min, max\]/],
      [["--set", "dataset=imagenet"], /^dino-ref: --set dataset=imagenet: expected one of mnist, mnist-clutter, folder$/],
      [["--set", "__proto__=1"], /^dino-ref: --set: unknown config key '__proto__'/],
      [["--set", "embedDim=30"], /^dino-ref: train: embedDim 30 is not divisible by numHeads 4$/],
      [["--config", join(dir, "missing.json")], /^dino-ref: --config \S+missing\.json: cannot read file \(ENOENT\)$/],
      [["--config", notJson], /^dino-ref: --config \S+bad\.json: not valid JSON/],
      [["--config", array], /^dino-ref: \S+array\.json: expected a JSON object of config keys \(got an array\)$/],
      [["--config", wrongType], /^dino-ref: \S+type\.json: config depth = "four"; expected an integer in \[1, 1024\]$/],
    ];
    for (const [args, expected] of cases) {
      const r = await runCli("train", "--out", join(dir, "run"), "--steps", "1", ...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err, args.join(" ")).toMatch(expected);
      expect(r.err.split("\n"), args.join(" ")).toHaveLength(1);
    }
    expect(existsSync(join(dir, "run"))).toBe(false);
  });
});
