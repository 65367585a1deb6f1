// The CLI as a user meets it: exit codes, report rows, one-line errors without stack traces.
import { describe, expect, it, beforeAll } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { parseSafetensors, serializeSafetensors, readSafetensors } from "../src/io/safetensors.js";
import { readGoldenCase } from "../src/io/golden.js";
import { runCase, registry, CONTRACT_OPS } from "../src/ops/registry.js";
import { runCli } from "./runCli.js";

const GOLDEN = "fixtures/golden";

const run = runCli;

/** The first case file of an op in the committed fixtures. */
function firstCase(op: string): string {
  const dir = join(GOLDEN, op);
  return join(dir, readdirSync(dir).filter((f) => f.endsWith(".safetensors")).sort()[0]);
}

/** A copy of `path` in a temp folder with `edit` applied to its parsed contents. */
function editedCopy(path: string, edit: (f: ReturnType<typeof parseSafetensors>) => void, name = "edited.safetensors"): string {
  const f = parseSafetensors(readFileSync(path), path);
  edit(f);
  const out = join(mkdtempSync(join(tmpdir(), "dino-ref-")), name);
  writeFileSync(out, serializeSafetensors(f.tensors, f.metadata));
  return out;
}

describe("dino-ref check", () => {
  it("passes on the committed golden cases", async () => {
    const r = await run("check", GOLDEN);
    expect(r.err).toBe("");
    expect(r.out).not.toMatch(/FAIL/);
    expect(r.code).toBe(0);
  });

  it("fails with a readable row and exit 1 when one number of a fixture is changed", async () => {
    const path = editedCopy(firstCase("softmax"), (f) => {
      const probs = f.tensors.get("out.probs")!.data as Float32Array;
      const copy = probs.slice();
      copy[copy.length - 1] += 0.01;
      f.tensors.get("out.probs")!.data = copy;
    });
    const r = await run("check", path);
    expect(r.code).toBe(1);
    const shape = readSafetensors(path).tensors.get("out.probs")!.shape;
    const last = `[${shape.map((d) => d - 1).join(", ")}]`;
    expect(r.out).toMatch(new RegExp(`softmax\\s+probs\\s+.*FAIL \\(1 outside, worst at \\${last.slice(0, -1)}\\]\\)`));
    expect(r.out).toMatch(/log_probs\s+.*PASS/);
  });

  it("rejects an op outside the contract with one line and exit 2", async () => {
    const path = editedCopy(firstCase("softmax"), (f) => (f.metadata.op = "frobnicate"));
    const r = await run("check", path);
    expect(r.code).toBe(2);
    expect(r.err.split("\n")).toHaveLength(1);
    expect(r.err).toMatch(/^dino-ref: .*edited\.safetensors: op 'frobnicate' is not in the dino-golden\/1 contract/);
  });

  it("names a missing input tensor and a wrong shape", async () => {
    const missing = editedCopy(firstCase("softmax"), (f) => f.tensors.delete("in.logits"));
    expect((await run("check", missing)).err).toMatch(/tensor in\.logits is missing/);
    const wrongRank = editedCopy(firstCase("softmax"), (f) => {
      const t = f.tensors.get("in.logits")!;
      t.shape = [t.data.length];
    });
    const r = await run("check", wrongRank);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/tensor in\.logits has shape \[\d+\], expected 2 dimensions \[R, K\]/);
  });

  it("rejects a truncated file with exit 2, naming it", async () => {
    const bytes = readFileSync(firstCase("softmax"));
    const path = join(mkdtempSync(join(tmpdir(), "dino-ref-")), "truncated.safetensors");
    writeFileSync(path, bytes.subarray(0, bytes.length - 3));
    const r = await run("check", path);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^dino-ref: .*truncated\.safetensors: not a valid safetensors file/);
  });

  it("rejects a missing path and bad arguments with exit 2", async () => {
    expect((await run("check", "no/such/folder")).err).toMatch(/^dino-ref: no\/such\/folder: no such file or folder$/);
    expect((await run("check")).code).toBe(2);
    expect((await run("check", "--frob", GOLDEN)).err).toMatch(/^dino-ref: Unknown option '--frob'/);
    expect((await run("frob")).err).toMatch(/unknown command 'frob'/);
  });
});

describe("dino-ref compare", () => {
  let casePath: string;
  let actualPath: string;
  beforeAll(() => {
    casePath = firstCase("softmax");
    const outputs = runCase(readGoldenCase(casePath));
    actualPath = join(mkdtempSync(join(tmpdir(), "dino-ref-")), "actual.safetensors");
    writeFileSync(actualPath, serializeSafetensors([...outputs].map(([k, t]) => [`out.${k}`, t])));
  });

  it("passes when another implementation's outputs match the case", async () => {
    const r = await run("compare", casePath, actualPath);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/probs\s+.*PASS/);
  });

  it("exits 2 naming the tensor when the actual file lacks an output", async () => {
    const partial = editedCopy(actualPath, (f) => f.tensors.delete("out.log_probs"));
    const r = await run("compare", casePath, partial);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/edited\.safetensors: tensor out\.log_probs is missing/);
  });
});

describe("the installed command", () => {
  it("prints one line and no stack trace for a user mistake", () => {
    const r = spawnSync(process.execPath, ["bin/dino-ref.js", "check", "no/such/file.safetensors"], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/);
  });
});

describe("the op registry", () => {
  it("implements every op of the dino-golden/1 contract", () => {
    expect(CONTRACT_OPS.filter((op) => !registry.has(op))).toEqual([]);
  });
});

describe("dino-ref inspect", () => {
  /** The backbone weights of a vit_forward case, written as an official DDP file (module.backbone.<key>). */
  function officialStyleWeights(drop?: string): string {
    const c = parseSafetensors(readFileSync(firstCase("vit_forward")), "case");
    const entries = [...c.tensors].filter(([k]) => k.startsWith("in.model.") && k !== `in.model.${drop}`).map(([k, t]) => [`module.backbone.${k.slice(9)}`, t] as [string, typeof t]);
    const out = join(mkdtempSync(join(tmpdir(), "dino-ref-")), "official.safetensors");
    writeFileSync(out, serializeSafetensors(entries));
    return out;
  }

  it("infers the architecture of official-style weights and finds no missing or unexpected keys", async () => {
    const r = await run("inspect", officialStyleWeights());
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/custom ViT: patch \d+, width \d+, depth \d+/);
    expect(r.out).toMatch(/parameters: [\d,]+, fingerprint [0-9a-f]{16}/);
    expect(r.out).toMatch(/missing keys: none/);
    expect(r.out).toMatch(/unexpected keys: none/);
  });

  it("names a missing key with its expected shape", async () => {
    const r = await run("inspect", officialStyleWeights("norm.bias"));
    expect(r.out).toMatch(/missing keys: norm\.bias \[\d+\]/);
  });

  it("describes a golden case", async () => {
    const r = await run("inspect", firstCase("softmax"));
    expect(r.out).toMatch(/golden case \(dino-golden\/1\): op softmax/);
  });
});
