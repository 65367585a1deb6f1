// The headless Chromium that drives the playground page (test/playground.test.ts,
// playground/screenshot.mjs) through playwright-core. The first of:
//   1. $DINO_REF_CHROMIUM, when set (a Chromium or Chrome binary; no fallback if it fails);
//   2. /usr/bin/chromium, when it exists (Debian's `chromium` package);
//   3. the Chromium inside the npm package @sparticuz/chromium (a devDependency; Linux x64 only),
//      unpacked once into node_modules/.cache/dino-ref/chromium-<version>/.
//
// @sparticuz/chromium's executablePath() inflates its brotli files into os.tmpdir() (`chromium`,
// `fonts/`, and SwiftShader's lib*.so, which Chromium loads from its own folder), and reuses any
// `chromium` it finds there, even one another process is still writing
// (node_modules/@sparticuz/chromium/build/esm/index.js). So it runs here in a child process whose
// TMPDIR is a fresh staging folder next to the cache, which is renamed into place once the binary
// starts: a rename is atomic, so test workers or processes that unpack at the same time each
// either win the rename or use the winner's folder, never half a binary, and nothing is left in
// /tmp. The package also ships the NSS and expat libraries Chromium links to (al2023.tar.br, for
// Amazon Linux); they are unpacked too and used only when the system lacks them.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** An expected failure: the message is one line that says what to do. */
export class ChromiumError extends Error {}

const DEBIAN_CHROMIUM = "/usr/bin/chromium";

/**
 * Which Chromium to launch, checked by running it with --version. `env` is the environment to
 * launch it with (undefined: the caller's); `source` says where the binary came from.
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {Promise<{ executablePath: string, env: NodeJS.ProcessEnv | undefined, source: string }>}
 */
export async function findChromium(env = process.env) {
  const chosen = env.DINO_REF_CHROMIUM;
  if (chosen !== undefined && chosen !== "") {
    const source = `DINO_REF_CHROMIUM=${chosen}`;
    if (!existsSync(chosen)) throw new ChromiumError(`${source}: no such file; point it at a Chromium binary or unset it`);
    return checked(chosen, undefined, source);
  }
  if (existsSync(DEBIAN_CHROMIUM)) return checked(DEBIAN_CHROMIUM, undefined, DEBIAN_CHROMIUM);
  const { folder, version } = await unpackedChromium();
  const executablePath = join(folder, "chromium");
  const source = `@sparticuz/chromium ${version} (unpacked in ${folder})`;
  if (startError(executablePath, undefined) === null) return { executablePath, env: undefined, source };
  // without the system's libnss3 / libexpat: the package's own copies
  const lib = join(folder, "al2023", "lib");
  const withLibs = { ...process.env, LD_LIBRARY_PATH: [lib, process.env.LD_LIBRARY_PATH].filter(Boolean).join(":") };
  return checked(executablePath, withLibs, source);
}

/**
 * playwright-core's headless Chromium on findChromium()'s binary. `--no-sandbox` because CI runs
 * as root, where Chromium's sandbox refuses to start (it is also in @sparticuz/chromium's `args`).
 * None of that package's other flags: they would switch on SharedArrayBuffer without
 * cross-origin isolation and turn off web security, which the end-to-end test checks.
 * @returns {Promise<import("playwright-core").Browser>}
 */
export async function launchChromium() {
  const { executablePath, env, source } = await findChromium();
  const { chromium } = await import("playwright-core");
  try {
    return await chromium.launch({ executablePath, env, args: ["--no-sandbox"] });
  } catch (e) {
    throw new ChromiumError(`${source}: playwright-core could not launch it: ${firstLine(e)}`, { cause: e });
  }
}

/** Throws a ChromiumError unless `path --version` runs; else the launch options. */
function checked(path, env, source) {
  const error = startError(path, env);
  if (error !== null) throw new ChromiumError(`${source} does not start: ${error}; set DINO_REF_CHROMIUM to a working Chromium`);
  return { executablePath: path, env, source };
}

/** Why `path --version` fails (one line), or null when it runs. */
function startError(path, env) {
  const r = spawnSync(path, ["--version"], { env, encoding: "utf8", timeout: 60_000 });
  if (r.error) return r.error.message;
  if (r.status !== 0) return firstLine(r.stderr) || `exit status ${r.status ?? r.signal}`;
  return null;
}

/**
 * The folder holding @sparticuz/chromium's unpacked files, unpacking them on first use.
 * @returns {Promise<{ folder: string, version: string }>}
 */
async function unpackedChromium() {
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new ChromiumError(`no Chromium: ${DEBIAN_CHROMIUM} is missing and @sparticuz/chromium ships one for Linux x64 only (this is ${process.platform} ${process.arch}); set DINO_REF_CHROMIUM to a Chromium binary`);
  }
  let entry;
  try {
    entry = createRequire(import.meta.url).resolve("@sparticuz/chromium");
  } catch {
    throw new ChromiumError(`no Chromium: ${DEBIAN_CHROMIUM} is missing and the devDependency @sparticuz/chromium is not installed; run \`npm ci\`, or set DINO_REF_CHROMIUM to a Chromium binary`);
  }
  // entry: node_modules/@sparticuz/chromium/build/cjs/index.cjs
  const packageDir = join(dirname(entry), "..", "..");
  const { version } = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8"));
  const cache = join(packageDir, "..", "..", ".cache", "dino-ref");
  const name = `chromium-${version}`;
  const folder = join(cache, name);
  if (existsSync(join(folder, "chromium"))) return { folder, version };

  mkdirSync(cache, { recursive: true });
  removeAbandoned(cache, `${name}.tmp-`);
  const staging = mkdtempSync(join(cache, `${name}.tmp-${process.pid}-`));
  try {
    await unpackInto(entry, join(packageDir, "bin"), staging);
    renameSync(staging, folder);
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    // another process renamed its copy into place first
    if (existsSync(join(folder, "chromium"))) return { folder, version };
    if (e instanceof ChromiumError) throw e;
    throw new ChromiumError(`could not unpack @sparticuz/chromium ${version} into ${folder}: ${firstLine(e)}`, { cause: e });
  }
  return { folder, version };
}

/** Runs the package's executablePath() with TMPDIR=staging, and its inflate() on al2023.tar.br. */
function unpackInto(entry, bin, staging) {
  const script = `
    const Chromium = require(process.argv[1]);
    const { inflate } = require(require("node:path").join(process.argv[1], "..", "lambdafs.cjs"));
    Chromium.executablePath().then(() => inflate(process.argv[2])).catch((e) => {
      console.error(e instanceof Error ? e.message : String(e));
      process.exit(1);
    });`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", script, entry, join(bin, "al2023.tar.br")], {
      env: { ...process.env, TMPDIR: staging },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += String(d)));
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (code === 0) resolve(undefined);
      else reject(new ChromiumError(`could not unpack @sparticuz/chromium: ${firstLine(stderr) || `exit status ${code ?? signal}`}`));
    });
  });
}

/** Removes staging folders left by unpacking processes that died (gone, and a minute old). */
function removeAbandoned(cache, prefix) {
  for (const entry of readdirSync(cache)) {
    if (!entry.startsWith(prefix)) continue;
    const pid = Number(entry.slice(prefix.length).split("-")[0]);
    const path = join(cache, entry);
    try {
      if (isAlive(pid) || Date.now() - statSync(path).mtimeMs < 60_000) continue;
      rmSync(path, { recursive: true, force: true });
    } catch {
      // removed meanwhile by another process
    }
  }
}

function isAlive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === "EPERM";
  }
}

function firstLine(x) {
  const text = x instanceof Error ? x.message : String(x ?? "");
  return text.trim().split("\n")[0]?.trim() ?? "";
}
