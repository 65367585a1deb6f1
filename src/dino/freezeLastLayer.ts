// Last-layer freezing (official `utils.py cancel_gradients_last_layer`). During the
// first `freezeLastLayer` epochs (default 1) the head's last layer gets no update: while the
// network is still random, letting the last layer move too makes training unstable; the official
// help text: "Typically doing so during the first epoch helps training. Try increasing this value
// if the loss does not decrease."
//
// The code sets those gradients to None, NOT to zero: AdamW then skips the tensors entirely (no
// decay, no moment update, no step count), so the last layer's bias correction starts afresh when
// it unfreezes. We mirror None by removing them from the list. The loss still backpropagates
// THROUGH the last layer into the rest of the network.

import type { NamedTensor } from "../tensor/named.js";
import { check } from "../tensor/errors.js";
import { NO_BUGS, type Bugs } from "../tensor/portingBugs.js";

/**
 * The gradients without those whose name contains "last_layer", while epoch < freezeLastLayer.
 * Pure. freeze.last_layer_zeroed (diagnosis only): those gradients are kept, set to zero.
 */
export function cancelLastLayerGradients(epoch: number, freezeLastLayer: number, grads: readonly NamedTensor[], bugs: Bugs = NO_BUGS): NamedTensor[] {
  check(Number.isInteger(epoch) && epoch >= 0, () => `cancelLastLayerGradients: epoch ${epoch}; expected an integer >= 0`);
  check(Number.isInteger(freezeLastLayer) && freezeLastLayer >= 0, () => `cancelLastLayerGradients: freezeLastLayer ${freezeLastLayer}; expected an integer >= 0`);
  // frozen while epoch < freeze_last_layer
  if (epoch >= freezeLastLayer) return [...grads];
  if (bugs.has("freeze.last_layer_zeroed")) return grads.map((g) => (g.name.includes("last_layer") ? { ...g, data: new Float32Array(g.data.length) } : g));
  return grads.filter((g) => !g.name.includes("last_layer"));
}
