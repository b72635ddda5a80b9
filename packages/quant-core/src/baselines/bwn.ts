import * as tf from '@tensorflow/tfjs';
import { type LayerQuantStats, Quantizer, type TernaryExport } from '../quantizer.js';
import { registerQuantizer } from '../registry.js';
import { codeShares, customGradient, makeTernaryExport } from '../tensor-ops.js';
import { assertFiniteKernel, resolveConfig } from '../validation.js';

/** `sign` with `sign(0) = +1`, so that every weight gets one of two levels. */
function binarySign(w: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.sub(tf.mul(tf.cast(tf.greaterEqual(w, 0), 'float32'), 2), 1));
}

/**
 * Binary weights (BWN, Rastegari et al., ECCV 2016, arXiv:1603.05279).
 *
 * Forward: `α = mean|W|` over the whole layer, `Q = α · sign(W)`.
 * Backward: `dL/dW = g` (identity straight-through estimator); `α` is
 * treated as a constant.
 *
 * `sign(0)` counts as +1 (as for SQ's binary layers), so the layer is truly
 * 1-bit; the general notation of docs/algorithms.md#bwn has `sign(0) = 0`,
 * which would only differ for weights that are exactly zero.
 */
export function bwnQuantize(w: tf.Tensor): tf.Tensor {
  assertFiniteKernel(w, 'bwn');
  return customGradient(([x]) => ({
    value: tf.tidy(() => tf.mul(tf.mean(tf.abs(x!)), binarySign(x!))),
    gradFunc: (dy) => [dy.clone()],
  }))(w);
}

/** Registry wrapper of {@link bwnQuantize}: the lower anchor of every comparison. */
export class BWNQuantizer extends Quantizer<Record<string, never>> {
  readonly name = 'bwn';

  constructor(config?: Record<string, unknown>) {
    super(resolveConfig('bwn', {}, config, {}));
  }

  precision(): number {
    return 1;
  }

  quantize(kernel: tf.Tensor): tf.Tensor {
    return bwnQuantize(kernel);
  }

  stats(kernel: tf.Tensor): LayerQuantStats {
    const sign = binarySign(kernel);
    const alpha = tf.mean(tf.abs(kernel));
    try {
      return {
        quantizer: this.name,
        bits: 1,
        numWeights: kernel.size,
        share: codeShares(sign),
        scales: { alpha: alpha.dataSync()[0]! },
      };
    } finally {
      tf.dispose([sign, alpha]);
    }
  }

  exportTernary(kernel: tf.Tensor): TernaryExport {
    const sign = binarySign(kernel);
    const alpha = tf.mean(tf.abs(kernel));
    try {
      return makeTernaryExport(sign, alpha, alpha, 1);
    } finally {
      tf.dispose([sign, alpha]);
    }
  }
}

registerQuantizer(
  {
    name: 'bwn',
    description: 'binary weights, Q = mean|W| * sign(W): the 1-bit lower anchor',
    paper: 'Rastegari et al., XNOR-Net, ECCV 2016, arXiv:1603.05279',
  },
  (config) => new BWNQuantizer(config),
);
