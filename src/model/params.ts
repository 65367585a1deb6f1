// All parameters of a model in one flat float32 block (in wasm memory on the wasm backend), with
// named views whose names are the official state_dict keys (llm.c's layout): AdamW, the EMA and clipping are then short
// loops over tensors, and a checkpoint is the list of views. Gradients, when the model trains,
// live in a second flat block with the same layout. A store built without gradients (the EMA
// teacher) refuses to hand any out: the teacher never receives gradients.

import { DinoRefError } from "../tensor/errors.js";
import { numel, type NamedTensor } from "../tensor/named.js";
import type { Backend, Tensor } from "../kernels/backend.js";

/** A parameter's state_dict key and shape. */
export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

/** Access to the parameters (and gradients) of one module, by names relative to the module. */
export interface ParamScope {
  param(name: string): Tensor;
  grad(name: string): Tensor;
}

/**
 * Parameters held in ordinary JavaScript arrays (float32 or float64): for the TypeScript
 * backends, golden cases and float64 finite-difference checks. Same names as a ParamStore.
 */
export class HostParams implements ParamScope {
  readonly params = new Map<string, Tensor>();
  readonly grads = new Map<string, Tensor>();

  constructor(specs: readonly ParamSpec[], Type: Float32ArrayConstructor | Float64ArrayConstructor = Float64Array) {
    for (const s of specs) {
      this.params.set(s.name, { shape: [...s.shape], data: new Type(numel(s.shape)) });
      this.grads.set(s.name, { shape: [...s.shape], data: new Type(numel(s.shape)) });
    }
  }

  param(name: string): Tensor {
    const t = this.params.get(name);
    if (t === undefined) throw new DinoRefError(`no parameter named ${name} in this model`);
    return t;
  }

  grad(name: string): Tensor {
    const t = this.grads.get(name);
    if (t === undefined) throw new DinoRefError(`no parameter named ${name} in this model`);
    return t;
  }

  scope(prefix: string): ParamScope {
    return { param: (name) => this.param(prefix + name), grad: (name) => this.grad(prefix + name) };
  }
}

export class ParamStore implements ParamScope {
  /** Parameters in creation order (the official named_parameters() order), views into `flat`. */
  readonly params: readonly NamedTensor[];
  /** Gradients, same order and shapes, views into `flatGrad`; empty for a store without gradients. */
  readonly grads: readonly NamedTensor[];
  /** All parameters as one flat tensor [numel]. */
  readonly flat: Tensor;
  /** All gradients as one flat tensor [numel], or null. */
  readonly flatGrad: Tensor | null;
  private readonly index: ReadonlyMap<string, number>;
  private readonly be: Backend;

  private constructor(be: Backend, specs: readonly ParamSpec[], withGrads: boolean) {
    this.be = be;
    const index = new Map<string, number>();
    specs.forEach((s, i) => {
      if (index.has(s.name)) throw new Error(`ParamStore: parameter ${s.name} is declared twice`);
      index.set(s.name, i);
    });
    this.index = index;
    const total = specs.reduce((n, s) => n + numel(s.shape), 0);
    // views into the flat block (wasm memory is shared: a grow never detaches them)
    const makeViews = (flat: Tensor) => {
      let at = 0;
      return specs.map((s) => {
        const n = numel(s.shape);
        const t: NamedTensor = { name: s.name, shape: [...s.shape], data: flat.data.subarray(at, at + n) as Float32Array };
        at += n;
        return t;
      });
    };
    this.flat = be.alloc([total]);
    this.params = makeViews(this.flat);
    this.flatGrad = withGrads ? be.alloc([total]) : null;
    this.grads = this.flatGrad === null ? [] : makeViews(this.flatGrad);
  }

  /**
   * A zero-filled float32 store for `specs` on backend `be` (in wasm memory for the wasm backend),
   * with a gradient block unless `grads` is false. Float64 parameters are HostParams.
   */
  static create(be: Backend, specs: readonly ParamSpec[], opts: { grads?: boolean } = {}): ParamStore {
    if (be.name === "ts64") throw new Error("ParamStore holds float32 parameters: use HostParams(specs, Float64Array) on the ts64 backend");
    return new ParamStore(be, specs, opts.grads ?? true);
  }

  /** The specs (names and shapes) in order. */
  get specs(): ParamSpec[] {
    return this.params.map((p) => ({ name: p.name, shape: p.shape }));
  }

  /** Total number of parameter values. */
  get numel(): number {
    return this.flat.data.length;
  }

  has(name: string): boolean {
    return this.index.has(name);
  }

  param(name: string): NamedTensor {
    return this.params[this.indexOf(name)];
  }

  grad(name: string): NamedTensor {
    if (this.flatGrad === null) throw new Error(`ParamStore: ${name} has no gradient: this store (e.g. the EMA teacher) never receives gradients`);
    return this.grads[this.indexOf(name)];
  }

  /** Sets every gradient to 0. */
  zeroGrads(): void {
    if (this.flatGrad !== null) this.be.zero(this.flatGrad.data);
  }

  /** Copies all parameter values from a store with the same specs (the teacher starts as the student). */
  copyFrom(other: ParamStore): void {
    const same = other.params.length === this.params.length && other.params.every((p, i) => p.name === this.params[i].name && p.data.length === this.params[i].data.length);
    if (!same) throw new Error("ParamStore.copyFrom: the stores have different parameters");
    this.flat.data.set(other.flat.data);
  }

  /** Whether two stores share any storage (the teacher must never alias the student). */
  sharesStorageWith(other: ParamStore): boolean {
    const [a, b] = [this.flat.data, other.flat.data];
    return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
  }

  /** A view of the parameters under `prefix` (e.g. "backbone."), addressed by the rest of the name. */
  scope(prefix: string): ParamScope {
    return {
      param: (name) => this.param(prefix + name),
      grad: (name) => this.grad(prefix + name),
    };
  }

  private indexOf(name: string): number {
    const i = this.index.get(name);
    if (i === undefined) throw new DinoRefError(`no parameter named ${name} in this model`);
    return i;
  }
}
