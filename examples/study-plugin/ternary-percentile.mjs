// A quantizer written outside trit's packages, as a user would write one
// (see packages/quant-core/README.md, "How to write your own quantizer"),
// loaded by `trit bench --import` or a study's `imports` and compared
// head-to-head with the built-in methods (see README.md beside this file).
import * as tf from '@tensorflow/tfjs';
import {
  assertFiniteKernel,
  codeShares,
  customGradient,
  makeTernaryExport,
  Quantizer,
  registerQuantizer,
  resolveConfig,
} from '@trit/quant-core';

/**
 * Ternary codes at a fixed sparsity: the `sparsity` share of weights with the
 * smallest |W| become 0, the rest sign(W). Ties at the cut all stay non-zero.
 * @param {tf.Tensor} w
 * @param {number} sparsity
 * @returns {tf.Tensor}
 */
function percentileCodes(w, sparsity) {
  return tf.tidy(() => {
    const abs = tf.abs(w).flatten();
    const keep = Math.max(1, Math.ceil((1 - sparsity) * abs.size));
    // The smallest |W| among the `keep` largest is the threshold.
    const cut = tf.min(tf.topk(abs, keep).values);
    return tf.mul(tf.sign(w), tf.cast(tf.greaterEqual(tf.abs(w), cut), 'float32'));
  });
}

/**
 * Fixed-sparsity ternary weights with the mean-|W| scale.
 *
 * Forward: `T = sign(W) · 1[|W| ≥ Δ]` with Δ the (1 − sparsity)-quantile of
 * |W| (so a fixed share of the weights is zero), `α = mean |W| over T ≠ 0`,
 * `Q = α · T`.
 * Backward: `dL/dW = dL/dQ` (straight-through; α is not differentiated).
 * @param {tf.Tensor} w
 * @param {number} sparsity
 * @returns {tf.Tensor}
 */
export function ternaryPercentileQuantize(w, sparsity) {
  assertFiniteKernel(w, 'ternary-percentile');
  return customGradient(([x]) => {
    const t = percentileCodes(/** @type {tf.Tensor} */ (x), sparsity);
    const kept = tf.sum(tf.abs(t));
    const alpha = tf.divNoNan(
      tf.sum(tf.mul(tf.abs(/** @type {tf.Tensor} */ (x)), tf.abs(t))),
      kept,
    );
    return { value: tf.mul(alpha, t), gradFunc: (dy) => [dy.clone()] };
  })(w);
}

/** The registry wrapper: config, precision, stats and export. */
export class TernaryPercentileQuantizer extends Quantizer {
  name = 'ternary-percentile';

  /** @param {Record<string, unknown> | undefined} config */
  constructor(config) {
    super(
      resolveConfig('ternary-percentile', { sparsity: 0.5 }, config, {
        sparsity: { min: 0, max: 0.99 },
      }),
    );
  }

  precision() {
    return 2;
  }

  /** @param {tf.Tensor} kernel */
  quantize(kernel) {
    return ternaryPercentileQuantize(kernel, /** @type {number} */ (this.config.sparsity));
  }

  /** @param {tf.Tensor} kernel */
  stats(kernel) {
    const q = tf.tidy(() => this.quantize(kernel));
    try {
      const max = tf.tidy(() => tf.max(tf.abs(q)).dataSync()[0] ?? 0);
      return {
        quantizer: this.name,
        bits: 2,
        numWeights: kernel.size,
        share: codeShares(q),
        scales: { alpha: max },
      };
    } finally {
      q.dispose();
    }
  }

  /** @param {tf.Tensor} kernel */
  exportTernary(kernel) {
    const sparsity = /** @type {number} */ (this.config.sparsity);
    // tf.tidy keeps only tensors, so the codes and scale leave it and are read outside.
    const [t, alpha] = tf.tidy(() => {
      const t = percentileCodes(kernel, sparsity);
      return [t, tf.divNoNan(tf.sum(tf.mul(tf.abs(kernel), tf.abs(t))), tf.sum(tf.abs(t)))];
    });
    try {
      return makeTernaryExport(t, alpha, alpha, 2);
    } finally {
      tf.dispose([t, alpha]);
    }
  }
}

registerQuantizer(
  {
    name: 'ternary-percentile',
    description: 'ternary weights at a fixed sparsity, mean-|W| scale (a study plugin example)',
  },
  (config) => new TernaryPercentileQuantizer(config),
);
