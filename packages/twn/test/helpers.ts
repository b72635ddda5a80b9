import type * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';

/**
 * Asserts `actual ≈ expected` elementwise: `|a − e| ≤ tol · (1 + |e|)`
 * against the float32 nearest each literal (`tol = 0`: bit-exact float32;
 * otherwise relative for large values such as an outlier).
 */
export function expectClose(
  actual: tf.Tensor | ArrayLike<number>,
  expected: readonly number[],
  tol = 1e-6,
): void {
  const a = Array.from('dataSync' in actual ? actual.dataSync() : actual);
  expect(a.length, 'number of elements').toBe(expected.length);
  for (let i = 0; i < a.length; i++) {
    const e = Math.fround(expected[i]!); // the float32 nearest the literal
    const v = a[i]!;
    if (!(Math.abs(v - e) <= tol * (1 + Math.abs(e)))) {
      throw new Error(`element ${i}: got ${v}, expected ${e} (all: [${a.join(', ')}])`);
    }
  }
}

/** Deterministic pseudo-random numbers (LCG + Box–Muller), the same on every backend. */
export function pseudoNormal(n: number, seed = 1): Float32Array {
  let s = seed >>> 0;
  const uniform = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  }
  return out;
}
