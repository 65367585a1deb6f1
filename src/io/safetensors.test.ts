import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { mkdtempSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSafetensors, readSafetensors, readSafetensorsHeader, serializeSafetensors, tensor, type StTensor, type DType } from "./safetensors.js";
import { setLimits } from "../tensor/limits.js";
import { nested, rawSafetensors } from "../../test/hostileFiles.js";

const dtypes: DType[] = ["F32", "F64", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"];

/** A random tensor of a random dtype and small shape. */
const anyTensor: fc.Arbitrary<StTensor> = fc
  .tuple(fc.constantFrom(...dtypes), fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }))
  .chain(([dtype, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: n, maxLength: n });
    return values.map((xs) => {
      switch (dtype) {
        case "F32":
          return tensor(dtype, shape, Float32Array.from(xs, (x) => x / 7));
        case "F64":
          return tensor(dtype, shape, Float64Array.from(xs, (x) => x / 7));
        case "I64":
          return tensor(dtype, shape, BigInt64Array.from(xs, (x) => BigInt(x) * 10_000_000_000n));
        case "I32":
          return tensor(dtype, shape, Int32Array.from(xs));
        case "F16":
        case "BF16":
          return tensor(dtype, shape, Uint16Array.from(xs, (x) => x & 0xffff));
        case "I16":
          return tensor(dtype, shape, Int16Array.from(xs));
        case "I8":
          return tensor(dtype, shape, Int8Array.from(xs, (x) => (x << 24) >> 24));
        case "U8":
          return tensor(dtype, shape, Uint8Array.from(xs, (x) => x & 255));
        case "BOOL":
          return tensor(dtype, shape, Uint8Array.from(xs, (x) => x & 1));
      }
    });
  });

/** A header + data file built by hand, for malformed-file tests. */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0), headerText?: string): Uint8Array {
  const json = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe("safetensors", () => {
  it("round-trips any set of tensors and metadata", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }).filter((s) => s !== "__metadata__"), anyTensor, { maxKeys: 6 }),
        fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 20 }), { maxKeys: 3 }),
        (tensors, metadata) => {
          const bytes = serializeSafetensors(Object.entries(tensors), metadata);
          const back = parseSafetensors(bytes, "roundtrip");
          expect(back.tensors.size).toBe(Object.keys(tensors).length);
          // the header keeps the order given (integer-like names aside, which JSON objects sort first)
          const plain = (ks: string[]) => ks.filter((k) => !/^(0|[1-9]\d*)$/.test(k));
          expect(plain([...back.tensors.keys()])).toEqual(plain(Object.keys(tensors)));
          for (const [name, t] of Object.entries(tensors)) {
            const u = back.tensors.get(name)!;
            expect(u.dtype).toBe(t.dtype);
            expect(u.shape).toEqual(t.shape);
            expect(Array.from(u.data as ArrayLike<number>)).toEqual(Array.from(t.data as ArrayLike<number>));
          }
          expect(back.metadata).toEqual(Object.keys(metadata).length > 0 ? metadata : {});
          // the writer pads the header so that every tensor starts aligned to its element size
          expect((8 + Number(new DataView(bytes.buffer).getBigUint64(0, true))) % 8).toBe(0);
          for (const u of back.tensors.values()) expect((u.data.byteOffset % u.data.BYTES_PER_ELEMENT)).toBe(0);
        },
      ),
    );
  });

  it("keeps tensors and metadata named like Object.prototype members (found by fast-check: '__proto__')", () => {
    const t = tensor("U8", [1], Uint8Array.of(7));
    const back = parseSafetensors(serializeSafetensors([["__proto__", t], ["constructor", t]], { __proto__x: "a", ["__proto__"]: "b" } as Record<string, string>), "proto");
    expect([...back.tensors.keys()].sort()).toEqual(["__proto__", "constructor"]);
    expect(Object.keys(back.metadata)).toContain("__proto__x");
  });

  it("reads unaligned files written by other tools (copying the data)", () => {
    const data = new Uint8Array(1 + 8);
    new DataView(data.buffer).setFloat64(1, 2.5, true);
    const file = rawFile({ b: { dtype: "F64", shape: [1], data_offsets: [1, 9] }, a: { dtype: "U8", shape: [1], data_offsets: [0, 1] }, __metadata__: { x: "y" } }, data);
    const parsed = parseSafetensors(file, "unaligned.safetensors");
    expect(Array.from(parsed.tensors.get("b")!.data as Float64Array)).toEqual([2.5]);
    expect(parsed.metadata).toEqual({ x: "y" });
  });

  const malformed: [string, Uint8Array, RegExp][] = [
    ["a file shorter than 8 bytes", new Uint8Array(5), /at least 8/],
    ["a header length past the end", (() => { const b = new Uint8Array(16); new DataView(b.buffer).setBigUint64(0, 1000n, true); return b; })(), /runs past the end/],
    ["a header that is not JSON", rawFile(null, undefined, "{not json"), /not valid UTF-8 JSON/],
    ["a header that does not start with {", rawFile(null, undefined, "[1, 2]"), /must start with '\{'/],
    ["an unknown dtype", rawFile({ t: { dtype: "F8_E4M3", shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /tensor 't': dtype "F8_E4M3" is not supported/],
    ["a negative dimension", rawFile({ t: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), /tensor 't': shape must be/],
    ["dtype size × shape not equal to the byte range", rawFile({ t: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)), /tensor 't': F32 \[3\] needs 12 bytes, data_offsets give 8/],
    ["a range past the data", rawFile({ t: { dtype: "U8", shape: [4], data_offsets: [0, 4] } }, new Uint8Array(2)), /runs past the 2 data bytes/],
    ["begin after end", rawFile({ t: { dtype: "U8", shape: [0], data_offsets: [3, 2] } }, new Uint8Array(4)), /begin after end/],
    ["overlapping ranges", rawFile({ a: { dtype: "U8", shape: [3], data_offsets: [0, 3] }, b: { dtype: "U8", shape: [2], data_offsets: [2, 4] } }, new Uint8Array(4)), /overlap/],
    ["a hole between tensors", rawFile({ a: { dtype: "U8", shape: [1], data_offsets: [0, 1] }, b: { dtype: "U8", shape: [1], data_offsets: [2, 3] } }, new Uint8Array(3)), /hole before 'b'/],
    ["trailing bytes no tensor owns", rawFile({ a: { dtype: "U8", shape: [1], data_offsets: [0, 1] } }, new Uint8Array(3)), /bytes 1\.\.3 of the data belong to no tensor/],
    ["non-string metadata", rawFile({ __metadata__: { k: 1 } }), /__metadata__\.k must be a string/],
    ["a tensor entry that is not an object", rawFile({ t: 5 }), /tensor 't': expected \{dtype, shape, data_offsets\}/],
    ["a metadata key given twice (JSON.parse would keep the last)", rawSafetensors('{"__metadata__":{"format":"dino-golden/1","format":"x"}}'), /the key "format" appears twice in the object "__metadata__"/],
    ["a tensor given twice", rawSafetensors('{"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"t":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}', new Uint8Array(2)), /the key "t" appears twice in the top-level object/],
    ["a shape nested 200,000 deep", rawSafetensors(`{"t":{"dtype":"F32","shape":${nested(200_000)},"data_offsets":[0,0]}}`), /nested more than 3 levels deep/],
    ["a dtype nested 200,000 deep", rawSafetensors(`{"t":{"dtype":${nested(200_000)},"shape":[1],"data_offsets":[0,4]}}`, new Uint8Array(4)), /nested more than 3 levels deep/],
    ["a huge shape array", rawFile({ t: { dtype: "F32", shape: Array.from({ length: 10_000 }, () => 1), data_offsets: [0, 8] } }, new Uint8Array(8)), /F32 \[(1, )+1,…\] needs 4 bytes, data_offsets give 8$/],
  ];
  for (const [what, bytes, message] of malformed) {
    it(`rejects ${what}, naming the file`, () => {
      expect(() => parseSafetensors(bytes, "bad.safetensors")).toThrow(message);
      expect(() => parseSafetensors(bytes, "bad.safetensors")).toThrow(/^bad\.safetensors: not a valid safetensors file/);
    });
  }
});

describe("readSafetensors on files", () => {
  const dir = mkdtempSync(join(tmpdir(), "dino-ref-st-"));

  it("rejects a 2 GB sparse file from its header and size, without reading the data", () => {
    const path = join(dir, "sparse.safetensors");
    writeFileSync(path, rawSafetensors('{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(4)));
    truncateSync(path, 2 ** 31 - 4096);
    const before = process.resourceUsage().maxRSS;
    expect(() => readSafetensors(path)).toThrow(/sparse\.safetensors: not a valid safetensors file: bytes 4\.\.\d+ of the data belong to no tensor/);
    // far less than the file's 2 GB (the process's peak, so only a loose bound)
    expect(process.resourceUsage().maxRSS - before).toBeLessThan(200_000);
  });

  it("with limitMemory (case files) refuses a data section above --max-memory before reading it", () => {
    const path = join(dir, "big.safetensors");
    writeFileSync(path, serializeSafetensors([["x", tensor("F32", [1000], new Float32Array(1000))]]));
    expect(readSafetensors(path).tensors.get("x")!.data.length).toBe(1000);
    const previous = setLimits({ maxMemory: 1000 });
    try {
      expect(() => readSafetensors(path, { limitMemory: true })).toThrow(/reading the tensors of \S+big\.safetensors would need about 4 kB, above the --max-memory limit of 1 kB/);
      expect(readSafetensorsHeader(path).entries[0].shape).toEqual([1000]);
    } finally {
      setLimits(previous);
    }
  });

  it("names a folder or a missing file in one line", () => {
    expect(() => readSafetensors(dir)).toThrow(/cannot read file \(a folder\)/);
    expect(() => readSafetensors(join(dir, "none"))).toThrow(/none: cannot read file \(ENOENT\)/);
  });
});
