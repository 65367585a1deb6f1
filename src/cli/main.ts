// dino-ref command line. Every user mistake ends as one line `dino-ref: <what and where>` and
// exit code 2; a failed check is exit code 1; success is 0. No stack traces for user errors.

import { DinoRefError } from "../tensor/errors.js";
import { checkCommand } from "./check.js";
import { compareCommand } from "./compare.js";
import { traceCommand } from "./trace.js";
import { benchCommand } from "./bench.js";
import { EXPLAIN_TOPICS } from "../explain/equations.js";
import { explainCommand } from "./explain.js";
import { trainCommand, PRESET_NAMES } from "./train.js";
import { knnCommand } from "./knn.js";
import { sweepCommand } from "./sweep.js";
import { linearCommand } from "./linear.js";
import { inspectCommand } from "./inspect.js";
import { attentionCommand } from "./attention.js";
import { segmentCommand } from "./segment.js";
import { datasetCommand } from "./dataset.js";
import { convertCommand } from "./convert.js";
import { featuresCommand } from "./features.js";
import { retrievalCommand } from "./retrieval.js";
import { copyDetectCommand } from "./copydetect.js";
import { videosegCommand } from "./videoseg.js";
import { finetuneCommand } from "./finetune.js";
import { preset } from "../train/config.js";
import { noPositionals, parse } from "./args.js";
import { consoleIo, type Io } from "./io.js";
import { limitArgs, oneLine } from "./args.js";
import { DEFAULT_LIMITS, formatBytes, setLimits } from "../tensor/limits.js";

const USAGE = `usage: dino-ref <command> [options]

commands:
  check PATH...            recompute every golden case file under PATH (files or folders) and
                           compare each output with the case's tolerance; exit 1 if any fails
  compare CASE ACTUAL      your implementation's out.* tensors (ACTUAL, a safetensors file)
  compare CASES_DIR ACTUALS_DIR  against a case's expected outputs; with folders, every case
                           against the ACTUAL of the same file name. Names a trace's first
                           diverging output and, for a failing case, the known porting mistakes
                           its numbers match (docs/porting.md)
                           [--json] [--partial] [--precision float32|bfloat16|float16] [--no-diagnosis]
  trace --weights FILE --out TRACE.safetensors (--input X.safetensors | --image PNG...)
                           every intermediate of the backbone (and head) under the names of
                           docs/porting.md; --case writes a vit_trace case file instead
                           [--student] [--heads N] [--no-head]
  bench [--json]           benchmarks: kernels (GFLOP/s, wasm-simd against the TypeScript oracle),
                           the ViT and the training step against PyTorch, peak wasm memory
                           [--filter TEXT[|TEXT...]] [--min-time SECONDS]
  bench --profile          where a mnist-tiny training step's time goes, per phase and per kernel,
        [--steps N]        beside PyTorch's profiler on the same step; --cpu-time: CPU time of the
        [--cpu-time]       process instead of wall time (with DINO_REF_THREADS=1, on a busy machine)
  explain TOPIC [--out DIR] the equations on concrete numbers: ${EXPLAIN_TOPICS.join(" | ")};
                           with --out DIR also as PNG plots
  explain collapse --out DIR  the collapse study: full DINO, centering only and sharpening only
                           trained from the same weights; CSV, PNG plot and a verdict per run
                           [--preset collapse-tiny] [--seed N] [--steps S]
  train --out DIR          train a tiny ViT with DINO on the bundled digits and report k-NN accuracy
        [--preset NAME] [--seed N] [--epochs E | --steps S] [--resume]
        [--data DIR [--skip-bad]]  a folder of PNGs or JPEGs, one subfolder per class, instead of the digits
        [--config FILE.json] [--set KEY=VALUE]...  change any config field (see 'preset NAME')
        [--no-eval]        skip the k-NN evaluations and attention pictures (CI smoke runs)
        [--init FILE]      start from weights: a backbone initialises student and teacher (head
                           fresh), a training checkpoint also the heads and the centre
                           presets: ${PRESET_NAMES.join(", ")}
  sweep --out DIR --grid KEY=V1,V2,...  one training run per point of a grid of config values,
                           one budget each; DIR/sweep.md and sweep.json: k-NN gain over init,
                           student gain, seconds, GFLOP, entropy and KL at the end, collapse warnings
        [--grid K1/K2=A1/A2,B1/B2]...  keys set together; ranges in brackets: [0.1,0.5],[0.2,0.5]
        [--steps S] [--seconds T]  each run's budget; [--eval-limit N] k-NN on ≤ N held-out images
        [--preset NAME] [--set KEY=VALUE]... [--config FILE.json] [--seed N] [--no-eval]
        [--segment-count N]  on mnist-clutter also the best attention head's Jaccard (as segment)
  inspect FILE             what a weights, checkpoint or case file holds (.safetensors, .pth, .pt,
                           .bin): container, key layout, architecture, parameter count,
                           fingerprint, missing and unexpected keys
  convert IN OUT           weights between .pth / .pt / .bin (PyTorch, read without running code)
                           and .safetensors, by extension, bit for bit [--layout official|hf]
                           (the Hugging Face ViTModel keys of facebook/dino-vit*) [--student]
  features --weights FILE --data DIR --out FEATS.safetensors
                           CLS features (L2-normalised, as eval_knn.py --dump_features), labels
                           and file names of DIR's train/ and val/ (or of one class folder)
                           [--patch-tokens] [--image-size S] [--eval-transform resize|imagenet]
  attention IMAGE... --weights FILE --out DIR
                           the last block's CLS attention per head as PNG heat maps, their mean,
                           and the masks keeping --threshold (0.6) of the mass [--zoom N] [--student]
                           [--max-side S]  shrink larger images to S px on the longer side first
  segment --weights FILE   Jaccard of the attention masks against ground-truth masks, per head,
                           beside the same net at init [--data DIR | --dataset mnist-clutter]
                           [--count N] [--threshold 0.6] [--student] [--figure FILE.png]
  dataset NAME --out DIR   write a generated data set with masks as PNGs (mnist-clutter)
                           [--seed N] [--count N] [--split test|train]
  linear --weights FILE    the official linear probe on frozen teacher features
                           [--n-last-blocks 4] [--avgpool] [--epochs 100] [--lr 0.001] [--student]
                           [--data DIR [--image-size S] [--eval-transform resize|imagenet]]
                           [--labels 1%|10%|N [--seed N]] (few labels: beside init and raw pixels) [--json]
  preset NAME              print a training preset's full configuration as JSON
  knn --weights FILE       weighted k-NN accuracy of a backbone's (a checkpoint's teacher's) features
                           [--k 20] [--temperature 0.07] [--student | --init (the same net at
                           initialisation)] [--features cls|cls+avgpool] [--data DIR: train/ and val/
                           class folders [--image-size S] [--eval-transform resize|imagenet]]
                           [--labels 1%|10%|N [--seed N]] (few labels: beside init and raw pixels) [--json]
                           --weights FILE (any command): an official backbone or checkpoint
                           (.pth or converted), a Hugging Face ViTModel file, a dino-ref
                           checkpoint (teacher; --student); --checkpoint FILE is the same option

the paper's other applications, on generated data, for any weights, beside the same net at init
[--student] [--json]:
  retrieval --weights FILE image retrieval, revisited Oxford/Paris protocol (mAP Medium/Hard) on
                           renderings of digit instances [--queries 50] [--easy 2] [--hard 2]
                           [--junk 1] [--distractors 250] [--seed 0]
  copydetect --weights FILE  copy detection, Copydays protocol (CLS + GeM, whitening, mAP) on strong
                           copies among distractors [--originals 100] [--copies 2]
                           [--distractors 1000] [--whitening 1000] [--seed 0]
  videoseg --weights FILE  video object segmentation by label propagation, DAVIS J&F, on clips of
                           moving digits [--clips 20] [--frames 12] [--size 48 (49 for patch 7)] [--objects 2]
                           [--n-last-frames 7] [--topk 5] [--neighborhood 12] [--seed 0] [--figure FILE.png]
  finetune --weights FILE  backbone + linear head trained with labels, beside the linear probe and
                           the net at init fine-tuned [--epochs 2] [--lr 0.001] [--batch-size 64]
                           [--weight-decay 0.05] [--labels 1%|10%|N | --train-count N] [--test-count N]
                           [--probe-epochs 100] [--probe-lr 1] [--seed 0]
  help                     this text

limits (any command; README "Errors and limits"):
  --max-pixels N           pixels of one image (default ${DEFAULT_LIMITS.maxPixels.toLocaleString("en-US")}, 4096 × 4096)
  --max-memory SIZE        memory one computation or file read may take, e.g. 512M, 4G (default ${formatBytes(DEFAULT_LIMITS.maxMemory)})

environment:
  DINO_REF_KERNELS=ts      run the plain-TypeScript oracles instead of the SIMD wasm kernels`;

/** `--weights FILE`: the weights option of every command that loads a backbone (src/cli/evalInput.ts). */
const WEIGHTS_OPTION = { weights: { type: "string" } } as const;
/** The image options of the evaluations on a folder (src/cli/evalInput.ts). */
const EVAL_DATA_OPTIONS = { data: { type: "string" }, "image-size": { type: "string" }, "eval-transform": { type: "string" }, "skip-bad": { type: "boolean" } } as const;
/** No positional arguments (trace without --image): an empty list, or the error for the first one. */
function noPositionalsThen(positionals: readonly string[]): string[] {
  noPositionals("trace", positionals);
  return [];
}
/** The options every application command takes: the weights file (--checkpoint is the same), the network, --json. */
const WEIGHTS_OPTIONS = { weights: { type: "string" }, checkpoint: { type: "string" }, student: { type: "boolean" }, json: { type: "boolean" } } as const;

/** Runs the CLI on `argv` (without node and script) and returns the exit code. */
export async function main(argv: readonly string[], io: Io = consoleIo): Promise<number> {
  const previous = setLimits(DEFAULT_LIMITS);
  try {
    const [command, ...rest] = limitArgs(argv);
    switch (command) {
      case "check":
        return checkCommand(parse(rest, {}).positionals, io);
      case "compare": {
        const { values, positionals } = parse(rest, { json: { type: "boolean" }, partial: { type: "boolean" }, precision: { type: "string" }, "no-diagnosis": { type: "boolean" } });
        return compareCommand(positionals, values, io);
      }
      case "trace": {
        const { values, positionals } = parse(rest, {
          weights: { type: "string" }, input: { type: "string" }, image: { type: "string", multiple: true }, out: { type: "string" }, case: { type: "boolean" },
          student: { type: "boolean" }, heads: { type: "string" }, "no-head": { type: "boolean" },
        });
        // --image takes every following non-option argument: `--image a.png b.png`
        return traceCommand({ ...values, image: [...(values.image ?? []), ...(values.image ? positionals : noPositionalsThen(positionals))] }, io);
      }
      case "bench": {
        const { values, positionals } = parse(rest, {
          json: { type: "boolean" }, filter: { type: "string" }, "min-time": { type: "string" }, profile: { type: "boolean" }, steps: { type: "string" },
          "cpu-time": { type: "boolean" },
        });
        noPositionals("bench", positionals);
        return await benchCommand(
          { json: values.json === true, filter: values.filter, minTime: values["min-time"], profile: values.profile === true, steps: values.steps, cpuTime: values["cpu-time"] === true },
          io,
        );
      }
      case "train": {
        const { values, positionals } = parse(rest, {
          preset: { type: "string" }, out: { type: "string" }, seed: { type: "string" }, epochs: { type: "string" }, steps: { type: "string" }, resume: { type: "boolean" },
          data: { type: "string" }, "skip-bad": { type: "boolean" }, set: { type: "string", multiple: true }, config: { type: "string" }, "no-eval": { type: "boolean" },
          init: { type: "string" },
        });
        noPositionals("train", positionals);
        return trainCommand(values, io);
      }
      case "sweep": {
        const { values, positionals } = parse(rest, {
          preset: { type: "string" }, out: { type: "string" }, seed: { type: "string" }, set: { type: "string", multiple: true }, config: { type: "string" },
          grid: { type: "string", multiple: true }, steps: { type: "string" }, seconds: { type: "string" }, "eval-limit": { type: "string" }, "no-eval": { type: "boolean" }, "segment-count": { type: "string" },
        });
        noPositionals("sweep", positionals);
        return sweepCommand(values, rest, io);
      }
      case "preset": {
        const names = parse(rest, {}).positionals;
        if (names.length !== 1) throw new DinoRefError(`preset: expected one NAME (${PRESET_NAMES.join(", ")})`);
        io.out(JSON.stringify(preset(names[0]), null, 2));
        return 0;
      }
      case "attention": {
        const { values, positionals } = parse(rest, { checkpoint: { type: "string" }, out: { type: "string" }, threshold: { type: "string" }, zoom: { type: "string" }, "max-side": { type: "string" }, student: { type: "boolean" }, ...WEIGHTS_OPTION });
        return attentionCommand(positionals, values, io);
      }
      case "segment": {
        const { values, positionals } = parse(rest, {
          checkpoint: { type: "string" }, data: { type: "string" }, dataset: { type: "string" }, count: { type: "string" }, threshold: { type: "string" }, student: { type: "boolean" }, figure: { type: "string" }, "figure-count": { type: "string" },
          ...WEIGHTS_OPTION,
        });
        noPositionals("segment", positionals);
        return segmentCommand(values, io);
      }
      case "dataset": {
        const { values, positionals } = parse(rest, { out: { type: "string" }, seed: { type: "string" }, count: { type: "string" }, split: { type: "string" } });
        return datasetCommand(positionals, values, io);
      }
      case "linear": {
        const { values, positionals } = parse(rest, {
          checkpoint: { type: "string" }, "n-last-blocks": { type: "string" }, avgpool: { type: "boolean" }, epochs: { type: "string" }, lr: { type: "string" }, student: { type: "boolean" },
          ...WEIGHTS_OPTION, ...EVAL_DATA_OPTIONS, labels: { type: "string" }, seed: { type: "string" }, json: { type: "boolean" },
        });
        noPositionals("linear", positionals);
        return linearCommand(values, io);
      }
      case "inspect": {
        const { values, positionals } = parse(rest, WEIGHTS_OPTION);
        return inspectCommand(values.weights !== undefined ? [...positionals, values.weights] : positionals, io);
      }
      case "convert": {
        const { values, positionals } = parse(rest, { layout: { type: "string" }, student: { type: "boolean" } });
        return convertCommand(positionals, values, io);
      }
      case "features": {
        const { values, positionals } = parse(rest, { ...WEIGHTS_OPTION, ...EVAL_DATA_OPTIONS, checkpoint: { type: "string" }, student: { type: "boolean" }, out: { type: "string" }, "patch-tokens": { type: "boolean" } });
        noPositionals("features", positionals);
        return featuresCommand(values, io);
      }
      case "knn": {
        const { values, positionals } = parse(rest, {
          checkpoint: { type: "string" }, k: { type: "string" }, temperature: { type: "string" }, student: { type: "boolean" }, ...WEIGHTS_OPTION, ...EVAL_DATA_OPTIONS,
          labels: { type: "string" }, seed: { type: "string" }, json: { type: "boolean" }, features: { type: "string" }, init: { type: "boolean" },
        });
        noPositionals("knn", positionals);
        return knnCommand(values, io);
      }
      case "retrieval": {
        const { values, positionals } = parse(rest, {
          ...WEIGHTS_OPTIONS, queries: { type: "string" }, easy: { type: "string" }, hard: { type: "string" }, junk: { type: "string" }, distractors: { type: "string" }, seed: { type: "string" },
        });
        noPositionals("retrieval", positionals);
        return retrievalCommand(values, io);
      }
      case "copydetect": {
        const { values, positionals } = parse(rest, {
          ...WEIGHTS_OPTIONS, originals: { type: "string" }, copies: { type: "string" }, distractors: { type: "string" }, whitening: { type: "string" }, seed: { type: "string" },
        });
        noPositionals("copydetect", positionals);
        return copyDetectCommand(values, io);
      }
      case "videoseg": {
        const { values, positionals } = parse(rest, {
          ...WEIGHTS_OPTIONS, clips: { type: "string" }, frames: { type: "string" }, size: { type: "string" }, objects: { type: "string" }, "n-last-frames": { type: "string" },
          topk: { type: "string" }, neighborhood: { type: "string" }, seed: { type: "string" }, figure: { type: "string" },
        });
        noPositionals("videoseg", positionals);
        return videosegCommand(values, io);
      }
      case "finetune": {
        const { values, positionals } = parse(rest, {
          ...WEIGHTS_OPTIONS, epochs: { type: "string" }, lr: { type: "string" }, "batch-size": { type: "string" }, "weight-decay": { type: "string" }, labels: { type: "string" },
          "train-count": { type: "string" }, "test-count": { type: "string" }, "probe-epochs": { type: "string" }, "probe-lr": { type: "string" }, seed: { type: "string" },
        });
        noPositionals("finetune", positionals);
        return finetuneCommand(values, io);
      }
      case "explain":
        return await explainCommand(rest, io);
      case undefined:
        // no command: the usage is an error message (stderr, exit 2)
        for (const line of USAGE.split("\n")) io.err(line);
        return 2;
      case "help":
      case "--help":
      case "-h":
        io.out(USAGE);
        return 0;
      default:
        throw new DinoRefError(`unknown command '${command}' (expected check, compare, trace, bench, explain, train, sweep, knn, linear, retrieval, copydetect, videoseg, finetune, inspect, convert, features, attention, segment, dataset, preset or help)`);
    }
  } catch (e) {
    if (e instanceof DinoRefError) {
      io.err(`dino-ref: ${oneLine(e.message)}`);
      return 2;
    }
    throw e;
  } finally {
    setLimits(previous);
  }
}
