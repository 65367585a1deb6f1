// The dino_head op: its outputs (grads only for trainable keys) on synthetic cases against the
// float64 head, with both kernel sets; every case in fixtures/{golden,external}/dino_head (when
// present) through the op with the wasm and ts kernels; and errors that name the tensor at fault.
import { NO_BUGS } from "../tensor/portingBugs.js";
import { describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { headOps } from "./headOps.js";
import { OpArgs } from "./args.js";
import { compareOutputs } from "./registry.js";
import { findCaseFiles, readGoldenCase } from "../io/golden.js";
import { tensor, type StTensor } from "../io/safetensors.js";
import { ts32Backend, wasmBackend } from "../kernels/backend.js";
import { ts64Backend } from "../kernels/backend.js";
import { HostParams } from "../model/params.js";
import { dinoHeadBackward, dinoHeadForward, dinoHeadParamSpecs, initDinoHead, type DinoHeadConfig } from "../model/dinoHead.js";
import { Rng, STREAM } from "../tensor/rng.js";
import { DinoRefError } from "../tensor/errors.js";
import { U32 } from "../../test/compare.js";

const op = new Map(headOps).get("dino_head")!;
const GOLDEN_DIRS = ["fixtures/golden/dino_head", "fixtures/external/dino_head"];

interface Synthetic {
  inputs: Map<string, StTensor>;
  params: Record<string, unknown>;
  cfg: Required<Omit<DinoHeadConfig, "inDim">> & { inDim: number };
  R: number;
}

/** A case's inputs: an initialised head (g moved off 1 when trainable), x and grad_y. */
function synthetic(nlayers: number, normLastLayer: boolean, R = 5): Synthetic {
  const cfg = { inDim: 13, outDim: 23, hiddenDim: 19, bottleneckDim: 11, nlayers, normLastLayer };
  const head = new HostParams(dinoHeadParamSpecs(cfg), Float32Array);
  initDinoHead(head, cfg, new Rng(3, STREAM.init));
  const rng = new Rng(5, 99);
  if (!normLastLayer) for (const g of [head.param("last_layer.weight_g").data]) for (let i = 0; i < g.length; i++) g[i] = rng.uniformIn(0.5, 2);
  const inputs = new Map<string, StTensor>();
  for (const [name, t] of head.params) inputs.set(`head.${name}`, tensor("F32", t.shape, t.data as Float32Array));
  inputs.set("x", tensor("F32", [R, cfg.inDim], Float32Array.from({ length: R * cfg.inDim }, () => rng.normal())));
  inputs.set("grad_y", tensor("F32", [R, cfg.outDim], Float32Array.from({ length: R * cfg.outDim }, () => rng.normal())));
  const params = { out_dim: cfg.outDim, hidden_dim: cfg.hiddenDim, bottleneck_dim: cfg.bottleneckDim, nlayers, norm_last_layer: normLastLayer };
  return { inputs, params, cfg, R };
}

/** The same computation in float64 (ts64 backend), outputs named as the op names them. */
function float64Outputs(s: Synthetic): Map<string, Float64Array> {
  const specs = dinoHeadParamSpecs(s.cfg);
  const p = new HostParams(specs, Float64Array);
  for (const sp of specs) p.param(sp.name).data.set(s.inputs.get(`head.${sp.name}`)!.data as Float32Array);
  const x = { shape: [s.R, s.cfg.inDim], data: Float64Array.from(s.inputs.get("x")!.data as Float32Array) };
  const gy = { shape: [s.R, s.cfg.outDim], data: Float64Array.from(s.inputs.get("grad_y")!.data as Float32Array) };
  const { y, cache } = dinoHeadForward(ts64Backend, p, s.cfg, x, s.R);
  const gradX = dinoHeadBackward(ts64Backend, p, s.cfg, cache, gy);
  const out = new Map<string, Float64Array>([["y", y.data as Float64Array], ["grad_x", gradX.data as Float64Array]]);
  for (const sp of specs) out.set(`grad.head.${sp.name}`, p.grad(sp.name).data as Float64Array);
  return out;
}

describe("dino_head op on synthetic cases", () => {
  for (const kernels of [wasmBackend, ts32Backend]) {
    for (const [nlayers, normLastLayer] of [[3, true], [3, false], [2, false], [1, true]] as const) {
      it(`${kernels.name} kernels, nlayers ${nlayers}, norm_last_layer ${normLastLayer}: float64 head within the reduction-length bound`, () => {
        const s = synthetic(nlayers, normLastLayer);
        const out = op(new OpArgs("dino_head", "synthetic", s.inputs, s.params), kernels, NO_BUGS);
        const trainable = dinoHeadParamSpecs(s.cfg)
          .map((sp) => `grad.head.${sp.name}`)
          .filter((k) => !(normLastLayer && k.endsWith("weight_g")));
        expect([...out.keys()].sort()).toEqual(["y", "grad_x", ...trainable].sort());
        const exact = float64Outputs(s);
        // as in the model tests: n = the reduction lengths along forward and backward, u = 2⁻²⁴
        const c = s.cfg;
        const n = c.inDim + nlayers * c.hiddenDim + 3 * c.bottleneckDim + c.outDim + s.R;
        for (const [name, t] of out) {
          const ref = exact.get(name)!;
          const scale = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
          expect(t.dtype).toBe("F32");
          const got = t.data as Float32Array;
          for (let i = 0; i < got.length; i++) expect(Math.abs(got[i] - ref[i]), `${name}[${i}]`).toBeLessThanOrEqual(n * U32 * scale);
        }
      });
    }
  }
});

for (const dir of GOLDEN_DIRS) {
  describe.skipIf(!existsSync(dir))(`golden cases in ${dir}`, () => {
    const files = existsSync(dir) ? findCaseFiles([dir]) : [];
    it("has cases", () => expect(files.length).toBeGreaterThan(0));
    for (const kernels of [wasmBackend, ts32Backend]) {
      for (const file of files) {
        it(`${file} with the ${kernels.name} kernels`, () => {
          const c = readGoldenCase(file);
          expect(c.op).toBe("dino_head");
          const actual = op(new OpArgs(c.op, c.path, c.inputs, c.params), kernels, NO_BUGS);
          // exactly the expected outputs: no gradient for a frozen weight_g
          expect([...actual.keys()].sort()).toEqual([...c.outputs.keys()].sort());
          const failed = compareOutputs(c, actual).filter((o) => !o.pass);
          expect(failed, failed.map((o) => `${o.output}: ${o.problem ?? `max abs ${o.maxAbsError}, max rel ${o.maxRelError}, worst at [${o.worstIndex}]`}`).join("; ")).toEqual([]);
        });
      }
    }
  });
}

describe("dino_head op errors", () => {
  const call = (s: Synthetic) => () => op(new OpArgs("dino_head", "case.safetensors", s.inputs, s.params), wasmBackend, NO_BUGS);

  it("names a missing head tensor", () => {
    const s = synthetic(3, true);
    s.inputs.delete("head.last_layer.weight_g");
    expect(call(s)).toThrow(DinoRefError);
    expect(call(s)).toThrow("case.safetensors: tensor in.head.last_layer.weight_g is missing");
  });

  it("names the weight whose shape disagrees with out_dim, and the expected shape", () => {
    const s = synthetic(3, false);
    s.params.out_dim = 24;
    expect(call(s)).toThrow("tensor in.head.last_layer.weight_g has shape [23, 1], expected [24, 1]");
  });

  it("names the first weight that disagrees with x's width", () => {
    const s = synthetic(2, true);
    s.inputs.set("x", tensor("F32", [5, 12], new Float32Array(60)));
    expect(call(s)).toThrow("tensor in.head.mlp.0.weight has shape [19, 13], expected [19, 12]");
  });

  it("names keys that do not belong to a head of this many layers", () => {
    const s = synthetic(3, true);
    s.params.nlayers = 2;
    // with nlayers 2, mlp.2 is the bottleneck Linear [Db, Dh]
    expect(call(s)).toThrow("tensor in.head.mlp.2.weight has shape [19, 19], expected [11, 19]");
    const t = synthetic(2, true);
    t.inputs.set("head.mlp.4.weight", tensor("F32", [11, 19], new Float32Array(11 * 19)));
    expect(call(t)).toThrow("tensor in.head.mlp.4.weight is not a parameter of this head (nlayers 2");
  });

  it("refuses use_bn heads", () => {
    const s = synthetic(3, true);
    s.params.use_bn = true;
    expect(call(s)).toThrow("param use_bn is true: heads with BatchNorm1d are not supported");
  });

  it("checks grad_y against out_dim", () => {
    const s = synthetic(1, true);
    s.inputs.set("grad_y", tensor("F32", [5, 22], new Float32Array(110)));
    expect(call(s)).toThrow("tensor in.grad_y has shape [5, 22], expected [R, 23]");
  });
});
