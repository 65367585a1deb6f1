// The diagnosis of `dino-ref compare` against outputs it did not compute: fixtures/porting-bugs
// holds what PyTorch gives on golden cases with one known porting mistake switched on
// (reference-tests/porting/buggy_actuals.py), and two traces of an independent float32 forward.
// Each mistake must be named first; correct outputs and unrelated wrong ones get no diagnosis.
import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { readGoldenCase, findCaseFiles } from "../src/io/golden.js";
import { readSafetensors, tensor, type StTensor } from "../src/io/safetensors.js";
import { actualOutputs, compareCase } from "../src/ops/comparison.js";
import { CATALOGUE } from "../src/ops/catalogue.js";
import { BUG_IDS } from "../src/tensor/portingBugs.js";

interface Entry {
  file: string;
  case: string;
  bug: string | null;
  first_divergence: string | null;
  case_sha256: string;
  producer: string;
  sha256: string;
  bytes: number;
}

const DIR = "fixtures/porting-bugs";
const manifest: { generator: string; generator_sha256: string; actuals: Entry[] } = JSON.parse(readFileSync(join(DIR, "MANIFEST.json"), "utf8"));
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe("fixtures/porting-bugs", () => {
  it("is what the committed script wrote from the committed golden cases (regenerate with the script otherwise)", () => {
    expect(sha256(readFileSync(manifest.generator))).toBe(manifest.generator_sha256);
    expect(findCaseFiles([DIR]).length).toBe(manifest.actuals.length);
    for (const e of manifest.actuals) {
      const bytes = readFileSync(join(DIR, e.file));
      expect({ file: e.file, sha256: sha256(bytes), bytes: bytes.length }).toEqual({ file: e.file, sha256: e.sha256, bytes: e.bytes });
      expect(sha256(readFileSync(e.case)), `${e.case} changed since ${e.file} was written`).toBe(e.case_sha256);
      expect(e.producer).toMatch(/^(torch 1\.13\.1|numpy) /);
    }
  });

  it("covers every id of the catalogue, and the catalogue covers every switch", () => {
    expect(CATALOGUE.map((b) => b.id).sort()).toEqual([...BUG_IDS].sort());
    const covered = new Set(manifest.actuals.map((e) => e.bug));
    expect(BUG_IDS.filter((id) => !covered.has(id))).toEqual([]);
  });

  for (const e of manifest.actuals) {
    it(`${e.file}: ${e.bug ? `diagnosed as ${e.bug}` : e.first_divergence ? `first divergence ${e.first_divergence}` : "passes"}`, () => {
      const r = compareCase(readGoldenCase(e.case), actualOutputs(readSafetensors(join(DIR, e.file))), e.file);
      if (e.bug !== null) {
        expect(r.verdict).toBe("fail");
        expect(r.diagnosis.map((d) => d.id)[0]).toBe(e.bug);
      } else if (e.first_divergence !== null) {
        expect(r.verdict).toBe("fail");
        expect(r.firstDivergence?.output).toBe(e.first_divergence);
        // every output before it passes: block 2's attention is the first thing the dropped scale changes
        const i = r.outputs.findIndex((o) => o.output === e.first_divergence);
        expect(r.firstDivergence?.before).toBe(i);
        expect(r.diagnosis).toEqual([]);
      } else {
        expect(r.verdict).toBe("pass");
        expect(r.diagnosis).toEqual([]);
      }
    });
  }
});

/** The case's outputs with one element of `name` moved by `factor` times its tolerance. */
function nudged(file: string, name: string, factor: number): Map<string, StTensor> {
  const c = readGoldenCase(file);
  const out = new Map(c.outputs);
  const t = c.outputs.get(name)!;
  const data = Float32Array.from(t.data as Float32Array);
  const [atol, rtol] = c.tolerance[`out.${name}`] ?? c.tolerance.default;
  const i = Math.floor(data.length / 2);
  data[i] += factor * (atol + rtol * Math.abs(data[i]));
  out.set(name, tensor("F32", t.shape, data));
  return out;
}

describe("no diagnosis for numbers no catalogued mistake explains", () => {
  const cases: [string, string][] = [
    ["fixtures/golden/dino_loss/k65_nc4_b3_tt0.07.safetensors", "grad_student"],
    ["fixtures/golden/vit_forward/p4_d24_12x20_b2.safetensors", "cls"],
    ["fixtures/golden/adamw_step/step1000.safetensors", "param.backbone.norm.weight"],
    ["fixtures/golden/dino_train_steps/nll_unfrozen_clip.safetensors", "center"],
  ];
  for (const [file, name] of cases) {
    it(`${file}: its own outputs pass without diagnosis; one element of ${name} moved by 50 tolerances fails without one`, () => {
      const c = readGoldenCase(file);
      const own = compareCase(c, c.outputs, file);
      expect(own.verdict).toBe("pass");
      expect(own.diagnosis).toEqual([]);
      const wrong = compareCase(c, nudged(file, name, 50), file);
      expect(wrong.verdict).toBe("fail");
      expect(wrong.diagnosis).toEqual([]);
    });
  }
});
