import * as tf from '@tensorflow/tfjs';
import { maxAbsDiff } from '@trit/quant-core/testing';
import { expect } from 'vitest';

/** Asserts `actual` equals the hand-computed `expected` up to float32 rounding. */
export function expectValues(actual: tf.Tensor | ArrayLike<number>, expected: readonly number[]) {
  const values = actual instanceof tf.Tensor ? actual.dataSync() : actual;
  expect(Array.from(values)).toHaveLength(expected.length);
  expect(maxAbsDiff(values, expected)).toBeLessThan(1e-6);
}

/** `L = Σ Q ⊙ G` with a fixed, non-uniform `G`, so `dL/dQ = G`. */
export function weightedSum(g: tf.Tensor) {
  return (q: tf.Tensor) => tf.sum(tf.mul(q, g)) as tf.Scalar;
}
