// The contract op `dino_train_steps`: S whole training iterations from given student and teacher
// weights, centre and crops, with the schedules' values given per step. It runs the real
// trainStep (src/train/trainStep.ts), so the case files check the training step end to end.

import { tensor, type StTensor } from "../io/safetensors.js";
import type { Backend, Tensor } from "../kernels/backend.js";
import type { OpImpl } from "./opImpl.js";
import { ParamStore } from "../model/params.js";
import { vitConfig } from "../model/vitConfig.js";
import { dinoParamSpecs, type DinoModelConfig } from "../model/dino.js";
import { trainStep } from "../train/trainStep.js";
import type { TrainState } from "../train/trainState.js";
import { shapeString } from "../tensor/named.js";
import { trainStepBytes } from "../model/memory.js";
import { f32Out, f64Out, type OpArgs } from "./args.js";
import type { Bugs } from "../tensor/portingBugs.js";

/** The network of the case, from its params; pos_embed's grid g gives the native image size g·p. */
function modelFrom(args: OpArgs): DinoModelConfig {
  const patchSize = args.number("patch_size", { integer: true, positive: true });
  const pos = args.input("student.backbone.pos_embed", "F32", [1, "1+N0", "D"]);
  const g = Math.round(Math.sqrt(pos.shape[1] - 1));
  if (g * g !== pos.shape[1] - 1) args.fail(`tensor in.student.backbone.pos_embed has shape ${shapeString(pos.shape)}: not a square grid of positions`);
  const embedDim = args.number("embed_dim", { integer: true, positive: true });
  return {
    vit: vitConfig({
      patchSize,
      embedDim,
      depth: args.number("depth", { integer: true, positive: true, max: Math.max(1, args.modulesUnder("student.backbone.blocks.")) }),
      numHeads: args.number("num_heads", { integer: true, positive: true }),
      mlpRatio: args.has("mlp_ratio") ? args.number("mlp_ratio", { positive: true }) : 4,
      qkvBias: args.has("qkv_bias") ? args.boolean("qkv_bias") : true,
      imgSize: g * patchSize,
    }),
    head: {
      inDim: embedDim,
      outDim: args.number("out_dim", { integer: true, positive: true }),
      hiddenDim: args.number("hidden_dim", { integer: true, positive: true }),
      bottleneckDim: args.number("bottleneck_dim", { integer: true, positive: true }),
      nlayers: args.number("nlayers", { integer: true, positive: true, max: Math.max(1, args.modulesUnder("student.head.mlp.")) }),
      normLastLayer: args.boolean("norm_last_layer"),
    },
  };
}

function trainStepsOp(args: OpArgs, be: Backend, bugs: Bugs): Map<string, StTensor> {
  // the stores live in the backend's memory for this case only
  const mark = be.mark();
  try {
    return runSteps(args, be, bugs);
  } finally {
    be.release(mark);
  }
}

function runSteps(args: OpArgs, be: Backend, bugs: Bugs): Map<string, StTensor> {
  const model = modelFrom(args);
  const specs = dinoParamSpecs(model);
  const known = new Set(specs.map((s) => s.name));
  for (const side of ["student", "teacher"]) {
    for (const name of args.prefixed(`${side}.`).keys()) if (!known.has(name)) args.fail(`tensor in.${side}.${name} is not a parameter of this model`);
  }
  const student = ParamStore.create(be, specs);
  const teacher = ParamStore.create(be, specs, { grads: false });
  for (const s of specs) {
    student.param(s.name).data.set(args.f32(`student.${s.name}`, s.shape));
    teacher.param(s.name).data.set(args.f32(`teacher.${s.name}`, s.shape));
  }
  const K = model.head.outDim;
  const state: TrainState = { model, student, teacher, center: args.f32("center", [1, K]).slice(), optimizer: new Map() };

  const lr = args.f64("lr", ["S"]);
  const wd = args.f64("wd", ["S"]);
  const momentum = args.f64("momentum", ["S"]);
  const teacherTemp = args.f64("teacher_temp", ["S"]);
  const S = args.dim("S");
  let ncrops = 0;
  while (args.inputs.has(`step0.crop${ncrops}`)) ncrops++;
  if (ncrops < 2) args.fail("tensors in.step0.crop0 and in.step0.crop1 (the global crops) are missing");
  const settings = {
    studentTemp: args.number("student_temp", { positive: true }),
    centerMomentum: args.number("center_momentum", { min: 0, max: 1 }),
    clipGrad: args.number("clip_grad", { min: 0 }),
    // freeze_last_layer true: the last layer's gradients are dropped in these steps (epoch 0 < 1)
    freezeLastLayer: args.boolean("freeze_last_layer") ? 1 : 0,
    beta1: args.number("beta1", { min: 0, max: 1 }),
    beta2: args.number("beta2", { min: 0, max: 1 }),
    eps: args.number("eps", { positive: true }),
  };
  const cropShapes = Array.from({ length: ncrops }, (_, i) => args.input(`step0.crop${i}`, "F32").shape);
  if (cropShapes.some((s) => s.length !== 4)) args.fail("tensors in.step0.crop<i> must be [B, 3, h, w]");
  args.budget(trainStepBytes(model, cropShapes[0][0], cropShapes.map((s) => [s[2], s[3]] as const)), `a training step on ${ncrops} crops of ${cropShapes[0][0]} image(s)`);
  const losses = new Float64Array(S);
  for (let s = 0; s < S; s++) {
    const crops: Tensor[] = [];
    for (let i = 0; i < ncrops; i++) {
      const t = args.input(`step${s}.crop${i}`, "F32", ["B", 3, `h${i}`, `w${i}`]);
      crops.push({ shape: t.shape, data: t.data as Float32Array });
    }
    const r = trainStep(be, state, crops, { epoch: 0, lr: lr[s], weightDecay: wd[s], momentum: momentum[s], teacherTemp: teacherTemp[s] }, settings, undefined, s, bugs);
    losses[s] = r.loss;
  }
  const out = new Map<string, StTensor>();
  for (const p of student.params) out.set(`student.${p.name}`, tensor("F32", p.shape, p.data.slice()));
  for (const p of teacher.params) out.set(`teacher.${p.name}`, tensor("F32", p.shape, p.data.slice()));
  out.set("center", f32Out([1, K], state.center.slice()));
  out.set("loss", f64Out([S], losses));
  return out;
}

export const trainOps: [string, OpImpl][] = [["dino_train_steps", trainStepsOp]];
