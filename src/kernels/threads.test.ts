// The threaded matmul gives the single-thread result bit for bit, for any thread count and split;
// worker failures surface as exceptions; workers never keep a process alive.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { matmul, matmulBackward, matmulSplit, type MatmulLayout } from "./matmul.js";
import { arena, withScratch } from "./arena.js";
import { wasmKernels } from "./wasm.js";
import { parseThreadCount, runChunks, startedWorkers, stopWorkers, threadCount, withThreadSettings, type ChunkedJob } from "./threads.js";
import { DinoRefError } from "../tensor/errors.js";
import { awkwardSize, f32Array, bitEqual, seededFloats } from "../../test/arbitraries.js";

const LAYOUTS: readonly MatmulLayout[] = ["NN", "NT", "TN"];

/**
 * C from `matmul` with `threads` threads, splitting every product (minWork 0); threads < 0: |threads|
 * threads of which only the workers compute (the caller leaves every chunk to them).
 */
function product(
  threads: number, c0: Float32Array, a: Float32Array, b: Float32Array, bias: Float32Array | null,
  M: number, K: number, N: number, layout: MatmulLayout, accumulate: boolean,
): Float32Array {
  const c = c0.slice();
  withThreadSettings({ threads: Math.abs(threads), minWork: 0, callerWorks: threads > 0 }, () => matmul(c, a, b, bias, M, K, N, layout, accumulate));
  return c;
}

describe("matmulSplit", () => {
  it("cuts the longer side of C into at most 4 chunks per thread, of whole register tiles", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 1, max: 8 }), (M, N, K, T) => {
        const { byRows, len, step, count } = matmulSplit(M, N, K, T);
        expect(byRows).toBe(M >= N);
        expect(len).toBe(byRows ? M : N);
        expect(step % (byRows ? 4 : 8)).toBe(0);
        expect(count).toBe(Math.ceil(len / step));
        expect(count).toBeGreaterThanOrEqual(1);
        expect(count).toBeLessThanOrEqual(4 * T);
        // more chunks than threads only when each keeps 2^17 multiply-adds
        if (count > T) expect(Math.floor((M * N * K) / 2 ** 17)).toBeGreaterThanOrEqual(count);
      }),
    );
    expect(matmulSplit(12608, 384, 1152, 2)).toEqual({ byRows: true, len: 12608, step: 1576, count: 8 });
    expect(matmulSplit(64, 65536, 256, 2)).toEqual({ byRows: false, len: 65536, step: 8192, count: 8 });
    expect(matmulSplit(64, 64, 64, 2)).toEqual({ byRows: true, len: 64, step: 32, count: 2 });
    expect(matmulSplit(3, 5, 7, 2).count).toBe(1); // too small to split
  });
});

describe("threaded matmul is bit-identical to one thread", () => {
  it("on random awkward shapes, every layout, bias and accumulate (2 and 3 threads)", () => {
    fc.assert(
      fc.property(
        fc.record({ M: awkwardSize(40), K: awkwardSize(40), N: awkwardSize(40) }).chain(({ M, K, N }) =>
          fc.record({
            dims: fc.constant([M, K, N] as const),
            a: f32Array(M * K), b: f32Array(K * N), c0: f32Array(M * N),
            bias: fc.option(f32Array(N), { nil: null }),
            layout: fc.constantFrom(...LAYOUTS),
            accumulate: fc.boolean(),
            threads: fc.constantFrom(2, 3, -2),
          }),
        ),
        ({ dims: [M, K, N], a, b, c0, bias, layout, accumulate, threads }) => {
          const one = product(1, c0, a, b, bias, M, K, N, layout, accumulate);
          const many = product(threads, c0, a, b, bias, M, K, N, layout, accumulate);
          expect(bitEqual(one, many), `${layout} ${M}x${K}x${N} T=${threads}`).toBe(true);
        },
      ),
    );
  });

  it("across the kernel's block boundaries (K > 384, M > 128, N > 2048), split by rows and by columns", () => {
    const shapes: [number, number, number][] = [[261, 517, 19], [7, 389, 2061], [300, 770, 45], [9, 3, 4103], [1, 40, 1000], [1000, 40, 1]];
    for (const [M, K, N] of shapes) {
      const a = seededFloats(M * K, 1), b = seededFloats(K * N, 2), c0 = seededFloats(M * N, 3), bias = seededFloats(N, 4);
      for (const layout of LAYOUTS) {
        for (const accumulate of [false, true]) {
          for (const withBias of [false, true]) {
            const one = product(1, c0, a, b, withBias ? bias : null, M, K, N, layout, accumulate);
            for (const threads of [2, 3, 4, -2]) {
              const many = product(threads, c0, a, b, withBias ? bias : null, M, K, N, layout, accumulate);
              expect(bitEqual(one, many), `${layout} ${M}x${K}x${N} acc=${accumulate} bias=${withBias} T=${threads}`).toBe(true);
            }
          }
        }
      }
    }
  });

  it("with a residual added as C is stored (the skip connections), split by rows and by columns", () => {
    for (const [M, K, N] of [[261, 517, 19], [7, 389, 2061], [300, 70, 45]] as const) {
      const a = seededFloats(M * K, 1), b = seededFloats(K * N, 2), bias = seededFloats(N, 4), r = seededFloats(M * N, 5);
      const run = (threads: number) => {
        const c = new Float32Array(M * N);
        withThreadSettings({ threads: Math.abs(threads), minWork: 0, callerWorks: threads > 0 }, () => matmul(c, a, b, bias, M, K, N, "NT", false, r));
        return c;
      };
      const one = run(1);
      for (const threads of [2, 3, -2]) expect(bitEqual(one, run(threads)), `${M}x${K}x${N} T=${threads}`).toBe(true);
    }
  });

  it("keeps NaN, ±Inf and K = 0 results", () => {
    const [M, K, N] = [37, 11, 29];
    const a = seededFloats(M * K, 5), b = seededFloats(K * N, 6), c0 = seededFloats(M * N, 7), bias = seededFloats(N, 8);
    a[3] = NaN;
    a[200] = Infinity;
    b[17] = -Infinity;
    for (const layout of LAYOUTS) {
      for (const threads of [2, -2]) {
        expect(bitEqual(product(1, c0, a, b, bias, M, K, N, layout, true), product(threads, c0, a, b, bias, M, K, N, layout, true))).toBe(true);
        const empty = new Float32Array(0);
        expect(bitEqual(product(1, c0, empty, empty, bias, M, 0, N, layout, true), product(threads, c0, empty, empty, bias, M, 0, N, layout, true))).toBe(true);
      }
    }
  });

  it("for matmulBackward (gradA by NT, gradB by TN), accumulating", () => {
    const [M, K, N] = [203, 71, 45];
    const gC = seededFloats(M * N, 9), a = seededFloats(M * K, 10), b = seededFloats(K * N, 11);
    const grads = (threads: number) => {
      const gA = seededFloats(M * K, 12), gB = seededFloats(K * N, 13), gBias = seededFloats(N, 14);
      withThreadSettings({ threads: Math.abs(threads), minWork: 0, callerWorks: threads > 0 }, () => matmulBackward(gA, gB, gBias, gC, a, b, M, K, N));
      return [gA, gB, gBias];
    };
    const one = grads(1);
    for (const threads of [2, -2]) {
      const many = grads(threads);
      for (let i = 0; i < 3; i++) expect(bitEqual(one[i], many[i]), `${["gradA", "gradB", "gradBias"][i]} T=${threads}`).toBe(true);
    }
  });

  it("on arena-resident arrays, with the workspace growing memory just before the threads start", () => {
    const [M, K, N] = [96, 50, 80];
    const a = seededFloats(M * K, 15), b = seededFloats(K * N, 16), bias = seededFloats(N, 17);
    const want = product(1, new Float32Array(M * N), a, b, bias, M, K, N, "NN", false);
    withScratch((ar) => {
      const pc = ar.allocF32(M * N), pa = ar.allocF32(M * K), pb = ar.allocF32(K * N), pbias = ar.allocF32(N);
      ar.f32(pa, M * K).set(a);
      ar.f32(pb, K * N).set(b);
      ar.f32(pbias, N).set(bias);
      const views = [ar.f32(pc, M * N), ar.f32(pa, M * K), ar.f32(pb, K * N), ar.f32(pbias, N)];
      // fill the memory to its current end: the next allocation (the workspaces) grows it
      const buffer = views[0].buffer;
      ar.allocBytes(buffer.byteLength - ar.mark());
      expect(ar.mark()).toBe(buffer.byteLength);
      withThreadSettings({ threads: 2, minWork: 0, callerWorks: false }, () => matmul(views[0], views[1], views[2], views[3], M, K, N, "NN", false));
      // the views made before the grow are still on wasm memory (a shared memory never detaches)
      expect(arena().f32(pc, 1).buffer).not.toBe(buffer);
      expect(bitEqual(views[0], want)).toBe(true);
      expect(bitEqual(ar.f32(pc, M * N), want)).toBe(true);
    });
  });
});

describe("thread pool", () => {
  it("reads DINO_REF_THREADS: unset means min(2, cores), a bad value is a DinoRefError", () => {
    expect(parseThreadCount(undefined, 16)).toBe(2);
    expect(parseThreadCount("", 1)).toBe(1);
    expect(parseThreadCount("1", 16)).toBe(1);
    expect(parseThreadCount("3", 2)).toBe(3);
    for (const bad of ["0", "-1", "1.5", "two", "65"]) {
      expect(() => parseThreadCount(bad), bad).toThrow(DinoRefError);
      expect(() => parseThreadCount(bad), bad).toThrow(/DINO_REF_THREADS/);
    }
    expect(threadCount()).toBeGreaterThanOrEqual(1);
  });

  /** matmulPart on C [M,N] in row chunks [i·step, …) up to len (len > M makes the kernel's assertion fire). */
  function rowsJob(M: number, K: number, N: number, len: number, step: number, threads: number, callerWorks = true): ChunkedJob {
    const k = wasmKernels();
    const ar = arena();
    const workBytes = (k.matmulWorkspaceBytes as (M: number, K: number, N: number) => number)(step, K, N);
    const [pc, pa, pb] = [ar.allocF32(M * N), ar.allocF32(M * K), ar.allocF32(K * N)];
    const works = Array.from({ length: threads }, () => ar.allocBytes(workBytes));
    return { kernel: "matmulPart", args: [pc, pa, pb, 0, M, K, N, 0, 0, 0, 0, M, 0, N], workSlot: 9, loSlot: 10, hiSlot: 11, len, step, works, callerWorks };
  }

  it("surfaces a kernel failure in a worker as an exception on the calling thread, then keeps working", () => {
    const k = wasmKernels();
    withScratch(() => {
      withThreadSettings({ threads: 2 }, () => {
        // rows 8..11 of an 8-row C: the kernel's assertion fires in the worker that claims them
        expect(() => runChunks(k, rowsJob(8, 4, 8, 12, 4, 2, false))).toThrow(/kernel thread 1: matmulPart failed: .*matmulPart: block outside C/);
        // and on the calling thread (whichever thread claims the bad chunk, the call throws)
        expect(() => runChunks(k, rowsJob(8, 4, 8, 12, 4, 2))).toThrow(/matmulPart: block outside C/);
        // the pool still works
        expect(() => runChunks(k, rowsJob(8, 4, 8, 8, 4, 2))).not.toThrow();
        expect(() => runChunks(k, rowsJob(8, 4, 8, 8, 4, 2, false))).not.toThrow();
      });
    });
  });

  it("gives up with a clear error when a worker does not finish or start in time, and replaces it", async () => {
    const k = wasmKernels();
    const ar = arena();
    const mark = ar.mark();
    try {
      withThreadSettings({ threads: 2, jobTimeoutMs: 1 }, () => {
        // the worker's chunk (~0.5 GFLOP) cannot finish within 1 ms
        expect(() => runChunks(k, rowsJob(1024, 512, 512, 1024, 1024, 2, false))).toThrow(/kernel thread 1 did not finish a matmulPart job within 0.001 s/);
      });
    } finally {
      // the timed-out worker may still be writing: let it stop before the memory is reused
      await stopWorkers();
      ar.release(mark);
    }
    withScratch(() => {
      withThreadSettings({ threads: 2, startTimeoutMs: 0.001 }, () => {
        expect(() => runChunks(k, rowsJob(8, 4, 8, 8, 4, 2))).toThrow(/kernel thread 1 did not start within/);
      });
    });
    await stopWorkers();
    // a fresh worker takes over
    const [m, kk, n] = [64, 64, 64];
    const a = seededFloats(m * kk, 1), b = seededFloats(kk * n, 2);
    expect(bitEqual(product(2, new Float32Array(m * n), a, b, null, m, kk, n, "NN", false), product(1, new Float32Array(m * n), a, b, null, m, kk, n, "NN", false))).toBe(true);
    expect(startedWorkers()).toBe(1);
  });

  it("never keeps a process alive (workers are unref'd), and starts none with DINO_REF_THREADS=1", () => {
    const dir = new URL("../../dist/kernels/", import.meta.url);
    if (!existsSync(new URL("threads.js", dir))) return; // `npm test` builds dist/ first
    const script = `
      import { matmul } from ${JSON.stringify(new URL("matmul.js", dir).href)};
      import { startedWorkers } from ${JSON.stringify(new URL("threads.js", dir).href)};
      const n = 256, a = new Float32Array(n * n).fill(1), c = new Float32Array(n * n);
      matmul(c, a, a, null, n, n, n, "NN", false);
      console.log(c[0], startedWorkers());`;
    for (const [threads, workers] of [["2", 1], ["1", 0]] as const) {
      const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
        env: { ...process.env, DINO_REF_THREADS: threads },
        encoding: "utf8",
        timeout: 30_000,
      });
      expect(r.error).toBeUndefined();
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.stdout.trim()).toBe(`256 ${workers}`);
    }
  });
});
