import { type CloseTolerance, seededRandom } from '@trit/quant-core/testing';

/** The project's one closeness check; twn's tests compare with `rel(tol)`. */
export { expectClose } from '@trit/quant-core/testing';

/** `|a − e| ≤ tol · (1 + |e|)`: absolute near zero, relative for large values such as an outlier. */
export function rel(tol: number): CloseTolerance {
  return { atol: tol, rtol: tol };
}

/** Deterministic pseudo-random normal numbers (the project's seeded PRNG + Box–Muller), the same on every backend. */
export function pseudoNormal(n: number, seed = 1): Float32Array {
  const next = seededRandom(seed);
  const uniform = () => next() + 0.5 / 4294967296; // in (0, 1): log(0) never happens
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  }
  return out;
}
