// What `dino-ref trace` computes: the trace of a network on given images, and, with --case, a
// dino-golden/1 case of the op vit_trace whose expected outputs are the float64 trace (the
// TypeScript oracles in float64 from the float32 weights and images, rounded to float32) and whose
// tolerances are MEASURED: per output, atol = 16·(the largest distance of our two float32 runs,
// the wasm kernels and the float32 oracles, to the float64 trace) + 4·eps·max|output|, rtol =
// 8·eps, eps = 2^-23 (the golden rule's C_ABS = 4 and C_REL = 8, with the safety factor 4 of
// dino_train_steps; reference-tests/README.md).

import { tensor, type StTensor } from "../io/safetensors.js";
import { GOLDEN_FORMAT, type Tolerance } from "../io/golden.js";
import { ts32Backend, ts64Backend, type Backend } from "../kernels/backend.js";
import { HostParams, type ParamScope, type ParamSpec } from "../model/params.js";
import type { VitConfig } from "../model/vitConfig.js";
import { vitParamSpecs } from "../model/vitParams.js";
import { dinoHeadParamSpecs, type ResolvedDinoHeadConfig } from "../model/dinoHead.js";
import { vitTrace, type TracedTensor } from "../model/vitTrace.js";

const EPS32 = 2 ** -23;
const C_ABS = 4;
const C_REL = 8;
const SAFETY = 4;

/** A network as float32 values by official key: the backbone and, when there is one, the head. */
export interface TraceWeights {
  readonly cfg: VitConfig;
  readonly backbone: ReadonlyMap<string, Float32Array>;
  readonly head: { readonly config: ResolvedDinoHeadConfig; readonly values: ReadonlyMap<string, Float32Array> } | null;
}

/** The weights of a loaded network as values by key (copies). */
export function traceWeightsOf(cfg: VitConfig, backbone: ParamScope, head: { config: ResolvedDinoHeadConfig; params: ParamScope } | null): TraceWeights {
  const values = (specs: readonly ParamSpec[], p: ParamScope) => new Map(specs.map((s) => [s.name, Float32Array.from(p.param(s.name).data)]));
  return {
    cfg,
    backbone: values(vitParamSpecs(cfg), backbone),
    head: head === null ? null : { config: head.config, values: values(dinoHeadParamSpecs(head.config), head.params) },
  };
}

/** The trace of `w` on images x [B, 3, H, W], computed on `be`. */
export function traceOn(be: Backend, w: TraceWeights, x: { shape: readonly number[]; data: Float32Array }): Map<string, TracedTensor> {
  const [B, , H, W] = x.shape;
  const mark = be.mark();
  try {
    const host = (specs: readonly ParamSpec[], values: ReadonlyMap<string, Float32Array>) => {
      // float64 parameters for the float64 backend, float32 otherwise
      const p = new HostParams(specs, be.name === "ts64" ? Float64Array : Float32Array);
      for (const s of specs) p.param(s.name).data.set(values.get(s.name)!);
      return p;
    };
    const backbone = host(vitParamSpecs(w.cfg), w.backbone);
    const head = w.head === null ? null : { params: host(dinoHeadParamSpecs(w.head.config), w.head.values), config: w.head.config };
    const images = be.alloc([...x.shape]);
    images.data.set(x.data);
    return vitTrace(be, backbone, w.cfg, images, B, H, W, head);
  } finally {
    be.release(mark);
  }
}

/** atol rounded up to 3 significant digits (as the generator records it). */
function roundUp3(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const e = Math.floor(Math.log10(x)) - 2;
  return Math.ceil(x / 10 ** e) * 10 ** e;
}

/**
 * The case file of --case: in.x, in.model.<key>, in.head.<key>; out.<trace name> = the float64
 * trace rounded to float32; the measured tolerance of the header comment. `fast` is the float32
 * backend the command runs on (the wasm kernels unless DINO_REF_KERNELS=ts).
 */
export function vitTraceCase(fast: Backend, w: TraceWeights, x: { shape: readonly number[]; data: Float32Array }, source: string): { tensors: [string, StTensor][]; metadata: Record<string, string> } {
  const exact = traceOn(ts64Backend, w, { shape: x.shape, data: x.data });
  const runs = [traceOn(fast, w, x), ...(fast.name === "ts32" ? [] : [traceOn(ts32Backend, w, x)])];
  const tolerance: Record<string, Tolerance> = {};
  const tensors: [string, StTensor][] = [["in.x", tensor("F32", x.shape, Float32Array.from(x.data))]];
  for (const [k, v] of w.backbone) tensors.push([`in.model.${k}`, tensor("F32", vitParamSpecs(w.cfg).find((s) => s.name === k)!.shape, v)]);
  if (w.head !== null) for (const [k, v] of w.head.values) tensors.push([`in.head.${k}`, tensor("F32", dinoHeadParamSpecs(w.head.config).find((s) => s.name === k)!.shape, v)]);
  let loosest: Tolerance = [0, C_REL * EPS32];
  for (const [name, t] of exact) {
    const expected = Float32Array.from(t.data);
    let drift = 0;
    let scale = 0;
    for (let i = 0; i < t.data.length; i++) {
      scale = Math.max(scale, Math.abs(t.data[i]));
      for (const run of runs) drift = Math.max(drift, Math.abs(run.get(name)!.data[i] - t.data[i]));
    }
    // atol = C_ABS·eps·(SAFETY·drift/eps + max|out|), rtol = C_REL·eps
    const tol: Tolerance = [roundUp3(C_ABS * EPS32 * ((SAFETY * drift) / EPS32 + scale)), C_REL * EPS32];
    tolerance[`out.${name}`] = tol;
    if (tol[0] > loosest[0]) loosest = [tol[0], loosest[1]];
    tensors.push([`out.${name}`, tensor("F32", t.shape, expected)]);
  }
  const { cfg } = w;
  const params: Record<string, unknown> = {
    patch_size: cfg.patchSize, embed_dim: cfg.embedDim, depth: cfg.depth, num_heads: cfg.numHeads, mlp_ratio: cfg.mlpRatio, qkv_bias: cfg.qkvBias,
  };
  if (w.head !== null) {
    const h = w.head.config;
    Object.assign(params, { out_dim: h.outDim, hidden_dim: h.hiddenDim, bottleneck_dim: h.bottleneckDim, nlayers: h.nlayers, norm_last_layer: h.normLastLayer });
  }
  const metadata = {
    format: GOLDEN_FORMAT,
    op: "vit_trace",
    params: JSON.stringify(params),
    tolerance: JSON.stringify({ default: loosest, ...tolerance }),
    producer: "dino-ref trace --case: float64 (the TypeScript oracles on float64 arrays) from the float32 inputs, outputs rounded to float32",
    description: `vit_trace of ${source}; tolerance measured: atol = 4*eps*(4*drift/eps + max|out|), drift = the largest distance of dino-ref's float32 runs (wasm kernels, float32 oracles) to the float64 trace; rtol = 8*eps; eps = 2^-23.`,
  };
  return { tensors, metadata };
}
