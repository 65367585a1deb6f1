import { describe, expect, it } from "vitest";
import { cancelLastLayerGradients } from "./freezeLastLayer.js";
import { namedTensor } from "../tensor/named.js";

const grads = [
  namedTensor("backbone.cls_token", [1, 1, 4]),
  namedTensor("head.mlp.4.weight", [3, 4]),
  namedTensor("head.last_layer.weight_g", [5, 1]),
  namedTensor("head.last_layer.weight_v", [5, 3]),
];

describe("cancelLastLayerGradients", () => {
  it("removes (not zeroes) every gradient whose name contains last_layer while epoch < freezeLastLayer", () => {
    const kept = cancelLastLayerGradients(0, 1, grads);
    expect(kept.map((g) => g.name)).toEqual(["backbone.cls_token", "head.mlp.4.weight"]);
    expect(kept[0]).toBe(grads[0]); // the others are passed through untouched
    expect(cancelLastLayerGradients(2, 3, grads).length).toBe(2);
  });

  it("keeps everything from epoch freezeLastLayer on, and always with freezeLastLayer = 0", () => {
    expect(cancelLastLayerGradients(1, 1, grads).map((g) => g.name)).toEqual(grads.map((g) => g.name));
    expect(cancelLastLayerGradients(0, 0, grads).length).toBe(4);
  });

  it("does not modify the input list and rejects bad epochs by name", () => {
    cancelLastLayerGradients(0, 1, grads);
    expect(grads.length).toBe(4);
    expect(() => cancelLastLayerGradients(-1, 1, grads)).toThrow(/epoch -1/);
    expect(() => cancelLastLayerGradients(0, 0.5, grads)).toThrow(/freezeLastLayer 0.5/);
  });
});
