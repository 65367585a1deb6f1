// Named float32 tensors: the unit the training equations work on (parameters, gradients, EMA
// teacher weights, optimizer moments). Names follow the official DINO state_dict keys.

import { check } from "./errors.js";
import type { FloatArray } from "./floatArray.js";

/** A tensor with a shape, row-major data, and (for named ones) a state_dict key. */
export interface Tensor<T extends FloatArray = Float32Array> {
  readonly shape: readonly number[];
  readonly data: T;
}

/** A parameter, gradient or state tensor named by its state_dict key. */
export interface NamedTensor extends Tensor<Float32Array> {
  readonly name: string;
}

/** Product of the dimensions (1 for a 0-d shape). */
export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A NamedTensor, zero-filled unless `data` is given; checks that data matches the shape. */
export function namedTensor(name: string, shape: readonly number[], data?: Float32Array): NamedTensor {
  check(shape.every((d) => Number.isInteger(d) && d >= 0), () => `tensor ${name}: shape [${shape.join(", ")}] must hold non-negative integers`);
  const n = numel(shape);
  const d = data ?? new Float32Array(n);
  check(d.length === n, () => `tensor ${name}: ${d.length} elements for shape [${shape.join(", ")}]; expected ${n}`);
  return { name, shape: [...shape], data: d };
}

/** A deep copy (new data buffer). */
export function cloneNamed(t: NamedTensor): NamedTensor {
  return { name: t.name, shape: [...t.shape], data: t.data.slice() };
}

/** Orders names by their UTF-8 bytes, the order golden files use for per-key lists (e.g. clip norms). */
export function compareNamesByBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** "[2, 3]" for messages. */
export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}
