import * as tf from '@tensorflow/tfjs';
import { assertFiniteKernel, checkNumber, stopGradient } from '@trit/quant-core';
import { readSQParams } from './sq-quantize.js';

/** Options of {@link sqRegularizer}. */
export interface SQRegularizerOptions {
  /** Overall weight `λ ≥ 0` of the regularizer. */
  readonly lambda: number;
  /** Binary reward `γ ≥ 0`: larger values push `β` up, i.e. the layer towards binary. */
  readonly gamma: number;
}

/**
 * The SQ regularizer of one layer (algorithms.md §3, reconstructed form of
 * Razani et al., CVPR Workshops 2021, arXiv:1909.12205):
 *
 * `R = λ · [ mean_i min( (|u_i| − 1)², tan(β) · u_i² ) + γ · cot(β) ]`,
 * with `u = W / stop_gradient(α)` **[chosen: scale-free]** and `mean` (not
 * sum) over all weights of the layer **[chosen]**.
 *
 * - The first term pulls each weight to its nearest well, `±α` or `0`; the two
 *   branches cross at `|u| = 1 / (1 + sqrt(tan β)) = Δ/α`, the quantizer's
 *   threshold, and the zero well narrows as `β` grows.
 * - `γ · cot β` decreases with `β`: it rewards binary layers.
 *
 * Gradients come from autodiff of these differentiable tf ops:
 * - `dR/dW_i = λ/(N·α) · 2(|u_i| − 1)·sign(u_i)` where the well branch is
 *   active, `λ/(N·α) · 2·tan(β)·u_i` where the `tan` branch is (on a tie the
 *   well branch gets the gradient: tfjs's `minimum`);
 * - `dR/dβ = λ · [ sec²β · mean_i(u_i² · 1[tan branch]) − γ · csc²β ]`;
 * - `dR/dα = 0` (stop-gradient).
 *
 * @throws if `lambda` or `gamma` is negative or not finite, the kernel holds
 *   NaN/±Infinity, `α ≤ 0`, or `β` is outside `(0, π/2)`.
 */
export function sqRegularizer(
  w: tf.Tensor,
  alpha: tf.Scalar,
  beta: tf.Scalar,
  options: SQRegularizerOptions,
): tf.Scalar {
  const { lambda, gamma } = options;
  checkNumber('sq', 'lambda', lambda, { min: 0 });
  checkNumber('sq', 'gamma', gamma, { min: 0 });
  assertFiniteKernel(w, 'sq');
  readSQParams(alpha, beta);
  return tf.tidy(() => {
    const u = tf.div(w, stopGradient(alpha));
    const tanBeta = tf.tan(beta);
    const well = tf.square(tf.sub(tf.abs(u), 1));
    const zero = tf.mul(tanBeta, tf.square(u));
    const fit = tf.mean(tf.minimum(well, zero));
    const binaryReward = tf.mul(gamma, tf.reciprocal(tanBeta));
    return tf.reshape(tf.mul(lambda, tf.add(fit, binaryReward)), []) as tf.Scalar;
  });
}
