// Runs the dino-ref CLI in-process and collects what it printed (tests).
import { main } from "../src/cli/main.js";
import type { Io } from "../src/cli/io.js";

/** The exit code and the stdout / stderr lines of `dino-ref ...argv`. */
export async function runCli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l) };
  const code = await main(argv, io);
  return { code, out: out.join("\n"), err: err.join("\n") };
}
