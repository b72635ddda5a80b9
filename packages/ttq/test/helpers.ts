import * as tf from '@tensorflow/tfjs';

/** The project's one closeness check; ttq's hand-computed values are compared with tol 1e-6. */
export { expectClose } from '@trit/quant-core/testing';

/** `L = Σ Q ⊙ G` with a fixed, non-uniform `G`, so `dL/dQ = G`. */
export function weightedSum(g: tf.Tensor) {
  return (q: tf.Tensor) => tf.sum(tf.mul(q, g)) as tf.Scalar;
}
