import * as tf from '@tensorflow/tfjs';
import {
  assertFiniteKernel,
  codeShares,
  customGradient,
  type LayerQuantStats,
  makeTernaryExport,
  maskedMeanAbs,
  Quantizer,
  type QuantizerParamSpec,
  type QuantizerParams,
  registerQuantizer,
  resolveConfig,
  type TernaryExport,
} from '@trit/quant-core';

/** Options of the fixed-threshold ternary quantizer. */
export type TernaryFixedConfig = { threshold: number };

/** `T = sign(W) · 1[|W| > threshold]`: the ternary codes. */
function codes(w: tf.Tensor, threshold: number): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.sign(w), tf.cast(tf.greater(tf.abs(w), threshold), 'float32')));
}

/**
 * Symmetric ternary weights with a fixed threshold and a trainable scale.
 *
 * Forward: `T = sign(W) · 1[|W| > threshold]`, `Q = s · T`.
 * Backward: `dL/dW = g` (identity straight-through estimator),
 * `dL/ds = Σ T · g`.
 */
export function ternaryFixedQuantize(w: tf.Tensor, s: tf.Tensor, threshold: number): tf.Tensor {
  assertFiniteKernel(w, 'ternary-fixed');
  // Every tensor that needs a gradient (W and s) is an input; what the
  // backward pass needs (T) goes through save().
  return customGradient(([x, scale], save) => {
    const t = codes(x!, threshold);
    save([t]);
    return {
      value: tf.mul(scale!, t),
      gradFunc: (dy, [tSaved]) => [dy.clone(), tf.sum(tf.mul(dy, tSaved!))],
    };
  })(w, s);
}

/** The registry wrapper: config, parameters, precision, stats and export. */
export class TernaryFixedQuantizer extends Quantizer<TernaryFixedConfig> {
  readonly name = 'ternary-fixed';

  constructor(config?: Record<string, unknown>) {
    // Fills defaults; unknown keys, wrong types and out-of-range values throw.
    super(resolveConfig('ternary-fixed', { threshold: 0.05 }, config, { threshold: { min: 0 } }));
  }

  precision(): number {
    return 2;
  }

  override paramSpecs(): QuantizerParamSpec[] {
    const { threshold } = this.config;
    return [
      {
        name: 'scale',
        // mean |W| of the weights that stay non-zero (0 if none does).
        init: (w) =>
          tf.tidy(() => maskedMeanAbs(w, tf.abs(codes(w, threshold)), false).dataSync()[0]!),
        clip: [0, Number.POSITIVE_INFINITY],
      },
    ];
  }

  quantize(kernel: tf.Tensor, params: QuantizerParams): tf.Tensor {
    return ternaryFixedQuantize(kernel, params.scale!, this.config.threshold);
  }

  stats(kernel: tf.Tensor, params: QuantizerParams): LayerQuantStats {
    const t = codes(kernel, this.config.threshold);
    try {
      return {
        quantizer: this.name,
        bits: 2,
        numWeights: kernel.size,
        share: codeShares(t),
        scales: { scale: params.scale!.dataSync()[0]! },
      };
    } finally {
      t.dispose();
    }
  }

  exportTernary(kernel: tf.Tensor, params: QuantizerParams): TernaryExport {
    const t = codes(kernel, this.config.threshold);
    try {
      return makeTernaryExport(t, params.scale!, params.scale!, 2);
    } finally {
      t.dispose();
    }
  }
}

registerQuantizer(
  {
    name: 'ternary-fixed',
    description: 'symmetric ternary weights, fixed threshold, trainable scale (README example)',
  },
  (config) => new TernaryFixedQuantizer(config),
);
