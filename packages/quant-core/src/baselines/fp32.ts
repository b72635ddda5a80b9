import type * as tf from '@tensorflow/tfjs';
import { type LayerQuantStats, Quantizer, type TernaryExport } from '../quantizer.js';
import { registerQuantizer } from '../registry.js';
import { codeShares } from '../tensor-ops.js';
import { resolveConfig } from '../validation.js';

/**
 * Full precision: `Q = W`, `dL/dW = g`. The accuracy ceiling of every
 * comparison, and what the first conv and last dense layer use by default.
 */
export class FP32Quantizer extends Quantizer<Record<string, never>> {
  readonly name = 'fp32';

  constructor(config?: Record<string, unknown>) {
    super(resolveConfig('fp32', {}, config, {}));
  }

  precision(): number {
    return 32;
  }

  quantize(kernel: tf.Tensor): tf.Tensor {
    return kernel;
  }

  stats(kernel: tf.Tensor): LayerQuantStats {
    return {
      quantizer: this.name,
      bits: 32,
      numWeights: kernel.size,
      share: codeShares(kernel),
      scales: {},
    };
  }

  exportTernary(): TernaryExport | null {
    return null;
  }
}

registerQuantizer(
  { name: 'fp32', description: 'full precision (no quantization): the accuracy ceiling' },
  (config) => new FP32Quantizer(config),
);
