// The ViT ops: every golden case under fixtures/golden/{interpolate_pos_encoding,vit_forward,
// vit_backward} (when present) with both kernel sets, plus synthetic cases: wasm against the ts
// oracles, and errors that name the missing tensor.
import { NO_BUGS } from "../tensor/portingBugs.js";
import { describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { vitOps } from "./vitOps.js";
import { OpArgs } from "./args.js";
import { compareOutputs } from "./registry.js";
import { findCaseFiles, readGoldenCase } from "../io/golden.js";
import { tensor, type StTensor } from "../io/safetensors.js";
import { ts32Backend, wasmBackend } from "../kernels/backend.js";
import { vitConfig } from "../model/vitConfig.js";
import { vitParamSpecs } from "../model/vitParams.js";
import { Rng } from "../tensor/rng.js";
import { DinoRefError } from "../tensor/errors.js";

const ops = new Map(vitOps);

for (const op of ["interpolate_pos_encoding", "vit_forward", "vit_backward"]) {
  const dir = join("fixtures/golden", op);
  describe.skipIf(!existsSync(dir))(`golden ${dir}`, () => {
    const files = existsSync(dir) ? findCaseFiles([dir]) : [];
    for (const kernels of [wasmBackend, ts32Backend]) {
      for (const file of files) {
        it(`${file} (${kernels.name})`, () => {
          const c = readGoldenCase(file);
          expect(c.op).toBe(op);
          const actual = ops.get(op)!(new OpArgs(c.op, c.path, c.inputs, c.params), kernels, NO_BUGS);
          const failed = compareOutputs(c, actual).filter((o) => !o.pass);
          expect(failed, failed.map((o) => `${o.output}: ${o.problem ?? `max abs ${o.maxAbsError}, max rel ${o.maxRelError}, worst at [${o.worstIndex}]`}`).join("; ")).toEqual([]);
        });
      }
    }
  });
}

describe("vit ops on a synthetic case", () => {
  const params = { patch_size: 4, embed_dim: 8, depth: 2, num_heads: 2, mlp_ratio: 4, qkv_bias: true };
  const cfg = vitConfig({ patchSize: 4, embedDim: 8, depth: 2, numHeads: 2, imgSize: 12 });
  const [B, H, W] = [2, 8, 13];
  const r = new Rng(5, 95);
  const rand = (shape: readonly number[], s = 1): StTensor => tensor("F32", shape, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => s * r.normal()));
  const inputs = new Map<string, StTensor>();
  for (const s of vitParamSpecs(cfg)) inputs.set(`model.${s.name}`, rand(s.shape, 0.3));
  inputs.set("images", rand([B, 3, H, W]));
  inputs.set("grad_cls", rand([B, 8]));

  it("vit_backward: wasm kernels agree with the ts oracles; every backbone key has a gradient", () => {
    const run = (k: typeof ts32Backend) => ops.get("vit_backward")!(new OpArgs("vit_backward", "synthetic", inputs, params), k, NO_BUGS);
    const a = run(wasmBackend);
    const b = run(ts32Backend);
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    for (const s of vitParamSpecs(cfg)) expect(a.has(`grad.model.${s.name}`)).toBe(true);
    expect(a.get("last_attn")!.shape).toEqual([B, 2, 7, 7]);
    expect(a.get("grad_images")!.shape).toEqual([B, 3, H, W]);
    for (const [name, t] of a) {
      const u = b.get(name)!.data as Float32Array;
      const scale = Array.from(u).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      (t.data as Float32Array).forEach((v, i) => expect(Math.abs(v - u[i]), name).toBeLessThanOrEqual(1e-4 * (scale + Math.abs(u[i]))));
    }
  });

  it("interpolate_pos_encoding returns [1, 1 + rows·cols, D]", () => {
    const args = new OpArgs("interpolate_pos_encoding", "synthetic", new Map([["pos_embed", rand([1, 10, 4])]]), { patch_size: 8, height: 40, width: 16 });
    expect(ops.get("interpolate_pos_encoding")!(args, wasmBackend, NO_BUGS).get("pos_embed")!.shape).toEqual([1, 11, 4]);
  });

  it("a missing parameter is named", () => {
    const partial = new Map(inputs);
    partial.delete("model.blocks.1.attn.proj.weight");
    const run = () => ops.get("vit_forward")!(new OpArgs("vit_forward", "case.safetensors", partial, params), wasmBackend, NO_BUGS);
    expect(run).toThrow(DinoRefError);
    expect(run).toThrow(/case\.safetensors: tensor in\.model\.blocks\.1\.attn\.proj\.weight is missing/);
  });

  it("wrong image channels are named", () => {
    const bad = new Map(inputs);
    bad.set("images", rand([B, 4, H, W]));
    expect(() => ops.get("vit_forward")!(new OpArgs("vit_forward", "case.safetensors", bad, params), ts32Backend, NO_BUGS)).toThrow(/in\.images has shape \[2, 4, 8, 13\], expected \[B, 3, H, W\]/);
  });
});
