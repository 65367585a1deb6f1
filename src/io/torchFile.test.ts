// torch.save files read without Python: the fixtures written by PyTorch (reference-tests/weights/
// make_weight_fixtures.py) against what the Python converter saw in them, the writer against the
// reader, malicious files, and damaged ones.
import { existsSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DinoRefError } from "../tensor/errors.js";
import { PyDict, type PyValue } from "./pickle.js";
import { pickleProtocol2 } from "./pickleWriter.js";
import { parseSafetensors, tensor, type DType, type StTensor } from "./safetensors.js";
import { readTorchFile, tensorOf, torchTensor, writeTorchFile } from "./torchFile.js";
import { writeZip } from "./zip.js";

const DIR = "fixtures/weights";
const bits = (t: StTensor) => Array.from(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));

/** The tensors of a state_dict read from a torch file. */
function stateDict(v: PyValue): Map<string, StTensor> {
  expect(v).toBeInstanceOf(PyDict);
  return new Map([...(v as PyDict).map].map(([k, x]) => [k as string, tensorOf(x)!]));
}

function expectSame(a: ReadonlyMap<string, StTensor>, b: ReadonlyMap<string, StTensor>): void {
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [k, t] of a) {
    const u = b.get(k)!;
    expect([k, t.dtype, t.shape]).toEqual([k, u.dtype, u.shape]);
    expect(bits(t)).toEqual(bits(u));
  }
}

describe("torch.save files", () => {
  it("reads the zip and the legacy format of the same state_dict to the same tensors, those PyTorch saw", () => {
    const zip = readTorchFile(readFileSync(`${DIR}/backbone.pth`), "backbone.pth");
    const legacy = readTorchFile(readFileSync(`${DIR}/backbone_legacy.pth`), "backbone_legacy.pth");
    expect([zip.container, legacy.container]).toEqual(["zip", "legacy"]);
    expectSame(stateDict(zip.value), stateDict(legacy.value));
    expectSame(stateDict(zip.value), parseSafetensors(readFileSync(`${DIR}/backbone.expected.safetensors`), "expected").tensors);
  });

  it("reads every dtype, NaN and -0.0 bits, 0-d, empty, strided and shared-storage tensors as PyTorch does", () => {
    const ours = stateDict(readTorchFile(readFileSync(`${DIR}/dtypes.pth`), "dtypes.pth").value);
    expectSame(ours, parseSafetensors(readFileSync(`${DIR}/dtypes.expected.safetensors`), "expected").tensors);
    expect(ours.get("strided")!.shape).toEqual([4, 3]);
    expect(ours.get("scalar")!.shape).toEqual([]);
  });

  it("writes files it reads back identically, every dtype (torch.load reads them: .ci/run)", () => {
    const dtypes: DType[] = ["F32", "F64", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"];
    const anyTensor = fc.tuple(fc.constantFrom(...dtypes), fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }), fc.uint8Array({ minLength: 8 * 27, maxLength: 8 * 27 })).map(([dtype, shape, raw]) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const size = { F32: 4, F64: 8, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 }[dtype];
      const bytes = raw.slice(0, n * size);
      const data = { F32: Float32Array, F64: Float64Array, F16: Uint16Array, BF16: Uint16Array, I64: BigInt64Array, I32: Int32Array, I16: Int16Array, I8: Int8Array, U8: Uint8Array, BOOL: Uint8Array }[dtype];
      return tensor(dtype, shape, new data(bytes.buffer, 0, n));
    });
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 10 }), anyTensor), { selector: ([k]) => k, maxLength: 5 }), (entries) => {
        const sd = new PyDict(true);
        for (const [k, t] of entries) sd.map.set(k, torchTensor(t));
        const back = readTorchFile(writeTorchFile(sd), "rt.pth");
        expect(back.container).toBe("zip");
        expectSame(new Map(entries), stateDict(back.value));
      }),
      { numRuns: 50 },
    );
  });

  for (const [file, global] of [["evil_system.pth", "posix.system"], ["evil_eval.pth", "builtins.eval"], ["evil_stack_global.pt", "posix.system"]]) {
    it(`refuses ${file} naming '${global}', running nothing`, () => {
      const marker = "/tmp/dino-ref-pickle-ran";
      const existed = existsSync(marker);
      expect(() => readTorchFile(readFileSync(`${DIR}/${file}`), file)).toThrow(DinoRefError);
      expect(() => readTorchFile(readFileSync(`${DIR}/${file}`), file)).toThrow(new RegExp(`refused: the pickle asks for the Python global '${global.replace(".", "\\.")}'.*nothing was run$`));
      if (!existed) expect(existsSync(marker)).toBe(false);
    });
  }

  /** A zip torch file whose one tensor claims `shape` on a storage of `numel` elements holding `bytes` bytes. */
  function forged(shape: number[], numel: number, bytes: number, withEntry = true): Uint8Array {
    const pkl = pickleProtocol2(torchTensor(tensor("F32", [0], new Float32Array(0))), (v) => (tensorOf(v) ? { storage: { module: "torch", name: "FloatStorage" }, key: "0", numel, shape } : null));
    return writeZip([{ name: "a/data.pkl", data: pkl }, ...(withEntry ? [{ name: "a/data/0", data: new Uint8Array(bytes) }] : []), { name: "a/version", data: new TextEncoder().encode("3\n") }]);
  }

  const damaged: [string, Uint8Array, RegExp][] = [
    ["a tensor reading past its storage", forged([4], 2, 8), /reads element 3 of storage '0', which has 2/],
    ["a storage with fewer bytes than its size", forged([2], 2, 4), /storage '0' has 4 bytes; 2 F32 elements need 8/],
    ["a storage without its entry", forged([2], 2, 8, false), /storage '0' has no entry a\/data\/0/],
    ["a zip without data.pkl", writeZip([{ name: "a/version", data: new Uint8Array(2) }]), /without <name>\/data\.pkl: not a torch\.save file/],
    ["a legacy file cut short", readFileSync(`${DIR}/backbone_legacy.pth`).subarray(0, 5000), /truncated/],
    ["a file that is neither format", new TextEncoder().encode("hello"), /not a readable pickle|not a torch\.save file/],
    ["a bare tensor's pickle from another program", Uint8Array.from([0x80, 2, 0x4e, 0x2e]), /not a torch\.save file/],
  ];
  for (const [what, bytes, message] of damaged) {
    it(`refuses ${what} in one line naming the file`, () => {
      expect(() => readTorchFile(bytes, "bad.pth")).toThrow(message);
      expect(() => readTorchFile(bytes, "bad.pth")).toThrow(/^bad\.pth[:]/);
    });
  }
});
