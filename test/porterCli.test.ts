// The porter's commands as a user meets them: `dino-ref compare` on folders, --json, --partial,
// --precision and its one-line errors; `dino-ref trace` from a weights file and an input, as a
// trace and as a case that `check` recomputes.
import { describe, expect, it, beforeAll } from "vitest";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";
import { parseSafetensors, readSafetensors, serializeSafetensors, tensor, type StTensor } from "../src/io/safetensors.js";
import { readGoldenCase } from "../src/io/golden.js";
import { runCli } from "./runCli.js";

const tmp = () => mkdtempSync(join(tmpdir(), "dino-ref-port-"));

/** The case's expected outputs as an ACTUAL file (`out.<name>`), with `edit` applied first. */
function actualOf(casePath: string, path: string, edit: (out: Map<string, StTensor>) => void = () => {}): string {
  const c = readGoldenCase(casePath);
  const out = new Map(c.outputs);
  edit(out);
  writeFileSync(path, serializeSafetensors([...out].map(([k, t]) => [`out.${k}`, t])));
  return path;
}

/** A copy of tensor `name` with element 0 moved by `delta`. */
function moved(t: StTensor, delta: number): StTensor {
  const d = Float32Array.from(t.data as Float32Array);
  d[0] += delta;
  return tensor("F32", t.shape, d);
}

describe("dino-ref compare CASES_DIR ACTUALS_DIR", () => {
  let cases: string;
  let actuals: string;
  beforeAll(() => {
    cases = tmp();
    actuals = tmp();
    mkdirSync(join(cases, "softmax"));
    mkdirSync(join(cases, "dino_loss"));
    copyFileSync("fixtures/golden/softmax/k65_t0.1.safetensors", join(cases, "softmax/k65_t0.1.safetensors"));
    copyFileSync("fixtures/golden/softmax/k17_t0.04.safetensors", join(cases, "softmax/k17_t0.04.safetensors"));
    copyFileSync("fixtures/golden/dino_loss/k65_nc4_b3_tt0.07.safetensors", join(cases, "dino_loss/k65_nc4_b3_tt0.07.safetensors"));
    // paired by relative path, or by file name at the top of ACTUALS_DIR
    mkdirSync(join(actuals, "softmax"));
    actualOf(join(cases, "softmax/k65_t0.1.safetensors"), join(actuals, "softmax/k65_t0.1.safetensors"));
    actualOf(join(cases, "softmax/k17_t0.04.safetensors"), join(actuals, "k17_t0.04.safetensors"));
    // a port that adds the centre (PyTorch wrote these numbers: fixtures/porting-bugs)
    copyFileSync("fixtures/porting-bugs/loss.center_added/dino_loss/k65_nc4_b3_tt0.07.safetensors", join(actuals, "k65_nc4_b3_tt0.07.safetensors"));
  });

  it("compares every case with its ACTUAL, names the mistake and exits 1", async () => {
    const r = await runCli("compare", cases, actuals);
    expect(r.err).toBe("");
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/k65_nc4_b3_tt0\.07\.safetensors: your numbers match: the centre added .* \[loss\.center_added\]/);
    expect(r.out).toMatch(/2 of 3 cases passed, 1 failed/);
  });

  it("--json: one object per case with verdicts, first_divergence and diagnosis", async () => {
    const r = await runCli("compare", "--json", cases, actuals);
    const report = JSON.parse(r.out) as { case: string; op: string; verdict: string; outputs: { output: string; verdict: string }[]; first_divergence: unknown; diagnosis: { id: string }[] }[];
    expect(report.map((c) => [c.op, c.verdict])).toEqual([["dino_loss", "fail"], ["softmax", "pass"], ["softmax", "pass"]]);
    expect(report[0].diagnosis[0].id).toBe("loss.center_added");
    expect(report[0].first_divergence).toBeNull();
    expect(report[1].outputs.map((o) => o.verdict)).toEqual(["pass", "pass"]);
  });

  it("a case without an ACTUAL file: an error naming it, or with --partial reported not provided", async () => {
    const fewer = tmp();
    actualOf(join(cases, "softmax/k17_t0.04.safetensors"), join(fewer, "k17_t0.04.safetensors"));
    const r = await runCli("compare", cases, fewer);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^dino-ref: compare: .* has no file for 2 case\(s\), e\.g\. dino_loss\/k65_nc4_b3_tt0\.07\.safetensors \(--partial compares the others\)$/);
    const p = await runCli("compare", "--partial", cases, fewer);
    expect(p.code).toBe(0);
    expect(p.out).toMatch(/1 of 1 cases passed, 2 not provided/);
  });

  it("--partial: outputs the ACTUAL lacks are 'not provided', the rest judged", async () => {
    const dir = tmp();
    const path = actualOf("fixtures/golden/dino_loss/k65_nc4_b3_tt0.07.safetensors", join(dir, "a.safetensors"), (o) => o.delete("grad_student"));
    const strict = await runCli("compare", "fixtures/golden/dino_loss/k65_nc4_b3_tt0.07.safetensors", path);
    expect(strict.code).toBe(2);
    expect(strict.err).toMatch(/a\.safetensors: tensor out\.grad_student is missing \(the case .* expects it; --partial compares the others\)/);
    const r = await runCli("compare", "--partial", "--json", "fixtures/golden/dino_loss/k65_nc4_b3_tt0.07.safetensors", path);
    expect(r.code).toBe(0);
    const [c] = JSON.parse(r.out) as { verdict: string; outputs: { output: string; verdict: string }[] }[];
    expect(c.verdict).toBe("pass");
    expect(c.outputs.find((o) => o.output === "grad_student")!.verdict).toBe("not provided");
  });

  it("a trace: the first divergence in forward order, in one line", async () => {
    const r = await runCli("compare", "fixtures/golden/vit_trace/p4_d24_depth3_12x20_b2.safetensors", "fixtures/porting-bugs/attention_unscaled_in_block2/vit_trace/p4_d24_depth3_12x20_b2.safetensors");
    expect(r.code).toBe(1);
    // patch_embed, tokens, 10 per block for blocks 0 and 1, then norm1 and qkv of block 2
    expect(r.out).toMatch(/first divergence: blocks\.2\.attn\.weights, max abs \S+ \(tolerance \S+ \+ \S+·\|expected\|\); the 24 outputs before it are within tolerance/);
  });

  it("--precision widens the tolerances: a float16-sized error passes as float16, not as float32", async () => {
    const dir = tmp();
    const casePath = "fixtures/golden/softmax/k65_t0.1.safetensors";
    const c = readGoldenCase(casePath);
    const [atol] = c.tolerance["out.probs"] ?? c.tolerance.default;
    const path = actualOf(casePath, join(dir, "half.safetensors"), (o) => o.set("probs", moved(o.get("probs")!, 100 * atol)));
    expect((await runCli("compare", casePath, path)).code).toBe(1);
    expect((await runCli("compare", "--precision", "float32", casePath, path)).code).toBe(1);
    const half = await runCli("compare", "--precision", "float16", casePath, path);
    expect(half.code).toBe(0);
    expect(half.out).toMatch(/tolerances for float16 computation/);
    expect((await runCli("compare", "--precision", "float8", casePath, path)).err).toMatch(/^dino-ref: --precision float8: expected float32, bfloat16, float16$/);
  });

  it("invalid input: one line, exit 2", async () => {
    const dir = tmp();
    const caseFile = "fixtures/golden/softmax/k65_t0.1.safetensors";
    expect((await runCli("compare", caseFile)).err).toMatch(/^dino-ref: compare: expected CASE ACTUAL or CASES_DIR ACTUALS_DIR, got 1 argument\(s\)$/);
    expect((await runCli("compare", caseFile, dir)).err).toMatch(/give two files \(CASE ACTUAL\) or two folders/);
    writeFileSync(join(dir, "junk.safetensors"), "not a file");
    expect((await runCli("compare", caseFile, join(dir, "junk.safetensors"))).code).toBe(2);
    const unrelated = actualOf("fixtures/golden/gelu/single.safetensors", join(dir, "gelu.safetensors"));
    expect((await runCli("compare", caseFile, unrelated)).err).toMatch(/none of the outputs of .* \(e\.g\. out\.(log_)?probs\) is in this file/);
  });
});

describe("dino-ref trace", () => {
  const CASE = "fixtures/golden/vit_trace/p8_d32_32x32_b2_head.safetensors";
  let weights: string;
  let input: string;
  let dir: string;
  beforeAll(() => {
    // the golden case's weights as a weights file with the official MultiCropWrapper keys, and its x
    dir = tmp();
    const f = readSafetensors(CASE);
    const w: [string, StTensor][] = [];
    for (const [n, t] of f.tensors) {
      if (n.startsWith("in.model.")) w.push([`backbone.${n.slice("in.model.".length)}`, t]);
      else if (n.startsWith("in.head.")) w.push([n.slice("in.".length), t]);
    }
    weights = join(dir, "weights.safetensors");
    input = join(dir, "x.safetensors");
    writeFileSync(weights, serializeSafetensors(w));
    writeFileSync(input, serializeSafetensors([["x", f.tensors.get("in.x")!]]));
  });

  it("writes every intermediate under the trace names; the trace passes the golden case (PyTorch's hooks)", async () => {
    const out = join(dir, "trace.safetensors");
    const r = await runCli("trace", "--weights", weights, "--input", input, "--out", out, "--heads", "2");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/27 intermediates \(backbone and head, depth 2, batch 2, 32×32 px\)/);
    const trace = readSafetensors(out);
    expect([...trace.tensors.keys()].slice(0, 4)).toEqual(["patch_embed", "tokens", "blocks.0.norm1", "blocks.0.attn.qkv"]);
    expect(trace.tensors.get("blocks.1.attn.weights")!.shape).toEqual([2, 2, 17, 17]);
    const c = await runCli("compare", CASE, out);
    expect(c.code).toBe(0);
  });

  it("--case writes a vit_trace case that check recomputes and that PyTorch's trace passes", async () => {
    const out = join(dir, "case.safetensors");
    expect((await runCli("trace", "--weights", weights, "--input", input, "--out", out, "--heads", "2", "--case")).code).toBe(0);
    const c = readGoldenCase(out);
    expect(c.op).toBe("vit_trace");
    expect(c.params).toMatchObject({ depth: 2, num_heads: 2, out_dim: 65, nlayers: 3 });
    expect((await runCli("check", out)).code).toBe(0);
    // the golden case's outputs (official modules with hooks, float64) as the ACTUAL of our case
    const golden = join(dir, "golden-as-actual.safetensors");
    actualOf(CASE, golden);
    expect((await runCli("compare", out, golden)).code).toBe(0);
  });

  it("--image: PNGs of one size, normalised as the official evaluation does", async () => {
    const pngs = [0, 1].map((k) => {
      const png = new PNG({ width: 32, height: 24 });
      for (let i = 0; i < png.data.length; i++) png.data[i] = (i * 7 + k * 31) % 256;
      const p = join(dir, `img${k}.png`);
      writeFileSync(p, PNG.sync.write(png));
      return p;
    });
    const out = join(dir, "img-trace.safetensors");
    const r = await runCli("trace", "--weights", weights, "--image", ...pngs, "--out", out, "--heads", "2", "--no-head");
    expect(r.code).toBe(0);
    const trace = readSafetensors(out);
    expect(trace.tensors.get("tokens")!.shape).toEqual([2, 1 + 3 * 4, 32]);
    expect(trace.tensors.has("head.logits")).toBe(false);
  });

  it("bad input: one line, exit 2", async () => {
    const err = async (...args: string[]) => (await runCli("trace", ...args)).err;
    expect(await err("--input", input, "--out", join(dir, "t.safetensors"))).toMatch(/^dino-ref: trace: --weights FILE is required$/);
    expect(await err("--weights", weights, "--out", join(dir, "t.safetensors"))).toMatch(/give either --input X\.safetensors or --image PNG\.\.\./);
    const noX = join(dir, "nox.safetensors");
    writeFileSync(noX, serializeSafetensors([["y", tensor("F32", [1], new Float32Array(1))]]));
    expect(await err("--weights", weights, "--input", noX, "--out", join(dir, "t.safetensors"))).toMatch(/nox\.safetensors: no tensor named x/);
    const flat = join(dir, "flat.safetensors");
    writeFileSync(flat, serializeSafetensors([["x", tensor("F32", [2, 32, 32], new Float32Array(2 * 32 * 32))]]));
    expect(await err("--weights", weights, "--input", flat, "--out", join(dir, "t.safetensors"))).toMatch(/tensor x has shape \[2, 32, 32\]; expected \[B, 3, H, W\]/);
    expect(await err("--weights", CASE, "--input", input, "--out", join(dir, "t.safetensors"))).toMatch(/no ViT backbone in this file/);
  });
});

describe("compare reads a trace written without the out. prefix", () => {
  it("takes the bare names when the file has no out.* tensor", async () => {
    const dir = tmp();
    const f = parseSafetensors(readFileSync("fixtures/golden/vit_trace/p4_d24_depth3_12x20_b2.safetensors"), "case");
    const bare = [...f.tensors].filter(([n]) => n.startsWith("out.")).map(([n, t]) => [n.slice(4), t] as [string, StTensor]);
    const path = join(dir, "bare.safetensors");
    writeFileSync(path, serializeSafetensors(bare));
    expect((await runCli("compare", "fixtures/golden/vit_trace/p4_d24_depth3_12x20_b2.safetensors", path)).code).toBe(0);
  });
});
