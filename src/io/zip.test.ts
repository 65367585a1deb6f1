import { readFileSync } from "node:fs";
import { deflateRawSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DinoRefError } from "../tensor/errors.js";
import { isZip, readZip, writeZip } from "./zip.js";

const entry = (name: string, text: string) => ({ name, data: new TextEncoder().encode(text) });

describe("zip", () => {
  it("reads what it writes, each entry's data at a multiple of 64 bytes", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 20 }), fc.uint8Array({ maxLength: 300 })), { selector: ([n]) => n, maxLength: 6 }), (list) => {
        const bytes = writeZip(list.map(([name, data]) => ({ name, data })));
        const back = readZip(bytes, "t.zip");
        expect([...back.keys()]).toEqual(list.map(([n]) => n));
        for (const [name, data] of list) {
          const d = back.get(name)!;
          expect(Array.from(d)).toEqual(Array.from(data));
          expect((d.byteOffset - bytes.byteOffset) % 64).toBe(0);
        }
      }),
    );
  });

  it("reads torch.save's archives (zip64 end records, padded local headers)", () => {
    const entries = readZip(readFileSync("fixtures/weights/backbone.pth"), "backbone.pth");
    expect([...entries.keys()]).toContain("backbone/data.pkl");
    expect(new TextDecoder().decode(entries.get("backbone/version"))).toBe("3\n");
  });

  it("inflates deflated entries and checks their CRC", () => {
    const data = new TextEncoder().encode("hello hello hello hello");
    const stored = writeZip([{ name: "a.txt", data }]);
    // rewrite the archive with the entry deflated: method 8, compressed size, data
    const packed = deflateRawSync(data);
    const v = new DataView(stored.buffer, stored.byteOffset);
    const localExtra = v.getUint16(28, true);
    const start = 30 + 5 + localExtra;
    const cd = stored.length - 22 - (46 + 5);
    const out = new Uint8Array(start + packed.length + 46 + 5 + 22);
    out.set(stored.subarray(0, start));
    out.set(packed, start);
    out.set(stored.subarray(cd), start + packed.length);
    const w = new DataView(out.buffer);
    const cdAt = start + packed.length;
    w.setUint16(8, 8, true);
    w.setUint32(18, packed.length, true);
    w.setUint16(cdAt + 10, 8, true);
    w.setUint32(cdAt + 20, packed.length, true);
    w.setUint32(out.length - 22 + 16, cdAt, true);
    expect(new TextDecoder().decode(readZip(out, "deflated.zip").get("a.txt"))).toBe("hello hello hello hello");
  });

  const good = writeZip([entry("x/data.pkl", "abc"), entry("x/version", "3\n")]);
  const corrupt = (f: (b: Uint8Array, v: DataView) => void) => {
    const b = Uint8Array.from(good);
    f(b, new DataView(b.buffer));
    return b;
  };
  const cdStart = new DataView(good.buffer).getUint32(good.length - 22 + 16, true);
  const broken: [string, Uint8Array, RegExp][] = [
    ["an empty file", new Uint8Array(0), /no end-of-central-directory record/],
    ["a truncated archive", good.subarray(0, good.length - 30), /no end-of-central-directory record/],
    ["a flipped data byte", corrupt((b) => (b[64] ^= 1)), /entry 'x\/data\.pkl': CRC-32 mismatch/],
    ["an entry size past the file", corrupt((_, v) => v.setUint32(cdStart + 20, 1 << 30, true)), /stored with|run past the end/],
    ["a local header offset past the file", corrupt((_, v) => v.setUint32(cdStart + 42, 1 << 30, true)), /no local header at byte/],
    ["an encrypted entry", corrupt((_, v) => v.setUint16(cdStart + 8, 1, true)), /is encrypted/],
    ["an unknown compression method", corrupt((_, v) => v.setUint16(cdStart + 10, 12, true)), /compression method 12 is not supported/],
    ["a central directory past its end record", corrupt((_, v) => v.setUint32(good.length - 22 + 12, 1 << 20, true)), /runs past its end record/],
    ["more entries than the directory holds", corrupt((_, v) => v.setUint16(good.length - 22 + 10, 3, true)), /central directory entry 2/],
  ];
  for (const [what, bytes, message] of broken) {
    it(`refuses ${what}, naming the file`, () => {
      expect(() => readZip(bytes, "bad.pth")).toThrow(DinoRefError);
      expect(() => readZip(bytes, "bad.pth")).toThrow(message);
      expect(() => readZip(bytes, "bad.pth")).toThrow(/^bad\.pth: not a readable zip archive: /);
    });
  }

  it("never fails with anything but a one-line error on random bytes behind a zip signature", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(good.length - 1), (noise, at) => {
        const b = Uint8Array.from(good);
        b.set(noise.subarray(0, b.length - at), at);
        try {
          readZip(b, "fuzz.zip");
        } catch (e) {
          expect(e).toBeInstanceOf(DinoRefError);
          expect((e as Error).message).not.toContain("\n");
        }
      }),
    );
  });

  it("recognises archives by their first bytes", () => {
    expect(isZip(good)).toBe(true);
    expect(isZip(new Uint8Array([0x80, 2]))).toBe(false);
  });
});
