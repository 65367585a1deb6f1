// A small pool of worker threads that run wasm kernels on the kernels' SHARED memory. A parallel
// call is one chunked job: an exported kernel, its numeric arguments, and a range [0, len) cut
// into chunks of `step`; the calling thread and the workers claim chunks one at a time from a
// shared counter (so a thread slowed by other processes simply takes fewer), and each runs the
// kernel on a claimed chunk with the chunk's bounds and its own workspace put into the arguments.
// Chunks must write disjoint memory; the caller allocates the workspaces before the call (so
// memory never grows during it). The call returns when every chunk is done.
//
// DINO_REF_THREADS sets the number of threads (default min(2, os.availableParallelism())); 1 means
// no worker is ever started. Workers start on the first parallel call, are unref'd (they never
// keep the process alive) and wait in Atomics.wait between jobs.
//
// Synchronisation: one SharedArrayBuffer per worker holds a control block (Int32 slots GO, DONE,
// STATUS, READY) and the job (Float64 slots); one more holds the chunk counter. The caller writes
// the job, then Atomics.store(GO, seq) + notify; the worker claims chunks (Atomics.add) until none
// is left, posts an error text on its MessagePort if the kernel threw, then Atomics.store(DONE,
// seq) + notify. The caller, after claiming chunks itself, Atomics.waits on DONE (with a timeout)
// and reads a failure with receiveMessageOnPort, so errors surface as exceptions on the calling
// thread, never as a hang.

import { Worker, MessageChannel, receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import { availableParallelism } from "node:os";
import { loadedKernels, type KernelExports } from "./wasm.js";
import { DinoRefError } from "../tensor/errors.js";

/** Kernels a worker may run (by index in this list). */
const KERNELS = [
  "matmulPart", "attentionForwardPart", "attentionBackwardPart", "geluForwardPart", "geluBackwardPart",
  "layerNormForwardPart", "layerNormBackwardRowsPart", "layerNormParamGradsPart", "matmulBiasGradPart",
] as const;
export type ThreadKernel = (typeof KERNELS)[number];

/**
 * A kernel call split into chunks: chunk i runs `kernel(args)` with args[loSlot] = i·step,
 * args[hiSlot] = min(len, (i + 1)·step) and args[workSlot] = the running thread's workspace
 * (kernels without a workspace: workSlot −1, and `works` only sets the number of threads).
 */
export interface ChunkedJob {
  kernel: ThreadKernel;
  /** Numeric arguments (pointers, sizes, codes), at most MAX_ARGS. */
  args: readonly number[];
  loSlot: number;
  hiSlot: number;
  len: number;
  step: number;
  workSlot: number;
  /** One workspace per thread: works.length threads take part (the caller and works.length − 1 workers). */
  works: readonly number[];
  /** false: the caller only waits, the workers do every chunk (default: the `callerWorks` setting). */
  callerWorks?: boolean;
}

// job slots (Float64): kernel index, loSlot, hiSlot, len, step, argument count, arguments
const J_KERNEL = 0;
const J_LO = 1;
const J_HI = 2;
const J_LEN = 3;
const J_STEP = 4;
const J_NARGS = 5;
const J_ARGS = 6;

// control block: Int32 slots, then the job as Float64 slots from byte JOB_OFFSET
const GO = 0;
const DONE = 1;
const STATUS = 2;
const READY = 3;
const JOB_OFFSET = 64;
const MAX_ARGS = 30;
const CONTROL_BYTES = JOB_OFFSET + 8 * (J_ARGS + MAX_ARGS);
/** The chunk counter of the running job, shared by all threads (Int32 slot 0). */
const claims = new Int32Array(new SharedArrayBuffer(4));

interface Settings {
  /** Threads a parallel kernel may use (1: single-threaded, no workers; 0: DINO_REF_THREADS). */
  threads: number;
  /** Smallest amount of work (multiply-adds) worth splitting across threads. */
  minWork: number;
  /** Longest wait for one job of a worker before giving up with an error (ms). */
  jobTimeoutMs: number;
  /** Longest wait for a new worker to instantiate the kernels (ms). */
  startTimeoutMs: number;
  /** false: callers leave every chunk to the workers (tests: results computed by worker instances only). */
  callerWorks: boolean;
}

let settings: Settings = {
  threads: 0,
  minWork: 2 ** 18,
  jobTimeoutMs: 120_000,
  startTimeoutMs: 60_000,
  callerWorks: true,
};
let envThreads: number | null = null;

/** The thread count a DINO_REF_THREADS value asks for: unset or empty gives min(2, cores). */
export function parseThreadCount(text: string | undefined, cores = availableParallelism()): number {
  if (text === undefined || text === "") return Math.max(1, Math.min(2, cores));
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 64) {
    throw new DinoRefError(`DINO_REF_THREADS=${text}: expected a whole number of threads from 1 to 64`);
  }
  return n;
}

/** The number of threads parallel kernels use (DINO_REF_THREADS, or a `configureThreads` override). */
export function threadCount(): number {
  if (settings.threads > 0) return settings.threads;
  envThreads ??= parseThreadCount(process.env.DINO_REF_THREADS);
  return envThreads;
}

/** Smallest work (multiply-adds) that parallel kernels split across threads. */
export function parallelMinWork(): number {
  return settings.minWork;
}

/**
 * Overrides thread settings (benchmarks and tests: e.g. 1 vs 2 threads in one process, or
 * minWork 0 to split even tiny products); returns the previous settings, for restoring.
 * Lowering `threads` keeps already started workers (they stay idle).
 */
export function configureThreads(change: Partial<Settings>): Settings {
  const previous = settings;
  if (change.threads !== undefined && !(Number.isInteger(change.threads) && change.threads >= 0)) {
    throw new DinoRefError(`configureThreads: threads = ${change.threads}; expected a positive integer (0: DINO_REF_THREADS)`);
  }
  settings = { ...settings, ...change };
  return previous;
}

/** Runs `fn` with some settings overridden, then restores the previous ones. */
export function withThreadSettings<T>(change: Partial<Settings>, fn: () => T): T {
  const previous = configureThreads(change);
  try {
    return fn();
  } finally {
    settings = previous;
  }
}

// The worker: plain JavaScript run with `eval`, so it works alike from dist/ and from the
// TypeScript sources under vitest. It runs as CommonJS or, when the process was started with
// --input-type=module (inherited by workers), as a module: hence process.getBuiltinModule, not
// require or import. It instantiates the kernels as wasmInstance.ts does.
const WORKER_SOURCE = `
"use strict";
const { workerData } = process.getBuiltinModule("node:worker_threads");
const { module, memory, control, port, kernels } = workerData;
const claims = new Int32Array(workerData.claims);
const ctl = new Int32Array(control, 0, ${JOB_OFFSET / 4});
const job = new Float64Array(control, ${JOB_OFFSET}, ${J_ARGS + MAX_ARGS});
const report = (e) => port.postMessage(e instanceof Error && e.stack ? e.stack : String(e));
let exports = null;
try {
  const text = (ptr) => {
    if (ptr === 0) return "?";
    const bytes = new Uint32Array(memory.buffer, ptr - 4, 1)[0];
    return String.fromCharCode(...new Uint16Array(memory.buffer, ptr, bytes >>> 1));
  };
  const env = {
    memory,
    abort(m, f, line, column) {
      throw new Error("wasm kernel assertion failed: " + text(m) + " at " + text(f) + ":" + line + ":" + column);
    },
  };
  exports = new WebAssembly.Instance(module, { env }).exports;
  Atomics.store(ctl, ${READY}, 1);
} catch (e) {
  report(e);
  Atomics.store(ctl, ${READY}, -1);
}
Atomics.notify(ctl, ${READY});
let seen = 0;
while (exports !== null) {
  Atomics.wait(ctl, ${GO}, seen);
  const seq = Atomics.load(ctl, ${GO});
  if (seq === seen) continue;
  seen = seq;
  let status = 0;
  try {
    // as runChunks in threads.ts
    const args = [];
    for (let i = 0; i < job[${J_NARGS}]; i++) args.push(job[${J_ARGS} + i]);
    const kernel = exports[kernels[job[${J_KERNEL}]]];
    const len = job[${J_LEN}], step = job[${J_STEP}], lo = job[${J_LO}], hi = job[${J_HI}];
    for (;;) {
      const at = Atomics.add(claims, 0, 1) * step;
      if (at >= len) break;
      args[lo] = at;
      args[hi] = Math.min(len, at + step);
      kernel(...args);
    }
  } catch (e) {
    report(e);
    status = 1;
  }
  Atomics.store(ctl, ${STATUS}, status);
  Atomics.store(ctl, ${DONE}, seq);
  Atomics.notify(ctl, ${DONE});
}
`;

class KernelThread {
  readonly worker: Worker;
  readonly ctl: Int32Array;
  readonly job: Float64Array;
  private readonly port: MessagePort;
  private seq = 0;
  /** Set when the worker exited or failed: the pool replaces it. */
  broken: string | null = null;
  private ready = false;

  constructor(readonly index: number) {
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    this.ctl = new Int32Array(control, 0, JOB_OFFSET / 4);
    this.job = new Float64Array(control, JOB_OFFSET, J_ARGS + MAX_ARGS);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    port1.unref();
    const { module, memory } = loadedKernels();
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      name: `dino-ref kernels ${index}`,
      workerData: { module, memory, control, claims: claims.buffer, port: port2, kernels: KERNELS },
      transferList: [port2],
    });
    this.worker.unref();
    this.worker.on("error", (e) => (this.broken = `worker error: ${e instanceof Error ? e.message : String(e)}`));
    this.worker.on("exit", (code) => (this.broken ??= `worker exited with code ${code}`));
  }

  /** Waits (once) for the worker's wasm instance. */
  awaitReady(): void {
    if (this.ready) return;
    if (!waitFor(this.ctl, READY, (v) => v !== 0, settings.startTimeoutMs)) {
      throw this.fail(`did not start within ${settings.startTimeoutMs / 1000} s`);
    }
    if (Atomics.load(this.ctl, READY) !== 1) throw this.fail(`could not instantiate the kernels: ${this.message()}`);
    this.ready = true;
  }

  /** Starts `job` on this worker, with `work` as its workspace. */
  start(job: ChunkedJob, work: number): void {
    const kernel = KERNELS.indexOf(job.kernel);
    if (kernel < 0 || job.args.length > MAX_ARGS) throw new Error(`threads: bad job ${job.kernel} (${job.args.length} arguments)`);
    this.job[J_KERNEL] = kernel;
    this.job[J_LO] = job.loSlot;
    this.job[J_HI] = job.hiSlot;
    this.job[J_LEN] = job.len;
    this.job[J_STEP] = job.step;
    this.job[J_NARGS] = job.args.length;
    for (let i = 0; i < job.args.length; i++) this.job[J_ARGS + i] = job.args[i];
    if (job.workSlot >= 0) this.job[J_ARGS + job.workSlot] = work;
    this.seq = (this.seq + 1) | 0 || 1; // never 0, the initial value of GO
    Atomics.store(this.ctl, GO, this.seq);
    Atomics.notify(this.ctl, GO);
  }

  /** Waits for the job started last; throws if it failed or timed out. */
  finish(): void {
    const seq = this.seq;
    if (!waitFor(this.ctl, DONE, (v) => v === seq, settings.jobTimeoutMs)) {
      throw this.fail(`did not finish a ${KERNELS[this.job[J_KERNEL]]} job within ${settings.jobTimeoutMs / 1000} s (a stuck or crashed worker; DINO_REF_THREADS=1 runs without workers)`);
    }
    if (Atomics.load(this.ctl, STATUS) !== 0) {
      throw new Error(`kernel thread ${this.index}: ${KERNELS[this.job[J_KERNEL]]} failed: ${this.message()}`);
    }
  }

  private message(): string {
    const m = receiveMessageOnPort(this.port);
    return m === undefined ? "(no message)" : String(m.message);
  }

  /** Marks the thread broken, stops the worker and returns the error to throw. */
  private fail(what: string): Error {
    this.broken = what;
    void this.worker.terminate();
    return new Error(`kernel thread ${this.index} ${what}`);
  }
}

/** Atomics.wait on slot `at` until `done(value)` or `timeoutMs` passed; false on timeout. */
function waitFor(ctl: Int32Array, at: number, done: (v: number) => boolean, timeoutMs: number): boolean {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = Atomics.load(ctl, at);
    if (done(v)) return true;
    const left = deadline - performance.now();
    if (left <= 0) return false;
    Atomics.wait(ctl, at, v, left);
  }
}

const pool: KernelThread[] = [];

/** Workers 1..n, started (or restarted, if broken) as needed. */
function workers(n: number): KernelThread[] {
  for (let i = 0; i < n; i++) {
    if (pool[i] === undefined || pool[i].broken !== null) pool[i] = new KernelThread(i + 1);
  }
  const list = pool.slice(0, n);
  for (const t of list) t.awaitReady();
  return list;
}

/**
 * Runs a chunked job on works.length threads: this one (with `kernels`, its own instance) and
 * works.length − 1 workers. Returns when every chunk is done; throws the first failure (after all
 * threads finished or timed out, so no worker still writes into memory the caller may reuse).
 */
export function runChunks(kernels: KernelExports, job: ChunkedJob): void {
  const threads = workers(job.works.length - 1);
  Atomics.store(claims, 0, 0);
  const started: KernelThread[] = [];
  let error: unknown = null;
  try {
    threads.forEach((t, i) => {
      t.start(job, job.works[i + 1]);
      started.push(t);
    });
    // as the worker source's loop
    const args = job.args.slice();
    if (job.workSlot >= 0) args[job.workSlot] = job.works[0];
    const kernel = kernels[job.kernel] as (...args: number[]) => void;
    const callerWorks = job.callerWorks ?? settings.callerWorks;
    while (callerWorks) {
      const at = Atomics.add(claims, 0, 1) * job.step;
      if (at >= job.len) break;
      args[job.loSlot] = at;
      args[job.hiSlot] = Math.min(job.len, at + job.step);
      kernel(...args);
    }
  } catch (e) {
    error = e;
    // let the workers stop after their current chunk
    Atomics.store(claims, 0, 0x3fffffff);
  }
  for (const t of started) {
    try {
      t.finish();
    } catch (e) {
      error ??= e;
    }
  }
  if (error !== null) throw error;
}

/** Most chunks per thread in `runRange` (a thread slowed by other processes takes fewer). */
const RANGE_CHUNKS_PER_THREAD = 4;

/**
 * Runs a range kernel (its last two arguments lo, hi) on [0, len): one call `kernel(...args, 0, len)`
 * when one thread is set or `work` (multiply-add equivalents of the whole call) is under
 * parallelMinWork(), else chunks starting at multiples of `align`, about RANGE_CHUNKS_PER_THREAD
 * per thread, claimed by the threads. For kernels whose every element of [lo, hi) is computed on
 * its own: any split gives the same bits.
 */
export function runRange(kernels: KernelExports, kernel: ThreadKernel, args: readonly number[], len: number, align: number, work: number): void {
  const threads = threadCount();
  const chunks = Math.min(threads * RANGE_CHUNKS_PER_THREAD, Math.floor(len / align));
  if (threads < 2 || work < parallelMinWork() || chunks < 2) {
    (kernels[kernel] as (...a: number[]) => void)(...args, 0, len);
    return;
  }
  const step = align * Math.ceil(len / (chunks * align));
  const slot = args.length;
  runChunks(kernels, { kernel, args: [...args, 0, 0], workSlot: -1, loSlot: slot, hiSlot: slot + 1, len, step, works: Array(threads).fill(0) });
}

/** Workers currently started (for tests). */
export function startedWorkers(): number {
  return pool.filter((t) => t.broken === null).length;
}

/** Stops every worker (tests; a process does not need this: workers are unref'd). */
export async function stopWorkers(): Promise<void> {
  const all = pool.splice(0);
  await Promise.all(all.map((t) => t.worker.terminate()));
}
