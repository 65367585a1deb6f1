// dino-ref command line. Every user mistake ends as one line `dino-ref: <what and where>` and
// exit code 2; a failed check is exit code 1; success is 0. No stack traces for user errors.

import { DinoRefError } from "../tensor/errors.js";
import { checkCommand, compareCommand } from "./check.js";
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
        [--config FILE.json] [--set KEY=VALUE]...  change any config field (see 'preset NAME')
        [--no-eval]        skip the k-NN evaluations and attention pictures (CI smoke runs)
                           presets: ${PRESET_NAMES.join(", ")}
  sweep --out DIR --grid KEY=V1,V2,...  one training run per point of a grid of config values,
                           one budget each; DIR/sweep.md and sweep.json: k-NN gain over init,
                           student gain, seconds, GFLOP, entropy and KL at the end, collapse warnings
        [--grid K1/K2=A1/A2,B1/B2]...  keys set together; ranges in brackets: [0.1,0.5],[0.2,0.5]
        [--steps S] [--seconds T]  each run's budget; [--eval-limit N] k-NN on ≤ N held-out images
        [--preset NAME] [--set KEY=VALUE]... [--config FILE.json] [--seed N] [--no-eval]
        [--segment-count N]  on mnist-clutter also the best attention head's Jaccard (as segment)
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
  preset NAME              print a training preset's full configuration as JSON
  knn --checkpoint FILE    weighted k-NN accuracy of a checkpoint's teacher [--k 20] [--temperature 0.07]
                           [--student | --init (the same net at initialisation)] [--features cls|cls+avgpool]
  help                     this text

environment:
  DINO_REF_KERNELS=ts      run the plain-TypeScript oracles instead of the SIMD wasm kernels`;

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
          data: { type: "string" }, "skip-bad": { type: "boolean" }, set: { type: "string", multiple: true }, config: { type: "string" }, "no-eval": { type: "boolean" },
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
        });
        noPositionals("linear", positionals);
        return linearCommand(values, io);
      }
      case "inspect":
        return inspectCommand(parse(rest, {}).positionals, io);
      case "knn": {
        const { values, positionals } = parse(rest, { checkpoint: { type: "string" }, k: { type: "string" }, temperature: { type: "string" }, student: { type: "boolean" }, features: { type: "string" }, init: { type: "boolean" } });
        noPositionals("knn", positionals);
        return knnCommand(values, io);
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
        throw new DinoRefError(`unknown command '${command}' (expected check, compare, bench, explain, train, sweep, knn, linear, inspect, attention, segment, dataset, preset or help)`);
    }
  } catch (e) {
    if (e instanceof DinoRefError) {
      io.err(`dino-ref: ${e.message}`);
      return 2;
    }
    throw e;
  }
}
