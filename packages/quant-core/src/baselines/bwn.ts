import * as tf from '@tensorflow/tfjs';
import { type LayerQuantStats, Quantizer, type TernaryExport } from '../quantizer.js';
import { registerQuantizer } from '../registry.js';
import { codeShares, customGradient, makeTernaryExport, meanAbsValue } from '../tensor-ops.js';
import { assertKernelTensor, resolveConfig } from '../validation.js';

/** `sign` with `sign(0) = +1`, so that every weight gets one of two levels. */
function binarySign(w: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.sub(tf.mul(tf.cast(tf.greaterEqual(w, 0), 'float32'), 2), 1));
}

/**
 * BWN's scale `α = mean|W|` as a host number: one reduction and one read,
 * which is also the check that the kernel is float32 and finite. A finite
 * kernel whose sum overflows float32 (weights near 3.4e38) still gets its
 * true mean (`α ≤ max|W|`, always representable), never `Infinity`.
 */
function bwnScale(w: tf.Tensor): number {
  return meanAbsValue(w, 'bwn');
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
 *
 * `α` is computed so that it never overflows (a kernel near float32's max
 * still gets `α = mean|W| ≤ max|W|`), so `Q` is finite for every finite
 * float32 kernel. Throws a clear error on a kernel that is not float32 or
 * holds NaN or ±Infinity.
 */
export function bwnQuantize(w: tf.Tensor): tf.Tensor {
  assertKernelTensor(w, 'bwn'); // before customGrad's own (less clear) input check
  return customGradient(([x]) => {
    // Inside the op nothing is recorded on the gradient tape.
    const alpha = bwnScale(x!);
    return {
      value: tf.tidy(() => tf.mul(binarySign(x!), alpha)),
      gradFunc: (dy) => [dy.clone()],
    };
  })(w);
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
    const alpha = bwnScale(kernel);
    const sign = binarySign(kernel);
    try {
      return {
        quantizer: this.name,
        bits: 1,
        numWeights: kernel.size,
        share: codeShares(sign),
        scales: { alpha },
      };
    } finally {
      sign.dispose();
    }
  }

  exportTernary(kernel: tf.Tensor): TernaryExport {
    const alpha = bwnScale(kernel);
    const sign = binarySign(kernel);
    try {
      return makeTernaryExport(sign, alpha, alpha, 1);
    } finally {
      sign.dispose();
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
