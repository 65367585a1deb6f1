// Counter-based random numbers (Philox4x32-10, Salmon et al. 2011, "Parallel random numbers: as
// easy as 1, 2, 3"). A value is a pure function of (seed, stream, counter): any crop, any weight,
// any drop-path mask can be drawn on its own, in any order and on any thread, and comes out the
// same. Streams separate purposes (init, crops, shuffling, drop path) so they never share numbers.

const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;

// 32×32 → 64-bit products, exact in float64: a·b = ⌊u/2^16⌋·2^32 + (u mod 2^16)·2^16 + t with
// t = a·(b mod 2^16) and u = a·⌊b/2^16⌋, both below 2^48. Results land in these two slots.
let mulHi = 0;
let mulLo = 0;
function mulHiLo(a: number, b: number): void {
  const t = a * (b & 0xffff);
  const u = a * (b >>> 16);
  const low = (u % 65536) * 65536 + t; // < 2^49, exact
  mulHi = (Math.floor(u / 65536) + Math.floor(low / 4294967296)) >>> 0;
  mulLo = low >>> 0;
}

/** Philox4x32 with 10 rounds, written into `out`: a bijection of the 128-bit counter under the 64-bit key. */
function philoxInto(out: Uint32Array, c0: number, c1: number, c2: number, c3: number, k0: number, k1: number): void {
  for (let round = 0; round < 10; round++) {
    mulHiLo(PHILOX_M0, c0);
    const hi0 = mulHi;
    const lo0 = mulLo;
    mulHiLo(PHILOX_M1, c2);
    c0 = (mulHi ^ c1 ^ k0) >>> 0;
    c1 = mulLo;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + PHILOX_W0) >>> 0;
    k1 = (k1 + PHILOX_W1) >>> 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/** Philox4x32-10 of counter c under key k. */
export function philox4x32(c: readonly [number, number, number, number], k: readonly [number, number]): [number, number, number, number] {
  const out = new Uint32Array(4);
  philoxInto(out, c[0] >>> 0, c[1] >>> 0, c[2] >>> 0, c[3] >>> 0, k[0] >>> 0, k[1] >>> 0);
  return [out[0], out[1], out[2], out[3]];
}

/** Named streams, so that two purposes never draw the same numbers. */
export const STREAM = {
  init: 1,
  crops: 2,
  shuffle: 3,
  dropPath: 4,
  split: 5,
  data: 6,
  probe: 7,
  labelSubset: 8,
  retrieval: 9,
  copyDetection: 10,
  video: 11,
  finetune: 12,
} as const;

/**
 * A deterministic source of uniform and normal numbers for one (seed, stream, key): the i-th
 * draw is philox(counter = (i, key, stream), key = seed) and does not depend on earlier draws.
 * `key` is a further index, e.g. the epoch·N + image index of a crop.
 */
export class Rng {
  private counter = 0;
  private readonly block = new Uint32Array(4);
  private used = 4;
  private readonly seedLo: number;
  private readonly seedHi: number;
  private readonly keyLo: number;
  private readonly keyHi: number;

  constructor(
    readonly seed: number,
    readonly stream: number,
    readonly key = 0,
  ) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`Rng: seed ${seed}; expected a non-negative integer`);
    if (!Number.isSafeInteger(key) || key < 0) throw new Error(`Rng: key ${key}; expected a non-negative integer`);
    this.seedLo = seed >>> 0;
    this.seedHi = Math.floor(seed / 4294967296) >>> 0;
    this.keyLo = key >>> 0;
    this.keyHi = Math.floor(key / 4294967296) >>> 0;
  }

  /** The next 32 random bits, as an unsigned integer. */
  nextUint32(): number {
    if (this.used === 4) {
      // counter = (draw block, key, stream), Philox key = seed
      philoxInto(this.block, this.counter >>> 0, this.keyLo, this.keyHi, this.stream >>> 0, this.seedLo, this.seedHi);
      this.counter++;
      this.used = 0;
    }
    return this.block[this.used++];
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [lo, hi). */
  uniformIn(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Integer uniform in [0, n) without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 4294967296) throw new Error(`Rng.int: n ${n}; expected an integer in [1, 2^32]`);
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** Standard normal (Box–Muller; one of the pair is used, so draws stay independent of parity). */
  normal(): number {
    // u1 in (0, 1] so the log is finite
    const u1 = 1 - this.uniform();
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** A random permutation of 0..n-1 (Fisher–Yates). */
  permutation(n: number): Int32Array {
    const p = Int32Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [p[i], p[j]] = [p[j], p[i]];
    }
    return p;
  }
}
