import * as tf from '@tensorflow/tfjs';

// The project's one closeness check: this package's tests pass tol 1e-5 (absolute) unless they say otherwise.
export { expectClose } from '@trit/quant-core/testing';

/** `dL/dW` for `L = Σ f(W) · G`: the upstream gradient at `f(W)` is the fixed, non-uniform `G`. */
export function gradWith(f: (w: tf.Tensor) => tf.Tensor, w: tf.Tensor, g: tf.Tensor): tf.Tensor {
  return tf.grad((x: tf.Tensor) => tf.sum(tf.mul(f(x), g)))(w);
}
