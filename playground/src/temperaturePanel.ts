// Panel 1: a temperature slider on the softmax of a fixed vector of head outputs. The
// probabilities and their entropy come from the wasm softmax kernels (lessons.ts).

import { TEMPERATURE_LOGITS, temperatureSoftmax } from "./lessons.js";
import { byId, COLORS, fmt, renderBars } from "./draw.js";

/** The slider holds log10 τ, so that 0.01 … 10 spread evenly. */
export function temperatureFromSlider(value: string): number {
  return Number((10 ** Number(value)).toPrecision(3));
}

export function setupTemperaturePanel(): void {
  const slider = byId<HTMLInputElement>("temp-slider");
  const update = () => {
    const tau = temperatureFromSlider(slider.value);
    const { probs, entropy, lnK } = temperatureSoftmax(TEMPERATURE_LOGITS, tau);
    byId("temp-value").textContent = String(tau);
    byId("temp-logits").textContent = `[${TEMPERATURE_LOGITS.join(", ")}]`;
    renderBars(byId("temp-bars"), [{ values: probs, color: COLORS.student, label: "p" }], Array.from(probs, (p, k) => `p${k} ${fmt(p, 2)}`));
    const entropyEl = byId("temp-entropy");
    entropyEl.textContent = fmt(entropy);
    entropyEl.dataset.value = String(entropy);
    byId("temp-lnk").textContent = fmt(lnK);
    byId<HTMLMeterElement>("temp-meter").value = entropy / lnK;
  };
  slider.addEventListener("input", update);
  for (const button of document.querySelectorAll<HTMLButtonElement>("button[data-tau]")) {
    button.addEventListener("click", () => {
      slider.value = String(Math.log10(Number(button.dataset.tau)));
      update();
    });
  }
  update();
}
