// dino-ref as a user installs it: the package is packed (`npm pack`), installed into an empty
// project, and imported there as an ES module. Its `checkCase` passes a committed golden case and
// fails the same case with one expected number changed; `dinoLoss` computes.
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseSafetensors, serializeSafetensors } from "../src/io/safetensors.js";

const ROOT = resolve(__dirname, "..");
const NPM = process.platform === "win32" ? "npm.cmd" : "npm";

/** Runs npm quietly in `cwd` and returns its stdout. */
function npm(cwd: string, ...args: string[]): string {
  return execFileSync(NPM, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" } });
}

describe("the packed package", () => {
  it("installs into an empty project and imports as an ES module", { timeout: 180_000 }, () => {
    const work = mkdtempSync(join(tmpdir(), "dino-ref-pack-"));
    // npm test has built dist/ and build/kernels.wasm; --ignore-scripts packs them without rebuilding
    const [{ filename }] = JSON.parse(npm(ROOT, "pack", "--ignore-scripts", "--json", "--pack-destination", work)) as { filename: string }[];
    const project = join(work, "project");
    execFileSync("mkdir", [project]);
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "uses-dino-ref", version: "1.0.0", private: true, type: "module" }));
    npm(project, "install", "--prefer-offline", "--ignore-scripts", "--no-package-lock", join(work, filename));

    const valid = join(ROOT, "fixtures/golden/dino_loss");
    const caseFile = join(valid, (execFileSync("ls", [valid], { encoding: "utf8" }).split("\n").find((f) => f.endsWith(".safetensors")))!);
    const tampered = join(work, "tampered.safetensors");
    const f = parseSafetensors(readFileSync(caseFile), caseFile);
    const loss = f.tensors.get("out.loss")!.data as Float32Array;
    loss[0] += 1;
    writeFileSync(tampered, serializeSafetensors(f.tensors, f.metadata));

    writeFileSync(join(project, "use.mjs"), `
      import { checkCase, dinoLoss, wasmBackend } from "dino-ref";
      const good = await checkCase(${JSON.stringify(caseFile)});
      const bad = await checkCase(${JSON.stringify(tampered)});
      const s = { shape: [4, 3], data: Float32Array.from([1, 2, 3, 3, 2, 1, 0, 0, 1, 1, 0, 0]) };
      const t = { shape: [4, 3], data: Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0]) };
      const l = dinoLoss(s, t, new Float32Array(3), { studentTemp: 0.1, teacherTemp: 0.04, ncrops: 2 });
      console.log(JSON.stringify({ good: good.passed, bad: bad.passed, badRows: bad.outputs.filter((o) => !o.pass).map((o) => o.output), op: good.op, loss: l.loss, backend: wasmBackend.name }));
    `);
    const result = JSON.parse(execFileSync(process.execPath, ["use.mjs"], { cwd: project, encoding: "utf8" }));
    expect(result).toMatchObject({ good: true, bad: false, badRows: ["loss"], op: "dino_loss", backend: "wasm" });
    expect(Number.isFinite(result.loss)).toBe(true);
  });
});
