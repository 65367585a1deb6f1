// Typed access to a case's inputs and params, with errors that name the case file, the tensor or
// param, and what was expected. Shapes are checked against symbolic dimensions: the first tensor
// that uses a letter binds it, and later tensors must agree (`in.b` is [K, N] with K from `in.a`).

import { DinoRefError } from "../tensor/errors.js";
import { tensor, type DType, type StTensor } from "../io/safetensors.js";
import { numel } from "../tensor/named.js";
import { checkMemory } from "../tensor/limits.js";

export type Dim = number | string;

export class OpArgs {
  private readonly dims = new Map<string, { size: number; from: string }>();

  constructor(
    readonly op: string,
    readonly source: string,
    readonly inputs: ReadonlyMap<string, StTensor>,
    readonly params: Readonly<Record<string, unknown>>,
  ) {}

  /** The F32 input `name` with its shape checked against `dims`. */
  f32(name: string, dims?: readonly Dim[]): Float32Array {
    return this.input(name, "F32", dims).data as Float32Array;
  }

  /** The F64 input `name` with its shape checked against `dims`. */
  f64(name: string, dims?: readonly Dim[]): Float64Array {
    return this.input(name, "F64", dims).data as Float64Array;
  }

  /** The input `name` (without `in.`), of the given dtype, shape checked against `dims`. */
  input(name: string, dtype: DType, dims?: readonly Dim[]): StTensor {
    const t = this.inputs.get(name);
    if (t === undefined) this.fail(`tensor in.${name} is missing (op ${this.op} needs it)`);
    if (t.dtype !== dtype) this.fail(`tensor in.${name} has dtype ${t.dtype}, expected ${dtype}`);
    if (dims !== undefined) this.checkShape(`in.${name}`, t.shape, dims);
    return t;
  }

  /** Inputs whose names start with `prefix`, keyed by the rest of the name (e.g. "teacher." → official keys). */
  prefixed(prefix: string): Map<string, StTensor> {
    const found = new Map<string, StTensor>();
    for (const [name, t] of this.inputs) if (name.startsWith(prefix)) found.set(name.slice(prefix.length), t);
    return found;
  }

  /**
   * How many distinct sub-modules the inputs under `prefix` hold (`model.blocks.` → the block
   * indices present): the bound of a count param (depth, nlayers), so that a param of 10^9 is an
   * error instead of 10^9 parameter descriptions.
   */
  modulesUnder(prefix: string): number {
    return new Set([...this.prefixed(prefix).keys()].map((k) => k.split(".")[0])).size;
  }

  /** The size bound to a symbolic dimension (after the tensors that use it were read). */
  dim(letter: string): number {
    const d = this.dims.get(letter);
    if (d === undefined) throw new Error(`${this.op}: dimension ${letter} was not bound by any input`);
    return d.size;
  }

  /** A numeric param; `integer` and `min`/`max` (inclusive) are checked. */
  number(name: string, opts: { integer?: boolean; min?: number; max?: number; positive?: boolean } = {}): number {
    const v = this.params[name];
    if (typeof v !== "number" || !Number.isFinite(v)) this.fail(`param ${name} must be a finite number, got ${JSON.stringify(v)}`);
    if (opts.integer && !Number.isInteger(v)) this.fail(`param ${name} must be an integer, got ${v}`);
    if (opts.positive && !(v > 0)) this.fail(`param ${name} must be > 0, got ${v}`);
    if (opts.min !== undefined && v < opts.min) this.fail(`param ${name} must be ≥ ${opts.min}, got ${v}`);
    if (opts.max !== undefined && v > opts.max) this.fail(`param ${name} must be ≤ ${opts.max}, got ${v}`);
    return v;
  }

  /** A boolean param (true/false, or 0/1). */
  boolean(name: string): boolean {
    const v = this.params[name];
    if (v === true || v === 1) return true;
    if (v === false || v === 0) return false;
    return this.fail(`param ${name} must be true or false, got ${JSON.stringify(v)}`);
  }

  /** Whether the param is present. */
  has(name: string): boolean {
    return this.params[name] !== undefined;
  }

  /**
   * Throws, naming the case and what would need the memory, unless `bytes` fits the --max-memory
   * limit. Ops whose outputs or work grow faster than their inputs (N² attention weights, a
   * schedule of epochs × iterations, an image size given as a param) call it before allocating.
   */
  budget(bytes: number, what: string, hint?: string): void {
    checkMemory(bytes, `${this.source}: op ${this.op}: ${what}`, hint);
  }

  fail(what: string): never {
    throw new DinoRefError(`${this.source}: ${what}`);
  }

  private checkShape(name: string, shape: readonly number[], dims: readonly Dim[]): void {
    const expected = `[${dims.join(", ")}]`;
    if (shape.length !== dims.length) this.fail(`tensor ${name} has shape [${shape.join(", ")}], expected ${dims.length} dimensions ${expected}`);
    dims.forEach((d, i) => {
      if (typeof d === "number") {
        if (shape[i] !== d) this.fail(`tensor ${name} has shape [${shape.join(", ")}], expected ${expected}`);
        return;
      }
      const bound = this.dims.get(d);
      if (bound === undefined) {
        this.dims.set(d, { size: shape[i], from: name });
      } else if (bound.size !== shape[i]) {
        this.fail(`tensor ${name} has shape [${shape.join(", ")}], expected ${expected} with ${d} = ${bound.size} (from ${bound.from})`);
      }
    });
  }
}

/** An F32 output tensor. */
export function f32Out(shape: readonly number[], data: Float32Array = new Float32Array(numel(shape))): StTensor {
  return tensor("F32", shape, data);
}

/** An F64 output tensor. */
export function f64Out(shape: readonly number[], data: Float64Array): StTensor {
  return tensor("F64", shape, data);
}
