import * as tf from '@tensorflow/tfjs';
import {
  codeShares,
  type LayerQuantStats,
  makeTernaryExport,
  Quantizer,
  readScale,
  registerQuantizer,
  type TernaryExport,
} from '@trit/quant-core';
import { resolveTWNConfig, type TWNConfig, twnQuantize, twnTernarize } from './twn-quantize.js';

/** Registry name of {@link TWNQuantizer}. */
export const TWN_NAME = 'twn';

/**
 * Registry wrapper of {@link twnQuantize}: a 2-bit quantizer with no
 * trainable parameters, no regularizer and no schedule.
 *
 * Config `{ deltaFactor = 0.7, perChannel = false }` (see `TWNOptions`);
 * `TWN_PRESETS.revision2022` is `{ deltaFactor: 0.75, perChannel: true }`.
 *
 * - {@link stats}: code shares of `T`; `scales.alpha` and `scales.delta`
 *   (`Δ`, the zero-band half-width), a number per layer or one per output
 *   channel; `extra.deltaFactor`.
 * - {@link exportTernary}: the codes `T` and `positive = negative = α`
 *   (length 1 per layer, `cout` per channel).
 */
export class TWNQuantizer extends Quantizer<TWNConfig> {
  readonly name = TWN_NAME;

  constructor(config?: Record<string, unknown>) {
    super(resolveTWNConfig(config));
  }

  precision(): number {
    return 2;
  }

  quantize(kernel: tf.Tensor): tf.Tensor {
    return twnQuantize(kernel, this.config);
  }

  stats(kernel: tf.Tensor): LayerQuantStats {
    const t = twnTernarize(kernel, this.config);
    try {
      return {
        quantizer: this.name,
        bits: 2,
        numWeights: kernel.size,
        share: codeShares(t.codes),
        scales: { alpha: readScale(t.alpha), delta: readScale(t.delta) },
        extra: { deltaFactor: this.config.deltaFactor },
      };
    } finally {
      tf.dispose([t.codes, t.alpha, t.delta]);
    }
  }

  exportTernary(kernel: tf.Tensor): TernaryExport {
    const t = twnTernarize(kernel, this.config);
    try {
      return makeTernaryExport(t.codes, t.alpha, t.alpha, 2);
    } finally {
      tf.dispose([t.codes, t.alpha, t.delta]);
    }
  }
}

registerQuantizer(
  {
    name: TWN_NAME,
    description:
      'Ternary Weight Networks: Q = α·sign(W)·1[|W| > δ·mean|W|], α = mean kept |W|, identity STE',
    paper:
      'Li, Zhang, Liu, "Ternary Weight Networks", arXiv:1605.04711, 2016; 2022 revision (Li, Liu, Wang, Zhang, Yan)',
  },
  (config) => new TWNQuantizer(config),
);
