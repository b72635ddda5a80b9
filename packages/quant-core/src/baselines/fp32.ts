import type * as tf from '@tensorflow/tfjs';
import { type LayerQuantStats, Quantizer, type TernaryExport } from '../quantizer.js';
import { registerQuantizer } from '../registry.js';
import { codeShares } from '../tensor-ops.js';
import { assertKernelTensor, resolveConfig } from '../validation.js';

/**
 * Full precision: `Q = W`, `dL/dW = g`. The accuracy ceiling of every
 * comparison, and what the first conv and last dense layer use by default.
 *
 * {@link quantize} returns a new tensor holding `W` (`kernel.clone()`, which
 * shares the kernel's data without copying it), never the kernel itself, so
 * that the caller can dispose the result as for every other quantizer without
 * disposing its kernel. It does not check the kernel for NaN/Infinity (FP32
 * is the speed floor of the comparisons); a diverged run is caught by the
 * training loop's loss check.
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
    assertKernelTensor(kernel, 'fp32');
    return kernel.clone();
  }

  stats(kernel: tf.Tensor): LayerQuantStats {
    assertKernelTensor(kernel, 'fp32');
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
