// End to end: the playground page in headless Chromium driven by playwright-core. The browser is
// playground/chromium.mjs's: $DINO_REF_CHROMIUM if set, else Debian's /usr/bin/chromium if
// installed, else the one inside the npm devDependency @sparticuz/chromium (unpacked once into
// node_modules/.cache/dino-ref/), so `npm ci && npm test` needs Node alone. The page is built
// into a temporary folder and served by playground/serve.mjs, as `npm run playground` does. The
// page must load without console errors, its sliders must change the numbers shown, and the live
// run must reach the expected collapse state for each switch, with the same numbers as the same
// run in Node (same kernels).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { ChromiumError, findChromium, launchChromium } from "../playground/chromium.mjs";
import { ToyRun, type ToyStepRecord } from "../playground/src/toyRun.js";
import { TEMPERATURE_LOGITS, temperatureSoftmax } from "../playground/src/lessons.js";

let dir = "";
let server: ChildProcess | null = null;
let url = "";
let browser: Browser | null = null;

/** Starts `node playground/serve.mjs --port 0 --dir DIR` and reads the URL it prints. */
function serve(folder: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ["playground/serve.mjs", "--port", "0", "--dir", folder], { stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stdout!.on("data", (d) => {
      out += String(d);
      const m = /http:\/\/\S+/.exec(out);
      if (m) resolve({ child, url: m[0] });
    });
    child.stderr!.on("data", (d) => (err += String(d)));
    child.on("exit", (code) => reject(new Error(`serve.mjs exited with ${code}: ${err}`)));
  });
}

/** A fresh page that records console errors and uncaught exceptions. */
async function openPage(at: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser!.newPage({ viewport: { width: 1100, height: 900 } });
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(at);
  return { page, errors };
}

/** Sets a range input's value and fires its input event, as a user's drag does. */
async function slide(page: Page, selector: string, value: number): Promise<void> {
  await page.locator(selector).evaluate((el, v) => {
    (el as HTMLInputElement).value = String(v);
    el.dispatchEvent(new Event("input", { bubbles: true }));
  }, value);
}

async function numberAt(page: Page, selector: string, attribute = "data-value"): Promise<number> {
  const v = await page.getAttribute(selector, attribute);
  expect(v, `${selector} ${attribute}`).not.toBeNull();
  return Number(v);
}

function finalNodeRecord(centering: boolean, sharpening: boolean): ToyStepRecord {
  const run = new ToyRun({ centering, sharpening, seed: 0 });
  try {
    let last: ToyStepRecord | undefined;
    while (!run.done) last = run.next();
    return last!;
  } finally {
    run.dispose();
  }
}

describe("playground in headless Chromium", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "dino-ref-playground-"));
    execFileSync(process.execPath, ["playground/build.mjs", "--out", join(dir, "site")], { stdio: "pipe" });
    ({ child: server, url } = await serve(join(dir, "site")));
    // the first run after `npm ci` also unpacks @sparticuz/chromium (a few seconds)
    browser = await launchChromium();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    server?.kill();
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it("serves the built page, the kernels and the isolation headers", async () => {
    const res = await fetch(`${url}kernels.wasm`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/wasm");
    expect(res.headers.get("cross-origin-opener-policy")).toBe("same-origin");
    expect(res.headers.get("cross-origin-embedder-policy")).toBe("require-corp");
    // the same module as the Node package's
    expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync("build/kernels.wasm"))).toBe(true);
    expect((await fetch(`${url}..%2f..%2fpackage.json`)).status).toBeGreaterThanOrEqual(400);
    expect((await fetch(`${url}missing.js`)).status).toBe(404);
  });

  it("loads without console errors; the temperature slider changes the entropy shown", async () => {
    const { page, errors } = await openPage(url);
    await page.waitForSelector("body[data-ready=true]", { timeout: 15_000 });
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);

    const start = await numberAt(page, "#temp-entropy");
    // τ = 0.01: sharper, lower entropy
    await slide(page, "#temp-slider", -2);
    const sharp = await numberAt(page, "#temp-entropy");
    expect(sharp).toBeLessThan(start);
    // τ = 10: flatter, close to ln K
    await slide(page, "#temp-slider", 1);
    const flat = await numberAt(page, "#temp-entropy");
    expect(flat).toBeGreaterThan(start);
    expect(Number(await page.textContent("#temp-value"))).toBe(10);
    // the browser's wasm softmax gives the Node kernels' numbers
    expect(flat).toBe(temperatureSoftmax(TEMPERATURE_LOGITS, 10).entropy);
    expect(await page.locator("#temp-bars .bar").count()).toBe(TEMPERATURE_LOGITS.length);

    // the loss panel: moving the student lowers the KL, never the teacher's entropy
    const kl0 = await numberAt(page, "#loss-kl");
    const h0 = await numberAt(page, "#loss-entropy");
    await slide(page, "#mix-slider", 1);
    const kl1 = await numberAt(page, "#loss-kl");
    expect(kl1).toBeLessThan(kl0);
    expect(kl1).toBeLessThan(1e-6);
    expect(await numberAt(page, "#loss-entropy")).toBe(h0);
    expect(await numberAt(page, "#loss-total")).toBeCloseTo(h0 + kl1, 10);

    expect(errors).toEqual([]);
    await page.close();
  }, 30_000);

  it("the live run reaches one-hot without centering, uniform without sharpening, healthy with both", async () => {
    const { page, errors } = await openPage(url);
    await page.waitForSelector("body[data-ready=true]", { timeout: 15_000 });
    const cases = [
      { centering: false, sharpening: true, state: "one-hot" },
      { centering: true, sharpening: false, state: "uniform" },
      { centering: true, sharpening: true, state: "healthy" },
    ] as const;
    for (const c of cases) {
      await page.setChecked("#toggle-centering", c.centering);
      await page.setChecked("#toggle-sharpening", c.sharpening);
      await page.click("#run-start");
      await page.waitForSelector("#run-status[data-phase=done]", { timeout: 20_000 });
      expect(await page.getAttribute("#run-status", "data-state"), JSON.stringify(c)).toBe(c.state);
      expect(await page.textContent("#run-verdict")).toBe(c.state);
      // deterministic, and the very numbers of the same run in Node
      const node = finalNodeRecord(c.centering, c.sharpening);
      expect(await numberAt(page, "#run-status", "data-step")).toBe(node.step + 1);
      expect(await numberAt(page, "#run-status", "data-entropy")).toBe(node.teacherEntropy);
      expect(await numberAt(page, "#run-status", "data-kl")).toBe(node.kl);
    }
    expect(errors).toEqual([]);
    await page.close();
  }, 45_000);

  it("says why when the page is served without cross-origin isolation", async () => {
    // a plain server, without the COOP/COEP headers
    const site = join(dir, "site");
    const plain: Server = createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      const file = join(site, path === "/" ? "index.html" : path.slice(1));
      if (!existsSync(file)) return void res.writeHead(404).end();
      res.writeHead(200, { "Content-Type": file.endsWith(".js") ? "text/javascript" : file.endsWith(".css") ? "text/css" : "text/html" });
      res.end(readFileSync(file));
    });
    await new Promise<void>((resolve) => plain.listen(0, "127.0.0.1", resolve));
    try {
      const port = (plain.address() as { port: number }).port;
      const { page } = await openPage(`http://127.0.0.1:${port}/`);
      await page.waitForSelector("body[data-ready=error]", { timeout: 15_000 });
      expect(await page.textContent("#load-error")).toMatch(/not cross-origin isolated.*npm run playground/);
      await page.close();
    } finally {
      await new Promise((resolve) => plain.close(resolve));
    }
  }, 30_000);
});

describe("the Chromium for the playground test", () => {
  it("says in one line why a DINO_REF_CHROMIUM that does not exist cannot be used", async () => {
    const error = await findChromium({ DINO_REF_CHROMIUM: "/nonexistent/chromium" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChromiumError);
    expect((error as Error).message).toBe("DINO_REF_CHROMIUM=/nonexistent/chromium: no such file; point it at a Chromium binary or unset it");
  });
});
