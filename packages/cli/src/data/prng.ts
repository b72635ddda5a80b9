/**
 * Small seeded PRNG for shuffling and augmentation. Everything random in the
 * input pipeline draws from here, so the same seed gives identical batches on
 * every machine (no dependency on Math.random or on the tfjs backend).
 */

/** murmur3's 32-bit finalizer: a bijective avalanche mix of a uint32. */
export function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Derives an independent 32-bit seed from a base seed and stream ids
 * (e.g. `deriveSeed(seed, epoch)`), so each epoch has its own reproducible stream.
 */
export function deriveSeed(seed: number, ...streams: readonly number[]): number {
  let h = mix32((seed >>> 0) ^ 0x9e3779b9);
  for (const s of streams) h = mix32((h + Math.imul((s >>> 0) + 1, 0x9e3779b9)) >>> 0);
  return h;
}

/** A seeded generator: mulberry32 (period 2^32, passes gjrand/PractRand to 2^32 bytes). */
export class Rng {
  private state: number;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`Rng: seed must be a finite number, got ${seed}`);
    this.state = Math.trunc(seed) >>> 0;
  }

  /** Next uint32. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n) for 1 <= n <= 2^32. */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Fisher-Yates shuffle in place; returns `a`. */
  shuffle<T extends { [i: number]: number; length: number }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
    return a;
  }
}
