import * as tf from '@tensorflow/tfjs';
import {
  codeShares,
  type LayerQuantStats,
  makeTernaryExport,
  Quantizer,
  type QuantizerParamSpec,
  type QuantizerParams,
  registerQuantizer,
  resolveConfig,
  type TernaryExport,
} from '@trit/quant-core';
import {
  checkScalar,
  TTQ_DEFAULT_INIT,
  TTQ_DEFAULT_THRESHOLD,
  TTQ_RULES,
  type TTQInit,
  ttqCodes,
  ttqInitScales,
  ttqQuantize,
  ttqThreshold,
} from './ttq-quantize.js';

/** Paper reference of TTQ, as registered and cited in the docs. */
export const TTQ_PAPER =
  'Zhu, Han, Mao, Dally, "Trained Ternary Quantization", ICLR 2017, arXiv:1612.01064';

/** Configuration of {@link TTQQuantizer}. */
export interface TTQConfig extends Record<string, unknown> {
  /** Threshold factor `t` in `Δ = t · max|W|`, in (0, 1). Default 0.05. */
  threshold: number;
  /**
   * Initial `Wp`, `Wn`: `'one'` = 1.0 (the official code, and the default,
   * {@link TTQ_DEFAULT_INIT});
   * `'mean'` ([chosen] option in docs/algorithms.md#ttq) = mean |W| of the positive /
   * negative kept weights of the kernel, see {@link ttqInitScales}.
   */
  init: TTQInit;
}

/** The defaults of {@link TTQConfig}: the paper's threshold and the official init. */
export const TTQ_DEFAULTS: Readonly<TTQConfig> = Object.freeze({
  threshold: TTQ_DEFAULT_THRESHOLD,
  init: TTQ_DEFAULT_INIT,
});

function param(params: QuantizerParams, name: 'wp' | 'wn'): tf.Tensor {
  const p = params[name];
  if (!p) {
    throw new Error(
      `ttq: missing parameter "${name}"; create one scalar per name in paramSpecs() (wp, wn)`,
    );
  }
  return p;
}

/**
 * Registry wrapper of {@link ttqQuantize} (`'ttq'`): two trainable scalars
 * per layer, `wp` and `wn`, initialised per {@link TTQConfig.init}, never
 * clipped. 2 bits per weight.
 *
 * `stats()` reports the code shares, `scales: { wp, wn }` and
 * `extra: { delta, wpNegative, wnNegative }`, where the last two are 1 when
 * `Wp` (resp. `Wn`) has gone negative (docs/algorithms.md#ttq: report it) and 0
 * otherwise. `exportTernary()` keeps the 2-bit codes with `positive = Wp`
 * and `negative = Wn` (taken as they are, even if negative, so the export
 * always dequantizes to the forward kernel).
 */
export class TTQQuantizer extends Quantizer<TTQConfig> {
  readonly name = 'ttq';

  constructor(config?: Record<string, unknown>) {
    super(resolveConfig('ttq', { ...TTQ_DEFAULTS }, config, TTQ_RULES));
  }

  precision(_params?: QuantizerParams): number {
    return 2;
  }

  override paramSpecs(): readonly QuantizerParamSpec[] {
    const { init, threshold } = this.config;
    return [
      { name: 'wp', init: (kernel) => ttqInitScales(kernel, init, threshold).wp },
      { name: 'wn', init: (kernel) => ttqInitScales(kernel, init, threshold).wn },
    ];
  }

  quantize(kernel: tf.Tensor, params: QuantizerParams): tf.Tensor {
    return ttqQuantize(kernel, param(params, 'wp'), param(params, 'wn'), {
      threshold: this.config.threshold,
    });
  }

  stats(kernel: tf.Tensor, params: QuantizerParams): LayerQuantStats {
    const wpT = param(params, 'wp');
    const wnT = param(params, 'wn');
    checkScalar(wpT, 'Wp');
    checkScalar(wnT, 'Wn');
    const codes = ttqCodes(kernel, this.config.threshold);
    const delta = ttqThreshold(kernel, this.config.threshold);
    try {
      const wp = wpT.dataSync()[0]!;
      const wn = wnT.dataSync()[0]!;
      return {
        quantizer: this.name,
        bits: 2,
        numWeights: kernel.size,
        share: codeShares(codes),
        scales: { wp, wn },
        extra: {
          delta: delta.dataSync()[0]!,
          wpNegative: wp < 0 ? 1 : 0,
          wnNegative: wn < 0 ? 1 : 0,
        },
      };
    } finally {
      tf.dispose([codes, delta]);
    }
  }

  exportTernary(kernel: tf.Tensor, params: QuantizerParams): TernaryExport {
    const wp = param(params, 'wp');
    const wn = param(params, 'wn');
    checkScalar(wp, 'Wp');
    checkScalar(wn, 'Wn');
    const codes = ttqCodes(kernel, this.config.threshold);
    try {
      return makeTernaryExport(codes, wp, wn, 2);
    } finally {
      codes.dispose();
    }
  }
}

registerQuantizer(
  {
    name: 'ttq',
    description:
      'Trained Ternary Quantization: Q in {+Wp, 0, -Wn} with learned per-layer Wp, Wn and Δ = 0.05·max|W|',
    paper: TTQ_PAPER,
  },
  (config) => new TTQQuantizer(config),
);
