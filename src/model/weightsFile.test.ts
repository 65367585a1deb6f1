// Weights files of any format as named tensors: every PyTorch fixture (written by
// reference-tests/weights/make_weight_fixtures.py) read to exactly what the Python converter
// (reference-tests/convert_checkpoint.py, through torch.load) made of it, metadata included; the
// round trip through .pth; the one conversion rule for numbers (F16 / BF16 widened exactly).
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseSafetensors, tensor, type StTensor } from "../io/safetensors.js";
import { asFloat32, officialFloat32, readWeightsFile, writeWeightsFile } from "./weightsFile.js";

const DIR = "fixtures/weights";
const bits = (t: StTensor) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString("hex");

function expectSameTensors(a: ReadonlyMap<string, StTensor>, b: ReadonlyMap<string, StTensor>): void {
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [k, t] of a) expect([k, t.dtype, t.shape, bits(t)]).toEqual([k, b.get(k)!.dtype, b.get(k)!.shape, bits(b.get(k)!)]);
}

const withoutSource = (m: Record<string, string>) => Object.fromEntries(Object.entries(m).filter(([k]) => k !== "source"));

describe("weights files", () => {
  for (const name of ["backbone.pth", "backbone_legacy.pth", "backbone_fp16.pth", "checkpoint.pth", "dtypes.pth", "hf_backbone.bin"]) {
    it(`reads ${name} as the Python converter did, bit for bit (keys, order, dtypes, metadata)`, () => {
      const ours = readWeightsFile(`${DIR}/${name}`);
      const expected = parseSafetensors(readFileSync(`${DIR}/${name.replace(/\.(pth|bin)$/, ".expected.safetensors")}`), "expected");
      expectSameTensors(ours.tensors, expected.tensors);
      expect(withoutSource(ours.metadata)).toEqual(withoutSource(expected.metadata));
    });
  }

  it("writes a training checkpoint to .pth and reads it back as it was", () => {
    const d = mkdtempSync(join(tmpdir(), "dino-ref-weights-"));
    const original = readWeightsFile(`${DIR}/checkpoint.pth`);
    expect(writeWeightsFile(join(d, "back.pth"), original)).toEqual([]);
    const back = readWeightsFile(join(d, "back.pth"));
    expectSameTensors(back.tensors, original.tensors);
    expect(back.metadata.args).toBe(original.metadata.args);
    expect(back.metadata.epoch).toBe("3");
    expect(back.metadata.student_prefix).toBe("module.");
    expect(back.metadata.dropped).toBe("");
  });

  it("drops a dino-ref checkpoint's AdamW moments and config on the way to .pth, and says so", () => {
    const d = mkdtempSync(join(tmpdir(), "dino-ref-weights-"));
    const t = tensor("F32", [2], Float32Array.of(1, 2));
    const notes = writeWeightsFile(join(d, "x.pth"), {
      tensors: new Map([["student.cls_token", t], ["teacher.cls_token", t], ["center", t], ["optimizer.exp_avg.cls_token", t]]),
      metadata: { format: "dino-ref-checkpoint/1", config: "{}", epoch: "2" },
    });
    expect(notes.join("\n")).toMatch(/dropped 1 optimizer\.\* tensors/);
    expect(notes.join("\n")).toMatch(/dropped the dino-ref training config/);
    const back = readWeightsFile(join(d, "x.pth"));
    expect([...back.tensors.keys()]).toEqual(["student.cls_token", "teacher.cls_token", "center"]);
    expect(back.metadata.student_prefix).toBe("module.");
  });

  it("widens every half-precision value to float32 exactly (and bfloat16 by its bits)", () => {
    const halves = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const f32 = asFloat32(tensor("F16", [65536], halves), "h", "t").data as Float32Array;
    const out = new Uint32Array(f32.buffer);
    const wrong: number[] = [];
    for (let h = 0; h < 65536; h++) {
      // independent formula on the bits: sign, exponent rebiased 15 → 127, fraction shifted 13; subnormals normalised
      const s = (h & 0x8000) << 16;
      let e = (h >> 10) & 0x1f;
      let f = h & 0x3ff;
      let want: number;
      if (e === 31) want = f === 0 ? s | 0x7f800000 : NaN;
      else if (e === 0 && f === 0) want = s;
      else {
        if (e === 0) {
          e = 1;
          while ((f & 0x400) === 0) (f <<= 1), e--;
          f &= 0x3ff;
        }
        want = s | ((e - 15 + 127) << 23) | (f << 13);
      }
      if (Number.isNaN(want) ? !Number.isNaN(f32[h]) : out[h] !== want >>> 0) wrong.push(h);
    }
    expect(wrong).toEqual([]);
    const bf = asFloat32(tensor("BF16", [2], Uint16Array.of(0x3f80, 0xc049)), "b", "t").data as Float32Array;
    expect(Array.from(bf)).toEqual([1, Math.fround(-3.140625)]);
    expect(() => asFloat32(tensor("I64", [1], BigInt64Array.of(1n)), "k", "f.pth")).toThrow(/^f\.pth: tensor k has dtype I64; weights must be F32, F16 or BF16/);
  });

  it("loads a half-precision backbone as the float32 backbone widened, and says so", () => {
    const half = officialFloat32(readWeightsFile(`${DIR}/backbone_fp16.pth`), "fp16");
    expect(half.notes).toContain("F16 tensors widened to F32 (exact)");
    const full = readWeightsFile(`${DIR}/backbone.pth`).tensors;
    for (const [k, t] of half.tensors) {
      const want = Float32Array.from(full.get(k)!.data as Float32Array, (x) => x); // the F32 backbone, before .half()
      const got = t.data as Float32Array;
      // .half() rounds to 11 significant bits: the widened values are within half a unit of that
      for (let i = 0; i < got.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(Math.abs(want[i]) * 2 ** -11 + 2 ** -25);
    }
  });
});
