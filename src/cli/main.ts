// dino-ref command line. Every user mistake ends as one line `dino-ref: <what and where>` and
// exit code 2; a failed check is exit code 1; success is 0. No stack traces for user errors.

import { DinoRefError } from "../tensor/errors.js";
import { checkCommand, compareCommand } from "./check.js";
import { benchCommand } from "./bench.js";
import { EXPLAIN_TOPICS } from "../explain/equations.js";
import { explainCommand } from "./explain.js";
import { trainCommand, PRESET_NAMES } from "./train.js";
import { knnCommand } from "./knn.js";
import { linearCommand } from "./linear.js";
import { inspectCommand } from "./inspect.js";
import { attentionCommand } from "./attention.js";
import { segmentCommand } from "./segment.js";
import { datasetCommand } from "./dataset.js";
import { retrievalCommand } from "./retrieval.js";
import { copyDetectCommand } from "./copydetect.js";
import { videosegCommand } from "./videoseg.js";
import { finetuneCommand } from "./finetune.js";
import { preset } from "../train/config.js";
import { noPositionals, parse } from "./args.js";
import { consoleIo, type Io } from "./io.js";

const USAGE = `usage: dino-ref <command> [options]

commands:
  check PATH...            recompute every golden case file under PATH (files or folders) and
                           compare each output with the case's tolerance; exit 1 if any fails
  compare CASE ACTUAL      compare the out.* tensors of ACTUAL (another implementation's
                           safetensors file) with the case's expected outputs
  bench [--json]           kernel benchmarks (GFLOP/s, wasm-simd against the TypeScript oracle)
                           [--filter TEXT] [--min-time SECONDS]
  explain TOPIC [--out DIR] the equations on concrete numbers: ${EXPLAIN_TOPICS.join(" | ")};
                           with --out DIR also as PNG plots
  explain collapse --out DIR  the collapse study: full DINO, centering only and sharpening only
                           trained from the same weights; CSV, PNG plot and a verdict per run
                           [--preset collapse-tiny] [--seed N] [--steps S]
  train --out DIR          train a tiny ViT with DINO on the bundled digits and report k-NN accuracy
        [--preset NAME] [--seed N] [--epochs E | --steps S] [--resume]
        [--data DIR [--skip-bad]]  a folder of PNGs, one subfolder per class, instead of the digits
                           presets: ${PRESET_NAMES.join(", ")}
  inspect FILE             what a weights, checkpoint or case file holds: architecture, parameter
                           count, fingerprint, missing and unexpected keys
  attention IMAGE... --checkpoint FILE --out DIR
                           the last block's CLS attention per head as PNG heat maps, their mean,
                           and the masks keeping --threshold (0.6) of the mass [--zoom N] [--student]
  segment --checkpoint FILE  Jaccard of the attention masks against ground-truth masks, per head,
                           beside the same net at init [--data DIR | --dataset mnist-clutter]
                           [--count N] [--threshold 0.6] [--student] [--figure FILE.png]
  dataset NAME --out DIR   write a generated data set with masks as PNGs (mnist-clutter)
                           [--seed N] [--count N] [--split test|train]
  linear --checkpoint FILE the official linear probe on frozen teacher features
                           [--n-last-blocks 4] [--avgpool] [--epochs 100] [--lr 0.001] [--student]
                           [--labels 1%|10%|N [--seed N]] (few labels: beside init and raw pixels) [--json]
  preset NAME              print a training preset's full configuration as JSON
  knn --checkpoint FILE    weighted k-NN accuracy of a checkpoint's teacher [--k 20] [--temperature 0.07] [--student]
                           [--labels 1%|10%|N [--seed N]] (few labels: beside init and raw pixels) [--json]

the paper's other applications, on generated data, for any weights (official-key safetensors or a
dino-ref checkpoint; --checkpoint FILE works too), beside the same net at init [--student] [--json]:
  retrieval --weights FILE image retrieval, revisited Oxford/Paris protocol (mAP Medium/Hard) on
                           renderings of digit instances [--queries 50] [--easy 2] [--hard 2]
                           [--junk 1] [--distractors 250] [--seed 0]
  copydetect --weights FILE  copy detection, Copydays protocol (CLS + GeM, whitening, mAP) on strong
                           copies among distractors [--originals 100] [--copies 2]
                           [--distractors 1000] [--whitening 1000] [--seed 0]
  videoseg --weights FILE  video object segmentation by label propagation, DAVIS J&F, on clips of
                           moving digits [--clips 20] [--frames 12] [--size 48] [--objects 2]
                           [--n-last-frames 7] [--topk 5] [--neighborhood 12] [--seed 0] [--figure FILE.png]
  finetune --weights FILE  backbone + linear head trained with labels, beside the linear probe and
                           the net at init fine-tuned [--epochs 2] [--lr 0.001] [--batch-size 64]
                           [--weight-decay 0.05] [--labels 1%|10%|N | --train-count N] [--test-count N]
                           [--probe-epochs 100] [--probe-lr 1] [--seed 0]
  help                     this text

environment:
  DINO_REF_KERNELS=ts      run the plain-TypeScript oracles instead of the SIMD wasm kernels`;

/** The options every application command takes: the weights file (--checkpoint is the same), the network, --json. */
const WEIGHTS_OPTIONS = { weights: { type: "string" }, checkpoint: { type: "string" }, student: { type: "boolean" }, json: { type: "boolean" } } as const;

/** Runs the CLI on `argv` (without node and script) and returns the exit code. */
export async function main(argv: readonly string[], io: Io = consoleIo): Promise<number> {
  try {
    const [command, ...rest] = argv;
    switch (command) {
      case "check":
        return checkCommand(parse(rest, {}).positionals, io);
      case "compare":
        return compareCommand(parse(rest, {}).positionals, io);
      case "bench": {
        const { values, positionals } = parse(rest, { json: { type: "boolean" }, filter: { type: "string" }, "min-time": { type: "string" } });
        noPositionals("bench", positionals);
        return await benchCommand(
          { json: values.json === true, filter: values.filter, minTime: values["min-time"] },
          io,
        );
      }
      case "train": {
        const { values, positionals } = parse(rest, {
          preset: { type: "string" }, out: { type: "string" }, seed: { type: "string" }, epochs: { type: "string" }, steps: { type: "string" }, resume: { type: "boolean" },
          data: { type: "string" }, "skip-bad": { type: "boolean" },
        });
        noPositionals("train", positionals);
        return trainCommand(values, io);
      }
      case "preset": {
        const names = parse(rest, {}).positionals;
        if (names.length !== 1) throw new DinoRefError(`preset: expected one NAME (${PRESET_NAMES.join(", ")})`);
        io.out(JSON.stringify(preset(names[0]), null, 2));
        return 0;
      }
      case "attention": {
        const { values, positionals } = parse(rest, { checkpoint: { type: "string" }, out: { type: "string" }, threshold: { type: "string" }, zoom: { type: "string" }, student: { type: "boolean" } });
        return attentionCommand(positionals, values, io);
      }
      case "segment": {
        const { values, positionals } = parse(rest, {
          checkpoint: { type: "string" }, data: { type: "string" }, dataset: { type: "string" }, count: { type: "string" }, threshold: { type: "string" }, student: { type: "boolean" }, figure: { type: "string" }, "figure-count": { type: "string" },
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
          labels: { type: "string" }, seed: { type: "string" }, json: { type: "boolean" },
        });
        noPositionals("linear", positionals);
        return linearCommand(values, io);
      }
      case "inspect":
        return inspectCommand(parse(rest, {}).positionals, io);
      case "knn": {
        const { values, positionals } = parse(rest, {
          checkpoint: { type: "string" }, k: { type: "string" }, temperature: { type: "string" }, student: { type: "boolean" },
          labels: { type: "string" }, seed: { type: "string" }, json: { type: "boolean" },
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
      case "help":
      case "--help":
      case "-h":
        io.out(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new DinoRefError(`unknown command '${command}' (expected check, compare, bench, explain, train, knn, linear, retrieval, copydetect, videoseg, finetune, inspect, attention, segment, dataset, preset or help)`);
    }
  } catch (e) {
    if (e instanceof DinoRefError) {
      io.err(`dino-ref: ${e.message}`);
      return 2;
    }
    throw e;
  }
}
