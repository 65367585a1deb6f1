// Command-line arguments: node:util parseArgs with its errors turned into one-line user errors,
// and the number parsers every command uses, so that `--steps -1`, `--seed 1e300` or `--k ""` all
// get the same kind of message: the option, the value given, and what is allowed.

import { parseArgs, type ParseArgsConfig } from "node:util";
import { DinoRefError, shown } from "../tensor/errors.js";
export { oneLine } from "../tensor/errors.js";
import { parseByteSize, setLimits } from "../tensor/limits.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** What `parse` returns: the options' values, typed by their declarations, and the positionals. */
export type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

/**
 * Parses `args` against `options` (strict: an unknown option is an error). A negative number given
 * to an option that takes a value (`--steps -1`) is read as that value, so the option's own check
 * can say what is allowed, instead of parseArgs's "argument is ambiguous".
 */
export function parse<O extends Options>(args: readonly string[], options: O): Parsed<O> {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const name = a.startsWith("--") && !a.includes("=") ? a.slice(2) : null;
    const next = args[i + 1];
    if (name !== null && options[name]?.type === "string" && next !== undefined && /^-[\d.]/.test(next)) {
      joined.push(`${a}=${next}`);
      i++;
    } else {
      joined.push(a);
    }
  }
  try {
    return parseArgs({ args: joined, options, allowPositionals: true, strict: true });
  } catch (e) {
    // parseArgs explains some errors over several lines: the first one says what is wrong
    throw new DinoRefError(firstLine((e as Error).message));
  }
}

/** Throws unless there are no positional arguments (for commands that take options only). */
export function noPositionals(command: string, positionals: readonly string[]): void {
  if (positionals.length > 0) throw new DinoRefError(`${command}: unexpected argument ${shown(positionals[0])}`);
}

/** An integer option in [min, max] (max defaults to the largest exact integer), or undefined when absent. */
export function integerArg(name: string, value: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const n = value.trim() === "" ? NaN : Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new DinoRefError(`--${name} ${shown(value)}: expected an integer ${max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `in [${min}, ${max}]`}`);
  }
  return n;
}

/** A finite number option satisfying `ok` (described by `what`), or undefined when absent. */
export function numberArg(name: string, value: string | undefined, ok: (x: number) => boolean, what: string): number | undefined {
  if (value === undefined) return undefined;
  const n = value.trim() === "" ? NaN : Number(value);
  if (!Number.isFinite(n) || !ok(n)) throw new DinoRefError(`--${name} ${shown(value)}: expected ${what}`);
  return n;
}


function firstLine(text: string): string {
  return text.split("\n")[0].trim();
}

/**
 * Takes the limit options (`--max-pixels N`, `--max-memory SIZE`; any command, anywhere on the
 * line) out of `argv`, sets the limits (src/tensor/limits.ts) and returns the other arguments.
 */
export function limitArgs(argv: readonly string[]): string[] {
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(max-pixels|max-memory)(?:=(.*))?$/s.exec(argv[i]);
    if (m === null) {
      rest.push(argv[i]);
      continue;
    }
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new DinoRefError(`--${m[1]}: expected a value`);
    if (m[1] === "max-pixels") {
      setLimits({ maxPixels: integerArg("max-pixels", value, 1)! });
    } else {
      const bytes = parseByteSize(value);
      if (bytes === null) throw new DinoRefError(`--max-memory ${shown(value)}: expected a size such as 512M or 4G (bytes, or K, M, G, T)`);
      setLimits({ maxMemory: bytes });
    }
  }
  return rest;
}
