// PyTorch as the peer of `dino-ref bench`: runs the reference-tests scripts with /usr/bin/python3
// in the same bench run, so every ratio against PyTorch comes from one invocation. The variable
// OPENBLAS_CORETYPE is removed from PyTorch's environment only: OpenBLAS then picks its kernels for
// this CPU (a value forced on the whole environment, e.g. Haswell on an AVX-512 machine, would hold
// PyTorch to narrower vectors than it has); the scripts report the kernel OpenBLAS used.

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const PYTHON = "/usr/bin/python3";
/** The PyTorch DINO trainer of our presets. */
export const TRAIN_SCRIPT = fileURLToPath(new URL("../../reference-tests/train_torch.py", import.meta.url));
/** PyTorch's ViT throughput. */
export const VIT_SCRIPT = fileURLToPath(new URL("../../reference-tests/bench_vit_torch.py", import.meta.url));

export type TorchOutput = { lines: Record<string, unknown>[] } | { skipped: string };

/** Runs a reference-tests script with `args`; its stdout JSON lines, or why it could not run. */
export function runTorchScript(script: string, args: readonly string[]): TorchOutput {
  if (!existsSync(PYTHON) || !existsSync(script)) return { skipped: `needs ${PYTHON} with torch and ${script}` };
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  const r = spawnSync(PYTHON, [script, ...args], { encoding: "utf8", timeout: 900_000, env });
  const lines = (r.stdout ?? "").trim().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
  if (r.status !== 0 || lines.length === 0) {
    return { skipped: `PyTorch did not run (${(r.stderr ?? String(r.error)).trim().split("\n").pop()}); install python3-torch` };
  }
  return { lines };
}

/** How PyTorch ran, for a bench row's note: the OpenBLAS kernel and thread count. */
export function blasNote(line: Record<string, unknown>): string {
  return `OpenBLAS ${String(line.openblas_core ?? "?")} kernels, ${String(line.blas_threads ?? "?")} BLAS threads`;
}

/** PyTorch's median seconds per training step of `presetName` with `threads` threads, or why it could not run. */
export function torchTrainStep(presetName: string, threads: number, steps: number): { seconds: number; reps: number; note: string } | { skipped: string } {
  const out = runTorchScript(TRAIN_SCRIPT, ["--preset", presetName, "--threads", String(threads), "--bench-steps", String(steps)]);
  if ("skipped" in out) return out;
  const line = out.lines[out.lines.length - 1];
  return { seconds: line.seconds_per_step as number, reps: line.reps as number, note: `train_torch.py --bench-steps ${steps}; ${blasNote(line)}` };
}

/** PyTorch's median seconds per ViT-S/16 forward (224 px, batch 16) with `threads` threads, or why it could not run. */
export function torchVitForward(threads: number, repeats: number): { seconds: number; reps: number; note: string } | { skipped: string } {
  const out = runTorchScript(VIT_SCRIPT, ["--threads", String(threads), "--repeats", String(repeats), "--models", "vits16"]);
  if ("skipped" in out) return out;
  const line = out.lines.find((l) => l.name === "vit_small/16 forward 224px b16");
  if (line === undefined) return { skipped: "bench_vit_torch.py printed no vit_small/16 line" };
  return { seconds: (line.ms_per_batch as number) / 1000, reps: line.repeats as number, note: `bench_vit_torch.py; ${blasNote(line)}` };
}
