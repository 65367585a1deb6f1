// The threaded matmul gives the single-thread result bit for bit, for any thread count and split;
// worker failures surface as exceptions; workers never keep a process alive.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { matmul, matmulBackward, matmulBlocks, type MatmulLayout } from "./matmul.js";
import { arena, withScratch } from "./arena.js";
import { wasmKernels } from "./wasm.js";
import { parseThreadCount, runOnThreads, startedWorkers, stopWorkers, threadCount, withThreadSettings } from "./threads.js";
import { DinoRefError } from "../tensor/errors.js";
import { awkwardSize, f32Array, bitEqual } from "../../test/arbitraries.js";

const LAYOUTS: readonly MatmulLayout[] = ["NN", "NT", "TN"];

function seeded(n: number, seed: number): Float32Array {
  const x = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = s / 2 ** 31 - 1;
  }
  return x;
}

/** C from `matmul` with `threads` threads, splitting every product (minWork 0). */
function product(
  threads: number, c0: Float32Array, a: Float32Array, b: Float32Array, bias: Float32Array | null,
  M: number, K: number, N: number, layout: MatmulLayout, accumulate: boolean,
): Float32Array {
  const c = c0.slice();
  withThreadSettings({ threads, minWork: 0 }, () => matmul(c, a, b, bias, M, K, N, layout, accumulate));
  return c;
}

describe("matmulBlocks", () => {
  it("covers C exactly once with blocks of whole register tiles along the longer side", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 1, max: 8 }), (M, N, T) => {
        const blocks = matmulBlocks(M, N, T);
        expect(blocks.length).toBeGreaterThanOrEqual(1);
        expect(blocks.length).toBeLessThanOrEqual(T);
        const byRows = M >= N;
        let next = 0;
        for (const [m0, m1, n0, n1] of blocks) {
          const [s, e, o0, o1, len, align] = byRows ? [m0, m1, n0, n1, N, 4] : [n0, n1, m0, m1, M, 8];
          expect([s, o0, o1]).toEqual([next, 0, len]);
          expect(e).toBeGreaterThan(s);
          expect(s % align).toBe(0);
          next = e;
        }
        expect(next).toBe(byRows ? M : N);
      }),
    );
    expect(matmulBlocks(12608, 384, 2)).toEqual([[0, 6304, 0, 384], [6304, 12608, 0, 384]]);
    expect(matmulBlocks(64, 65536, 2)).toEqual([[0, 64, 0, 32768], [0, 64, 32768, 65536]]);
    expect(matmulBlocks(3, 5, 2)).toEqual([[0, 3, 0, 5]]); // too small to split
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
            threads: fc.constantFrom(2, 3),
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
      const a = seeded(M * K, 1), b = seeded(K * N, 2), c0 = seeded(M * N, 3), bias = seeded(N, 4);
      for (const layout of LAYOUTS) {
        for (const accumulate of [false, true]) {
          for (const withBias of [false, true]) {
            const one = product(1, c0, a, b, withBias ? bias : null, M, K, N, layout, accumulate);
            for (const threads of [2, 3, 4]) {
              const many = product(threads, c0, a, b, withBias ? bias : null, M, K, N, layout, accumulate);
              expect(bitEqual(one, many), `${layout} ${M}x${K}x${N} acc=${accumulate} bias=${withBias} T=${threads}`).toBe(true);
            }
          }
        }
      }
    }
  });

  it("keeps NaN, ±Inf and K = 0 results", () => {
    const [M, K, N] = [37, 11, 29];
    const a = seeded(M * K, 5), b = seeded(K * N, 6), c0 = seeded(M * N, 7), bias = seeded(N, 8);
    a[3] = NaN;
    a[200] = Infinity;
    b[17] = -Infinity;
    for (const layout of LAYOUTS) {
      expect(bitEqual(product(1, c0, a, b, bias, M, K, N, layout, true), product(2, c0, a, b, bias, M, K, N, layout, true))).toBe(true);
      const empty = new Float32Array(0);
      expect(bitEqual(product(1, c0, empty, empty, bias, M, 0, N, layout, true), product(2, c0, empty, empty, bias, M, 0, N, layout, true))).toBe(true);
    }
  });

  it("for matmulBackward (gradA by NT, gradB by TN), accumulating", () => {
    const [M, K, N] = [203, 71, 45];
    const gC = seeded(M * N, 9), a = seeded(M * K, 10), b = seeded(K * N, 11);
    const grads = (threads: number) => {
      const gA = seeded(M * K, 12), gB = seeded(K * N, 13), gBias = seeded(N, 14);
      withThreadSettings({ threads, minWork: 0 }, () => matmulBackward(gA, gB, gBias, gC, a, b, M, K, N));
      return [gA, gB, gBias];
    };
    const one = grads(1), two = grads(2);
    for (let i = 0; i < 3; i++) expect(bitEqual(one[i], two[i]), ["gradA", "gradB", "gradBias"][i]).toBe(true);
  });

  it("on arena-resident arrays, with the workspace growing memory just before the threads start", () => {
    const [M, K, N] = [96, 50, 80];
    const a = seeded(M * K, 15), b = seeded(K * N, 16), bias = seeded(N, 17);
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
      withThreadSettings({ threads: 2, minWork: 0 }, () => matmul(views[0], views[1], views[2], views[3], M, K, N, "NN", false));
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

  it("surfaces a kernel failure in a worker as an exception on the calling thread, then keeps working", () => {
    const k = wasmKernels();
    withScratch((ar) => {
      const [M, K, N] = [8, 4, 8];
      const pc = ar.allocF32(M * N), pa = ar.allocF32(M * K), pb = ar.allocF32(K * N), work = ar.allocBytes(1 << 16);
      const work2 = ar.allocBytes(1 << 16);
      const args = (m0: number, m1: number, w: number) => [pc, pa, pb, 0, M, K, N, 0, 0, w, m0, m1, 0, N];
      withThreadSettings({ threads: 2 }, () => {
        // job 1 (the worker's) asks for rows 4..9 of an 8-row C: the kernel's assertion fires there
        expect(() => runOnThreads(k, [{ kernel: "matmulPart", args: args(0, 4, work) }, { kernel: "matmulPart", args: args(4, 9, work2) }]))
          .toThrow(/kernel thread 1: matmulPart failed: .*matmulPart: block outside C/);
        // the pool still works
        expect(() => runOnThreads(k, [{ kernel: "matmulPart", args: args(0, 4, work) }, { kernel: "matmulPart", args: args(4, 8, work2) }])).not.toThrow();
      });
    });
  });

  it("gives up with a clear error when a worker does not finish in time, and replaces it", async () => {
    const k = wasmKernels();
    const [M, K, N] = [1024, 512, 512];
    const ar = arena();
    const mark = ar.mark();
    const pc = ar.allocF32(M * N), pa = ar.allocF32(M * K), pb = ar.allocF32(K * N);
    const workBytes = k.matmulWorkspaceBytes as (M: number, K: number, N: number) => number;
    const small = ar.allocBytes(workBytes(4, K, N));
    const big = ar.allocBytes(workBytes(M - 4, K, N));
    const job = (m0: number, m1: number, w: number) => ({ kernel: "matmulPart" as const, args: [pc, pa, pb, 0, M, K, N, 0, 0, w, m0, m1, 0, N] });
    try {
      withThreadSettings({ threads: 2, jobTimeoutMs: 1 }, () => {
        // the worker's job (~0.5 GFLOP) cannot finish within 1 ms of the caller's tiny one
        expect(() => runOnThreads(k, [job(0, 4, small), job(4, M, big)])).toThrow(/kernel thread 1 did not finish a matmulPart job within 0.001 s/);
      });
    } finally {
      // the timed-out worker may still be writing: let it stop before the memory is reused
      await stopWorkers();
      ar.release(mark);
    }
    // a fresh worker takes over
    const [m, kk, n] = [64, 64, 64];
    const a = seeded(m * kk, 1), b = seeded(kk * n, 2);
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
