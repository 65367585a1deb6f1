// The dino_head op of the contract: DINOHead forward and backward on a case's weights, through the
// same model code as training (src/model/dinoHead.ts), on the backend given. Gradients only for
// trainable keys. caseHead also reads the head of a vit_trace case.

import type { StTensor } from "../io/safetensors.js";
import type { Backend } from "../kernels/backend.js";
import type { OpImpl } from "./opImpl.js";
import {
  dinoHeadBackward, dinoHeadForward, dinoHeadParamSpecs, isTrainableHeadParam, resolveDinoHeadConfig, type ResolvedDinoHeadConfig,
} from "../model/dinoHead.js";
import { ParamStore, type ParamSpec } from "../model/params.js";
import { shapeString } from "../tensor/named.js";
import { headActivationBytes } from "../model/memory.js";
import { f32Out, type OpArgs } from "./args.js";
import type { Bugs } from "../tensor/portingBugs.js";

type Op = OpImpl;

/**
 * The DINO head of a case: its config from the params (out_dim, hidden_dim, bottleneck_dim,
 * nlayers, norm_last_layer) for inputs of width inDim, and the in.head.<key> tensors checked
 * against it (none missing, none unexpected), in the order of `specs`; with R, the head's
 * activations on R rows checked against --max-memory.
 */
export function caseHead(args: OpArgs, inDim: number, R?: number): { cfg: ResolvedDinoHeadConfig; specs: ParamSpec[]; values: Float32Array[] } {
  // BatchNorm1d heads (use_bn) are outside the contract and not implemented
  if (args.has("use_bn") && args.boolean("use_bn")) args.fail("param use_bn is true: heads with BatchNorm1d are not supported");
  const cfg = resolveDinoHeadConfig({
    inDim,
    outDim: args.number("out_dim", { integer: true, min: 1 }),
    hiddenDim: args.has("hidden_dim") ? args.number("hidden_dim", { integer: true, min: 1 }) : undefined,
    bottleneckDim: args.has("bottleneck_dim") ? args.number("bottleneck_dim", { integer: true, min: 1 }) : undefined,
    nlayers: args.has("nlayers") ? args.number("nlayers", { integer: true }) : undefined,
    normLastLayer: args.has("norm_last_layer") ? args.boolean("norm_last_layer") : undefined,
  });
  // the head's activations on the case's rows must fit --max-memory
  if (R !== undefined) args.budget(headActivationBytes(cfg, R), `the head's activations on ${R} rows`);
  const specs = dinoHeadParamSpecs(cfg);
  const values = specs.map((s) => args.f32(`head.${s.name}`, s.shape));
  const known = new Set(specs.map((s) => s.name));
  for (const key of args.prefixed("head.").keys()) {
    if (!known.has(key)) {
      args.fail(`tensor in.head.${key} is not a parameter of this head (nlayers ${cfg.nlayers}: expected ${specs.map((s) => `in.head.${s.name} ${shapeString(s.shape)}`).join(", ")})`);
    }
  }
  return { cfg, specs, values };
}

/**
 * dino_head: y = head(x) for in.head.<key> and in.x [R,Din]; then, for ∂L/∂y = in.grad_y [R,K],
 * grad.head.<key> for every trainable key and grad_x [R,Din].
 */
function dinoHeadOp(args: OpArgs, be: Backend, bugs: Bugs): Map<string, StTensor> {
  const x = args.f32("x", ["R", "Din"]);
  const [R, inDim] = [args.dim("R"), args.dim("Din")];
  const { cfg, specs, values } = caseHead(args, inDim, R);
  const gradY = args.f32("grad_y", ["R", cfg.outDim]);

  const mark = be.mark();
  try {
    // the parameters live where the backend keeps them, as in training
    const store = ParamStore.create(be, specs);
    specs.forEach((s, i) => store.param(s.name).data.set(values[i]));
    const xT = be.alloc([R, inDim]);
    xT.data.set(x);
    const gradYT = be.alloc([R, cfg.outDim]);
    gradYT.data.set(gradY);

    const { y, cache } = dinoHeadForward(be, store, cfg, xT, R, bugs);
    const gradX = dinoHeadBackward(be, store, cfg, cache, gradYT);

    const out = new Map<string, StTensor>();
    out.set("y", f32Out([R, cfg.outDim], Float32Array.from(y.data)));
    for (const s of specs) {
      if (isTrainableHeadParam(s.name, cfg)) out.set(`grad.head.${s.name}`, f32Out(s.shape, Float32Array.from(store.grad(s.name).data)));
    }
    out.set("grad_x", f32Out([R, inDim], Float32Array.from(gradX.data)));
    return out;
  } finally {
    be.release(mark);
  }
}

export const headOps: [string, Op][] = [["dino_head", dinoHeadOp]];
