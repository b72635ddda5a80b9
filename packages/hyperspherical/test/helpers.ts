import * as tf from '@tensorflow/tfjs';
import { maxAbsDiff } from '@trit/quant-core/testing';
import { expect } from 'vitest';

/** Asserts element-wise |actual − expected| ≤ tol (and equal lengths). */
export function expectClose(
  actual: tf.Tensor | ArrayLike<number>,
  expected: readonly number[],
  tol = 1e-5,
): void {
  const values = Array.from(actual instanceof tf.Tensor ? actual.dataSync() : actual);
  expect(values).toHaveLength(expected.length);
  const diff = maxAbsDiff(values, expected);
  if (!(diff <= tol)) {
    throw new Error(
      `max |diff| ${diff} > ${tol}\n  actual:   [${values.join(', ')}]\n  expected: [${expected.join(', ')}]`,
    );
  }
}

/** `dL/dW` for `L = Σ f(W) · G`: the upstream gradient at `f(W)` is the fixed, non-uniform `G`. */
export function gradWith(f: (w: tf.Tensor) => tf.Tensor, w: tf.Tensor, g: tf.Tensor): tf.Tensor {
  return tf.grad((x: tf.Tensor) => tf.sum(tf.mul(f(x), g)))(w);
}
