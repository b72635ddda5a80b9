import * as tf from '@tensorflow/tfjs';
import {
  assertFiniteKernel,
  assertKernelTensor,
  checkNumber,
  customGradient,
  recordingGradients,
} from '@trit/quant-core';
import { sqScalars } from './sq-quantize.js';

/** Options of {@link sqRegularizer}. */
export interface SQRegularizerOptions {
  /** Overall weight `λ ≥ 0` of the regularizer. */
  readonly lambda: number;
  /** Binary reward `γ ≥ 0`: larger values push `β` up, i.e. the layer towards binary. */
  readonly gamma: number;
}

/**
 * The SQ regularizer of one layer (docs/algorithms.md#sq, reconstructed form of
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
 * Gradients (the derivatives of this formula, as autodiff of the plain tf
 * expression gives them, applied in closed form by one custom-gradient op):
 * - `dR/dW_i = λ/(N·α) · 2(|u_i| − 1)·sign(u_i)` where the well branch is
 *   active, `λ/(N·α) · 2·tan(β)·u_i` where the `tan` branch is (on a tie the
 *   well branch gets the gradient, as with tfjs's `minimum`);
 * - `dR/dβ = λ · sec²β · [ mean_i(u_i² · 1[tan branch]) − γ · cot²β ]`
 *   (`= λ · [ sec²β · mean_i(u_i² · 1[tan branch]) − γ · csc²β ]`);
 * - `dR/dα = 0` (stop-gradient).
 *
 * Cost: the per-weight terms `u`, `(|u| − 1)²`, `tan(β)·u²`, their minimum, the
 * branch mask and the gradient are each one elementwise op; the sums `Σ min`
 * and `Σ_{tan branch} u²` are read to the host (the first doubles as the
 * NaN/Inf check of the kernel), so `R`, `dR/dβ` and every scalar factor are
 * host arithmetic; `tan β` is read once per `(α, β)` value and shared with
 * the forward pass of the same step ({@link sqQuantize}).
 *
 * @throws if `lambda` or `gamma` is negative or not finite, the kernel is not
 *   float32 or holds NaN/±Infinity, `α ≤ 0`, `β` is outside `(0, π/2)`, or
 *   the sum overflows float32 (`|W| / α` beyond ~1e19: `R` would be Infinity).
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
  assertKernelTensor(w, 'sq');
  const n = w.size;
  const alphaShape = alpha.shape;
  const betaShape = beta.shape;
  // A backward pass can only follow when this op is recorded on a tape.
  const recording = recordingGradients();
  return customGradient(([x, a, b], save) => {
    const { alpha: alphaValue, beta: betaValue, tanBeta: t } = sqScalars(a!, b!, x!);
    // The very elementwise ops of the plain formula (t is tf.tan(β)'s float32 value).
    const u = tf.div(x!, a!);
    const d = tf.sub(tf.abs(u), 1);
    const well = tf.square(d);
    const u2 = tf.square(u);
    const zero = tf.mul(u2, t);
    const fitSum = tf.sum(tf.minimum(well, zero)).dataSync()[0]!;
    // Σ min(...) is finite for every finite kernel short of float32 overflow.
    if (!Number.isFinite(fitSum)) {
      assertFiniteKernel(x!, 'sq'); // NaN/±Infinity in the kernel: throws here
      throw new Error(
        `sq: the regularizer overflows float32: Σ min((|u| − 1)², tan β · u²) over u = W / α is ${fitSum} ` +
          `with α = ${alphaValue} (the kernel's weights are up to ~1e19 times α); the kernel or α has diverged`,
      );
    }
    const value = tf.scalar(lambda * (fitSum / n + gamma / t));
    let gradBeta = 0;
    if (recording) {
      // tfjs's minimum(well, zero) sends the gradient to `well` where well ≤ zero.
      const tanBranch = tf.greater(well, zero);
      const tanSum = tf.sum(tf.mul(u2, tf.cast(tanBranch, 'float32'))).dataSync()[0]!;
      // d/dβ tan β = 1/cos²β; d/dt (γ/t) = −γ/t².
      const cos = Math.cos(betaValue);
      gradBeta = (lambda * (tanSum / n - gamma / (t * t))) / (cos * cos);
      // d/du min(...) / 2: tan branch t·u; well branch (|u| − 1)·sign(u) = u − sign(u)
      // (u ≠ 0 there: at u = 0 the tan branch, 0, is below the well branch, 1).
      save([tf.where(tanBranch, tf.mul(u, t), tf.sub(u, tf.sign(u)))]);
    }
    return {
      value,
      gradFunc: (dy, [g]) => {
        if (!g)
          throw new Error('sq: internal error: regularizer gradient requested but not recorded');
        return [
          tf.tidy(() => tf.mul(g, tf.mul(dy, (2 * lambda) / (n * alphaValue)))),
          tf.zeros(alphaShape),
          tf.tidy(() => {
            const db = tf.mul(dy, gradBeta);
            return sameShape(db.shape, betaShape) ? db : tf.reshape(db, betaShape);
          }),
        ];
      },
    };
  })(w, alpha, beta) as tf.Scalar;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
