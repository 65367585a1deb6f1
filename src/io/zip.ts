// A small, bounds-checked zip reader and writer for PyTorch's `torch.save` archives (a folder
// `<name>/` holding data.pkl, data/<key> and version). The reader takes what torch writes (stored
// entries, zip64 end records) and deflated entries too; every offset and size is checked against
// the file, every entry's CRC-32 is verified, and anything else (encryption, multi-disk archives,
// other compression methods) is refused naming the file and the entry. The writer writes stored
// entries whose data start at multiples of 64 bytes, as torch's own writer does.

import { crc32, inflateRawSync } from "node:zlib";
import { DinoRefError } from "../tensor/errors.js";

const LOCAL = 0x04034b50;
const CENTRAL = 0x02014b50;
const END = 0x06054b50;
const END64 = 0x06064b50;
const END64_LOCATOR = 0x07064b50;
/** Entries in one archive at most (a ViT-B training checkpoint holds about 700). */
const MAX_ENTRIES = 1_000_000;
/** The largest deflated entry inflated (torch stores its entries uncompressed; this bounds a zip bomb). */
const MAX_INFLATED = 1 << 30;

/** Whether `bytes` start like a zip archive (a local file header). */
export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

/** The entries of a zip archive held in memory: name → bytes (views on `bytes` for stored entries). */
export function readZip(bytes: Uint8Array, source: string): Map<string, Uint8Array> {
  const fail = (what: string): never => {
    throw new DinoRefError(`${source}: not a readable zip archive: ${what}`);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  const u16 = (at: number) => (at + 2 <= n ? view.getUint16(at, true) : fail(`truncated at byte ${at}`));
  const u32 = (at: number) => (at + 4 <= n ? view.getUint32(at, true) : fail(`truncated at byte ${at}`));
  const u64 = (at: number) => {
    const v = at + 8 <= n ? view.getBigUint64(at, true) : fail(`truncated at byte ${at}`);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : fail(`a 64-bit size or offset at byte ${at} is too large (${v})`);
  };

  // the end-of-central-directory record: the last 22 bytes, or earlier when a comment follows it
  let end = -1;
  for (let at = n - 22; at >= Math.max(0, n - 22 - 0xffff); at--) {
    if (view.getUint32(at, true) === END && at + 22 + view.getUint16(at + 20, true) === n) {
      end = at;
      break;
    }
  }
  if (end < 0) fail(`no end-of-central-directory record (file has ${n} bytes)`);
  if (u16(end + 4) !== 0 || u16(end + 6) !== 0) fail("multi-disk archives are not supported");
  let count = u16(end + 10);
  let cdSize = u32(end + 12);
  let cdOffset = u32(end + 16);
  // zip64: torch always writes the zip64 end record; its values hold when the 32-bit ones overflow
  if (end >= 20 && u32(end - 20) === END64_LOCATOR) {
    const at = u64(end - 20 + 8);
    if (at + 56 > end || u32(at) !== END64) fail(`the zip64 end record offset ${at} does not point at a zip64 end record`);
    count = u64(at + 32);
    cdSize = u64(at + 40);
    cdOffset = u64(at + 48);
  }
  if (count > MAX_ENTRIES) fail(`${count} entries, more than the ${MAX_ENTRIES} this reader accepts`);
  if (cdOffset + cdSize > end) fail(`the central directory [${cdOffset}, ${cdOffset + cdSize}) runs past its end record at byte ${end}`);

  const entries = new Map<string, Uint8Array>();
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  let at = cdOffset;
  for (let i = 0; i < count; i++) {
    if (at + 46 > cdOffset + cdSize || u32(at) !== CENTRAL) fail(`central directory entry ${i} at byte ${at} is not a central directory header`);
    const flags = u16(at + 8);
    const method = u16(at + 10);
    const crc = u32(at + 16);
    let csize = u32(at + 20);
    let usize = u32(at + 24);
    const nameLength = u16(at + 28);
    const extraLength = u16(at + 30);
    const commentLength = u16(at + 32);
    let local = u32(at + 42);
    const next = at + 46 + nameLength + extraLength + commentLength;
    if (next > cdOffset + cdSize) fail(`central directory entry ${i} runs past the directory`);
    let name: string;
    try {
      name = utf8.decode(bytes.subarray(at + 46, at + 46 + nameLength));
    } catch {
      name = fail(`the name of entry ${i} is not UTF-8`);
    }
    const where = `entry '${name}'`;
    // zip64 extended information (id 1): the 64-bit values of the fields that read 0xffffffff, in this order
    for (let e = at + 46 + nameLength; e + 4 <= at + 46 + nameLength + extraLength; ) {
      const id = u16(e);
      const size = u16(e + 2);
      if (e + 4 + size > at + 46 + nameLength + extraLength) fail(`${where}: an extra field runs past the entry`);
      if (id === 1) {
        let f = e + 4;
        const take = () => (f + 8 <= e + 4 + size ? ((f += 8), u64(f - 8)) : fail(`${where}: the zip64 field is too short`));
        if (usize === 0xffffffff) usize = take();
        if (csize === 0xffffffff) csize = take();
        if (local === 0xffffffff) local = take();
      }
      e += 4 + size;
    }
    if (flags & 1) fail(`${where} is encrypted`);
    if (entries.has(name)) fail(`${where} appears twice`);

    // the local header repeats the name; the data follow it and its extra field (torch pads there)
    if (local + 30 > n || u32(local) !== LOCAL) fail(`${where}: no local header at byte ${local}`);
    const dataStart = local + 30 + u16(local + 26) + u16(local + 28);
    if (dataStart + csize > n) fail(`${where}: its ${csize} bytes at byte ${dataStart} run past the end of the file (${n} bytes)`);
    const raw = bytes.subarray(dataStart, dataStart + csize);
    let data: Uint8Array;
    if (method === 0) {
      if (csize !== usize) fail(`${where}: stored with ${csize} bytes but says it has ${usize}`);
      data = raw;
    } else if (method === 8) {
      if (usize > MAX_INFLATED) fail(`${where}: a deflated entry of ${usize} bytes, above the ${MAX_INFLATED}-byte limit (torch stores its entries uncompressed)`);
      try {
        data = inflateRawSync(raw, { maxOutputLength: Math.max(1, usize) });
      } catch (e) {
        data = fail(`${where}: cannot inflate (${(e as Error).message})`);
      }
      if (data.length !== usize) fail(`${where}: inflates to ${data.length} bytes, expected ${usize}`);
    } else {
      data = fail(`${where}: compression method ${method} is not supported (stored or deflate only)`);
    }
    if (crc32(data) >>> 0 !== crc) fail(`${where}: CRC-32 mismatch (the file is corrupt or truncated)`);
    entries.set(name, data);
    at = next;
  }
  return entries;
}

/** A zip archive of stored entries, each entry's data starting at a multiple of 64 bytes (for memory mapping, as torch writes). */
export function writeZip(entries: readonly { name: string; data: Uint8Array }[]): Uint8Array {
  if (entries.length > 0xffff) throw new DinoRefError(`zip: ${entries.length} entries; this writer writes up to 65,535`);
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const { name, data } of entries) {
    const nameBytes = encoder.encode(name);
    const crc = crc32(data) >>> 0;
    // padding in an extra field (id "FB", as torch) so that the data start at a multiple of 64
    const before = offset + 30 + nameBytes.length;
    const pad = (64 - ((before + 4) % 64)) % 64;
    const extra = new Uint8Array(4 + pad);
    new DataView(extra.buffer).setUint16(0, 0x4246, true);
    new DataView(extra.buffer).setUint16(2, pad, true);
    if (offset + 30 + nameBytes.length + extra.length + data.length > 0xfffffffe) {
      throw new DinoRefError(`zip: the archive would pass 4 GiB at entry '${name}'; this writer writes up to 4 GiB`);
    }
    const local = header(30, [[0, LOCAL, 4], [4, 20, 2], [14, crc, 4], [18, data.length, 4], [22, data.length, 4], [26, nameBytes.length, 2], [28, extra.length, 2]]);
    const dir = header(46, [[0, CENTRAL, 4], [4, 20, 2], [6, 20, 2], [16, crc, 4], [20, data.length, 4], [24, data.length, 4], [28, nameBytes.length, 2], [42, offset, 4]]);
    parts.push(local, nameBytes, extra, data);
    central.push(dir, nameBytes);
    offset += local.length + nameBytes.length + extra.length + data.length;
  }
  const cdSize = central.reduce((s, b) => s + b.length, 0);
  const end = header(22, [[0, END, 4], [8, entries.length, 2], [10, entries.length, 2], [12, cdSize, 4], [16, offset, 4]]);
  const all = [...parts, ...central, end];
  const out = new Uint8Array(all.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of all) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** A little-endian header of `size` bytes with the given (offset, value, width) fields, zero elsewhere. */
function header(size: number, fields: [number, number, 2 | 4][]): Uint8Array {
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  for (const [at, value, width] of fields) {
    if (width === 2) v.setUint16(at, value, true);
    else v.setUint32(at, value, true);
  }
  return out;
}
