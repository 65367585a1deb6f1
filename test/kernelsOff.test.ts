// DINO_REF_KERNELS=ts runs everything on the plain-TypeScript oracles: a copy of the built package
// WITHOUT build/kernels.wasm still passes `dino-ref check` on every committed case with the switch
// on, so no op, model or equation reaches the compiled kernels behind the switch's back.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(__dirname, "..");

/** The built package (package.json, bin/, dist/) in a temp folder, with node_modules and fixtures linked, and no build/. */
function packageWithoutKernels(): string {
  if (!existsSync(join(ROOT, "dist/cli/main.js"))) throw new Error("dist/ is missing: run `npm run build` (npm test does) before this test");
  const dir = mkdtempSync(join(tmpdir(), "dino-ref-no-wasm-"));
  cpSync(join(ROOT, "package.json"), join(dir, "package.json"));
  cpSync(join(ROOT, "bin"), join(dir, "bin"), { recursive: true });
  cpSync(join(ROOT, "dist"), join(dir, "dist"), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  symlinkSync(join(ROOT, "fixtures"), join(dir, "fixtures"));
  return dir;
}

function check(dir: string, kernels: string | undefined) {
  const env = { ...process.env };
  delete env.DINO_REF_KERNELS;
  if (kernels !== undefined) env.DINO_REF_KERNELS = kernels;
  return spawnSync(process.execPath, ["bin/dino-ref.js", "check", "fixtures/golden", "fixtures/external"], { cwd: dir, env, encoding: "utf8" });
}

describe("DINO_REF_KERNELS=ts without build/kernels.wasm", () => {
  const dir = packageWithoutKernels();

  it("passes check on every committed case", () => {
    expect(existsSync(join(dir, "build/kernels.wasm"))).toBe(false);
    const r = check(dir, "ts");
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/\n(\d+) of \1 cases passed\n$/);
    expect(r.status).toBe(0);
  });

  it("while the default (wasm) kernels stop with one line naming the missing file", () => {
    const r = check(dir, undefined);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^dino-ref: \S+build\/kernels\.wasm is missing: build the kernels with `npm run asbuild`.*\n$/);
  });

  it("and an unknown value of the switch is refused", () => {
    const r = check(dir, "bogus");
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('dino-ref: DINO_REF_KERNELS="bogus": expected "wasm" (the SIMD kernels, the default) or "ts" (the TypeScript oracles)\n');
  });
});
