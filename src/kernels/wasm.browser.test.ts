// The browser loader, run in Node: same exports as the Node loader, a clear error before loading,
// and the real module fetched over HTTP and instantiated with the shared imports.

import { describe, expect, it } from "vitest";
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import * as nodeLoader from "./wasm.js";
import * as browserLoader from "./wasm.browser.js";
import * as nodeThreads from "./threads.js";
import * as browserThreads from "./threads.browser.js";
import { DinoRefError } from "../tensor/errors.js";

describe("wasm.browser.ts", () => {
  it("exports every function of wasm.ts (the bundle swaps one for the other)", () => {
    for (const name of Object.keys(nodeLoader)) expect(typeof (browserLoader as Record<string, unknown>)[name], name).toBe("function");
  });

  it("threads.browser.ts has what matmul uses, with one thread", () => {
    for (const name of ["threadCount", "parallelMinWork", "runChunks"] as const) expect(typeof nodeThreads[name]).toBe("function");
    expect(browserThreads.threadCount()).toBe(1);
    expect(browserThreads.parallelMinWork()).toBe(Infinity);
  });

  it("refuses kernel calls before loadKernels, then loads the module over HTTP", async () => {
    expect(() => browserLoader.wasmKernels()).toThrow(DinoRefError);
    const bytes = readFileSync(new URL("../../build/kernels.wasm", import.meta.url));
    const server = createServer((req, res) => {
      if (req.url === "/kernels.wasm") res.writeHead(200, { "Content-Type": "application/wasm" }).end(bytes);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
      await expect(browserLoader.loadKernels(`${base}missing.wasm`)).rejects.toThrow(/HTTP 404/);
      const loaded = await browserLoader.loadKernels(`${base}kernels.wasm`);
      expect(browserLoader.loadedKernels()).toBe(loaded);
      expect(loaded.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
      // the same module: the same static data layout as the Node instance
      expect(browserLoader.wasmKernels().heapBase()).toBe(nodeLoader.wasmKernels().heapBase());
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
