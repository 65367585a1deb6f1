// Takes the README's picture of the playground (docs/img/playground.png): builds the page, serves
// it, runs the three settings of the live training in headless Chromium (so the chart compares
// them), then captures the whole page.
//
// node playground/screenshot.mjs [--out FILE]   (Chromium: see playground/chromium.mjs)

import { mkdirSync, renameSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildPlayground } from "./build.mjs";
import { ChromiumError, launchChromium } from "./chromium.mjs";
import { startServer } from "./serve.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const i = process.argv.indexOf("--out");
const out = resolve(i > 0 ? process.argv[i + 1] : join(root, "docs", "img", "playground.png"));

const dir = await buildPlayground();
const { url, server } = await startServer({ dir, port: 0 });
let browser;
try {
  browser = await launchChromium();
} catch (e) {
  server.close();
  if (!(e instanceof ChromiumError)) throw e;
  console.error(`screenshot: ${e.message}`);
  process.exit(1);
}
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]");
  for (const [centering, sharpening] of [[false, true], [true, false], [true, true]]) {
    await page.setChecked("#toggle-centering", centering);
    await page.setChecked("#toggle-sharpening", sharpening);
    await page.click("#run-start");
    await page.waitForSelector("#run-status[data-phase=done]");
  }
  // the loss panel halfway, so both parts of the split show
  await page.locator("#mix-slider").evaluate((el) => {
    el.value = "0.6";
    el.dispatchEvent(new Event("input", { bubbles: true }));
  });
  mkdirSync(dirname(out), { recursive: true });
  // written under a temporary name, then renamed: never half a picture
  const tmp = `${out}.tmp-${process.pid}.png`;
  await page.screenshot({ path: tmp, fullPage: true });
  renameSync(tmp, out);
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  server.close();
}
