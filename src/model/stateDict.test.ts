import { describe, expect, it } from "vitest";
import { matchStateDict, loadMatched } from "./stateDict.js";
import { tensor, type StTensor } from "../io/safetensors.js";

const backbone = [
  { name: "cls_token", shape: [1, 1, 2] },
  { name: "norm.weight", shape: [2] },
];
const dino = [
  { name: "backbone.cls_token", shape: [1, 1, 2] },
  { name: "backbone.norm.weight", shape: [2] },
  { name: "head.last_layer.weight_v", shape: [3, 2] },
];
const t = (shape: number[], v = 1): StTensor => tensor("F32", shape, new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(v));
const file = (entries: [string, StTensor][]) => new Map(entries);

describe("matchStateDict", () => {
  it("strips module. and backbone. from an official backbone file", () => {
    const m = matchStateDict(file([["module.backbone.cls_token", t([1, 1, 2])], ["module.backbone.norm.weight", t([2])]]), backbone, "f");
    expect([...m.tensors.keys()].sort()).toEqual(["cls_token", "norm.weight"]);
    expect(m.missing).toEqual([]);
    expect(m.unexpected).toEqual([]);
  });

  it("reports head weights as unexpected when loading a backbone, with the reason", () => {
    const m = matchStateDict(file([["backbone.cls_token", t([1, 1, 2])], ["backbone.norm.weight", t([2])], ["head.mlp.0.weight", t([4, 2])]]), backbone, "f");
    expect(m.unexpected).toEqual([{ key: "head.mlp.0.weight", why: "a DINO head weight; this model is a backbone only" }]);
  });

  it("picks the teacher (default) or the student of a training checkpoint", () => {
    const ckpt = file([
      ["teacher.backbone.cls_token", t([1, 1, 2], 1)],
      ["teacher.backbone.norm.weight", t([2], 1)],
      ["teacher.head.last_layer.weight_v", t([3, 2], 1)],
      ["student.module.backbone.cls_token", t([1, 1, 2], 2)],
      ["student.module.backbone.norm.weight", t([2], 2)],
      ["student.module.head.last_layer.weight_v", t([3, 2], 2)],
      ["center", t([1, 3])],
    ]);
    const teacher = matchStateDict(ckpt, dino, "ckpt");
    expect(teacher.missing).toEqual([]);
    expect(teacher.tensors.get("backbone.cls_token")!.data[0]).toBe(1);
    expect(teacher.unexpected.map((u) => u.key)).toEqual(["center"]);
    const student = matchStateDict(ckpt, dino, "ckpt", "student");
    expect(student.tensors.get("head.last_layer.weight_v")!.data[0]).toBe(2);
    // a backbone-only model from a full checkpoint: the head is unexpected, nothing missing
    expect(matchStateDict(ckpt, backbone, "ckpt").missing).toEqual([]);
  });

  it("names the key and both shapes on a shape mismatch, and lists missing keys with shapes", () => {
    expect(() => matchStateDict(file([["cls_token", t([1, 1, 3])]]), backbone, "w.safetensors")).toThrow(
      "w.safetensors: tensor cls_token has shape [1, 1, 3]; parameter cls_token of this model expects [1, 1, 2]",
    );
    const m = matchStateDict(file([["cls_token", t([1, 1, 2])]]), backbone, "w.safetensors");
    expect(m.missing).toEqual(["norm.weight"]);
    expect(() => loadMatched(m, backbone, () => ({ data: new Float32Array(2) }), "w.safetensors")).toThrow(
      "w.safetensors: missing 1 parameter(s) of this model: norm.weight [2]",
    );
  });
});
