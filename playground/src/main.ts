// The playground page: loads the SIMD wasm kernels (the same build/kernels.wasm as the Node
// package) and sets up the four panels. document.body's data-ready is "true" once everything
// works, "error" (with #load-error showing why) when the kernels cannot load.

import { loadKernels } from "../../src/kernels/wasm.browser.js";
import { setupTemperaturePanel } from "./temperaturePanel.js";
import { setupLossPanel } from "./lossPanel.js";
import { SchedulePanel } from "./schedulePanel.js";
import { LivePanel } from "./livePanel.js";
import { byId } from "./draw.js";

async function main(): Promise<void> {
  try {
    await loadKernels(new URL("kernels.wasm", import.meta.url));
    setupTemperaturePanel();
    setupLossPanel();
    const schedules = new SchedulePanel({ centering: true, sharpening: true, seed: 0 });
    new LivePanel(schedules);
    document.body.dataset.ready = "true";
  } catch (e) {
    const box = byId("load-error");
    box.textContent = `The playground cannot start: ${e instanceof Error ? e.message : String(e)}`;
    box.hidden = false;
    document.body.dataset.ready = "error";
    throw e;
  }
}

void main();
