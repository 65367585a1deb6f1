// Every committed case file, recomputed through the op registry (the same path as
// `dino-ref check`) with both kernel sets: the SIMD wasm kernels and the TypeScript oracles.
// fixtures/golden comes from the PyTorch generator in reference-tests/generate/; fixtures/external
// from an independent numpy tool (reference-tests/external/) that writes the same contract with
// another layout, other shapes and other seeds.
import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { readFileSync, existsSync, readdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { findCaseFiles, readGoldenCase } from "../src/io/golden.js";
import { checkCase } from "../src/ops/registry.js";
import { ts32Backend, wasmBackend } from "../src/kernels/backend.js";

interface Manifest {
  format: string;
  generator: string;
  generator_sha256?: string;
  producer: string;
  cases: { file: string; op: string; sha256: string; bytes: number }[];
}

const sha256 = (bytes: Uint8Array | string) => createHash("sha256").update(bytes).digest("hex");

/**
 * The generator's fingerprint as reference-tests/README.md defines it: the sha256 of what
 * `sha256sum` prints for every *.py file beside the generator, in C-locale name order.
 */
function generatorSha256(generator: string): string {
  const folder = dirname(generator);
  const files = readdirSync(folder).filter((f) => f.endsWith(".py")).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return sha256(files.map((f) => `${sha256(readFileSync(join(folder, f)))}  ${f}\n`).join(""));
}

for (const dir of ["fixtures/golden", "fixtures/external"]) {
  describe(dir, () => {
    const manifest: Manifest = JSON.parse(readFileSync(join(dir, "MANIFEST.json"), "utf8"));
    const files = findCaseFiles([dir]);

    it("has a manifest that lists exactly its case files, with their sha256 (no hand edits)", () => {
      expect(manifest.format).toBe("dino-golden/1");
      expect(existsSync(manifest.generator)).toBe(true);
      // fixtures made by an older generator are stale: regenerate with `npm run goldens`
      if (manifest.generator_sha256 !== undefined) expect(generatorSha256(manifest.generator)).toBe(manifest.generator_sha256);
      const listed = manifest.cases.map((c) => c.file).sort();
      expect(listed).toEqual(files.map((f) => relative(dir, f)).sort());
      for (const c of manifest.cases) {
        const bytes = readFileSync(join(dir, c.file));
        expect({ file: c.file, sha256: sha256(bytes), bytes: bytes.length }).toEqual({ file: c.file, sha256: c.sha256, bytes: c.bytes });
        expect(readGoldenCase(join(dir, c.file)).op).toBe(c.op);
      }
    });

    for (const kernels of [wasmBackend, ts32Backend]) {
      describe(`recomputed with the ${kernels.name} kernels`, () => {
        for (const file of files) {
          it(relative(dir, file), () => {
            const result = checkCase(readGoldenCase(file), kernels);
            const failed = result.outputs.filter((o) => !o.pass);
            expect(failed, failed.map((o) => `${o.output}: ${o.problem ?? `max abs ${o.maxAbsError}, max rel ${o.maxRelError}, worst at [${o.worstIndex}]`}`).join("; ")).toEqual([]);
          });
        }
      });
    }
  });
}
