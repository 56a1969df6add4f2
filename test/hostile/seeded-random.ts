/**
 * A small seeded pseudo-random generator (sfc32) for reproducible hostile-input tests.
 *
 * Every suite takes its seed from `SFT_HOSTILE_SEED` when set, else from a fixed default,
 * and puts the seed in its failure messages, so any failure can be replayed exactly.
 */

/** Returns the seed for a suite: `SFT_HOSTILE_SEED` when it is set, else `fallback`. */
export function suiteSeed(fallback: number): number {
  const text = process.env.SFT_HOSTILE_SEED;
  if (text === undefined || text === '') return fallback >>> 0;
  const seed = Number(text);
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new Error(`SFT_HOSTILE_SEED="${text}" is not a non-negative integer.`);
  }
  return seed >>> 0;
}

/** sfc32 over a 32-bit seed and a stream number, so that input `i` of a run is reproducible on its own. */
export class SeededRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream = 0) {
    this.a = 0x9e3779b9;
    this.b = seed >>> 0;
    this.c = stream >>> 0;
    this.d = 1;
    // Mix the state before the first output, as the sfc32 reference does.
    for (let i = 0; i < 15; i++) this.next();
  }

  /** Returns a uniformly distributed unsigned 32-bit integer. */
  next(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Returns an integer in [0, limit). */
  below(limit: number): number {
    if (!Number.isSafeInteger(limit) || limit <= 0) {
      throw new Error(`below(${limit}): the limit must be a positive integer.`);
    }
    if (limit <= 0x1_0000_0000) return Math.floor((this.next() / 0x1_0000_0000) * limit);
    return Math.floor(((this.next() * 0x1_0000_0000 + this.next()) / 2 ** 64) * limit);
  }

  /** Returns an integer in [min, max]. */
  between(min: number, max: number): number {
    return min + this.below(max - min + 1);
  }

  /** Returns true with probability `p`. */
  chance(p: number): boolean {
    return this.next() / 0x1_0000_0000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }

  bytes(size: number): Buffer {
    const out = Buffer.alloc(size);
    for (let i = 0; i < size; i++) out[i] = this.next() & 0xff;
    return out;
  }

  /** Returns a byte value in 1..255, for an XOR that always changes a byte. */
  nonZeroByte(): number {
    return 1 + this.below(255);
  }
}
