/**
 * Seed derivation for the input pipeline. The generator itself is quant-core's
 * {@link Rng} (mulberry32): everything random in the pipeline draws from it,
 * so the same seed gives identical batches on every machine.
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
