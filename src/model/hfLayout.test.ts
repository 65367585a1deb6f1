// The Hugging Face ViTModel layout (fixtures/weights/hf_backbone.safetensors: the fixture backbone
// renamed by the generator as transformers' convert_dino_to_pytorch.py does) against the official
// one, both ways, bit for bit.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseSafetensors, tensor, type StTensor } from "../io/safetensors.js";
import { detectLayout, hfToOfficial, officialToHf } from "./hfLayout.js";
import { readWeightsFile } from "./weightsFile.js";

const hf = parseSafetensors(readFileSync("fixtures/weights/hf_backbone.safetensors"), "hf").tensors;
const official = readWeightsFile("fixtures/weights/backbone.pth").tensors;
const bits = (t: StTensor) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString("hex");
const same = (a: ReadonlyMap<string, StTensor>, b: ReadonlyMap<string, StTensor>) => {
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [k, t] of a) expect([k, t.dtype, t.shape, bits(t)]).toEqual([k, b.get(k)!.dtype, b.get(k)!.shape, bits(b.get(k)!)]);
};

describe("Hugging Face layout", () => {
  it("detects the layouts", () => {
    expect(detectLayout(hf.keys())).toBe("hf");
    expect(detectLayout(official.keys())).toBe("official");
    expect(detectLayout(["vit.embeddings.patch_embeddings.projection.weight"])).toBe("hf");
  });

  it("renames HF to official (q, k, v concatenated) in the official state_dict order, bit for bit", () => {
    const r = hfToOfficial(hf, "hf");
    same(r.tensors, official);
    expect(r.unexpected).toEqual([]);
  });

  it("renames official to HF (qkv split) in ViTModel's order, bit for bit, and back", () => {
    same(officialToHf(official, "official"), hf);
    same(officialToHf(hfToOfficial(hf, "hf").tensors, "x"), hf);
  });

  it("reads ViTForImageClassification's vit. prefix, and names what the backbone leaves out", () => {
    const prefixed = new Map([...hf].map(([k, t]) => [`vit.${k}`, t]));
    const extra = tensor("F32", [1], Float32Array.of(0));
    prefixed.set("classifier.weight", extra);
    prefixed.set("vit.pooler.dense.weight", extra);
    const r = hfToOfficial(prefixed, "p");
    same(r.tensors, official);
    expect(r.unexpected.map((u) => u.key)).toEqual(["classifier.weight", "vit.pooler.dense.weight"]);
    expect(r.unexpected[1].why).toMatch(/pooler/);
  });

  it("names a missing tensor and mismatched q/k/v", () => {
    const missing = new Map(hf);
    missing.delete("encoder.layer.1.attention.attention.key.weight");
    expect(() => hfToOfficial(missing, "m.safetensors")).toThrow(/^m\.safetensors: Hugging Face layout without encoder\.layer\.1\.attention\.attention\.key\.weight/);
    const odd = new Map(hf);
    odd.set("encoder.layer.0.attention.attention.value.weight", tensor("F32", [16, 3], new Float32Array(48)));
    expect(() => hfToOfficial(odd, "o")).toThrow(/query, key and value tensors of encoder\.layer\.0\.attention differ/);
    const head = new Map(official);
    head.set("head.mlp.0.weight", tensor("F32", [1], new Float32Array(1)));
    expect(() => officialToHf(head, "h")).toThrow(/head\.mlp\.0\.weight has no place in the Hugging Face ViTModel layout/);
  });
});
