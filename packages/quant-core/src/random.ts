/**
 * The project's one seeded PRNG: mulberry32 (period 2^32, passes gjrand and
 * PractRand to 2^32 bytes). Everything random that must reproduce (data
 * shuffling and augmentation, synthetic data, test inputs) draws from here, so
 * the same seed gives the same stream on every machine and backend, with no
 * dependency on `Math.random` or on tfjs.
 */

/** A seeded mulberry32 generator. */
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

/** {@link Rng} as a function returning uniform numbers in [0, 1): `seededRandom(seed)()`. */
export function seededRandom(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.next();
}
