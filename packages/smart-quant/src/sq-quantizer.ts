import * as tf from '@tensorflow/tfjs';
import {
  assertFiniteKernel,
  codeShares,
  type LayerQuantStats,
  makeTernaryExport,
  meanAbsValue,
  Quantizer,
  type QuantizerConfig,
  type QuantizerParamSpec,
  type QuantizerParams,
  registerQuantizer,
  resolveConfig,
  type TernaryExport,
} from '@trit/quant-core';
import {
  readSQParams,
  SQ_BETA_MAX,
  SQ_BETA_MIN,
  SQ_DEFAULT_BINARY_MARGIN,
  SQ_MAX_BINARY_MARGIN,
  sqCodes,
  sqDelta,
  sqIsBinary,
  sqQuantize,
} from './sq-quantize.js';
import { sqRegularizer } from './sq-regularizer.js';

/** Smallest `α`: its init and clip floor, so that `α > 0` even for an all-zero kernel. */
export const SQ_ALPHA_MIN = 1e-8;

/** Options of {@link SQQuantizer}. */
export type SQConfig = {
  /**
   * Weight `λ ≥ 0` of the regularizer. Default 1e-3, **provisional** until the
   * sweep in docs/results (see the README for the reasoning).
   */
  lambda: number;
  /**
   * Binary reward `γ ≥ 0` (larger: more binary layers, less memory). Default
   * 1e-3, **provisional** until the sweep in docs/results.
   */
  gamma: number;
  /** Binary while `β ≥ π/2 − binaryMargin` **[chosen]**; default 0.01, range `[0, π/4]`. */
  binaryMargin: number;
  /** Initial `β`, default `3π/8`; range `[π/4, π/2 − 1e-4]` (the clip range). */
  betaInit: number;
};

/** The defaults of {@link SQConfig}. */
export const SQ_DEFAULTS: Readonly<SQConfig> = Object.freeze({
  lambda: 1e-3,
  gamma: 1e-3,
  binaryMargin: SQ_DEFAULT_BINARY_MARGIN,
  betaInit: (3 * Math.PI) / 8,
});

/** Range rules of the options, checked by `resolveConfig`. */
const SQ_RULES = Object.freeze({
  lambda: { min: 0 },
  gamma: { min: 0 },
  binaryMargin: { min: 0, max: SQ_MAX_BINARY_MARGIN },
  betaInit: { min: SQ_BETA_MIN, max: SQ_BETA_MAX },
});

function param(params: QuantizerParams | undefined, name: 'alpha' | 'beta'): tf.Scalar {
  const t = params?.[name];
  if (!t) {
    throw new Error(
      `sq: missing per-layer parameter "${name}"; create "alpha" and "beta" from paramSpecs()`,
    );
  }
  return t as tf.Scalar;
}

/**
 * Smart Quantization as a registry quantizer (`'sq'`): each layer ends up
 * binary (1 bit) or ternary (2 bits), decided during training by its
 * trainable shape parameter `β`.
 *
 * Razani, Morin, Sari, Partovi Nia, "Adaptive Binary-Ternary Quantization",
 * CVPR Workshops 2021, arXiv:1909.12205. The form is reconstructed
 * (docs/algorithms.md#sq): see {@link sqQuantize} and {@link sqRegularizer}.
 *
 * Per-layer trainable scalars ({@link paramSpecs}):
 * - `alpha`: scale, init `max(mean|W|, 1e-8)`, clipped to `[1e-8, +∞)`;
 * - `beta`: shape, init `betaInit` (3π/8), clipped to `[π/4, π/2 − 1e-4]`,
 *   excluded from weight decay (`weightDecay: false`).
 *
 * {@link precision} is 1 while `β ≥ π/2 − binaryMargin`, else 2.
 */
export class SQQuantizer extends Quantizer<SQConfig> {
  readonly name = 'sq';

  constructor(config?: Partial<SQConfig> | QuantizerConfig) {
    super(resolveConfig('sq', { ...SQ_DEFAULTS }, config, SQ_RULES));
  }

  /**
   * Bits per weight: 1 if the layer is binary by the `β` switch, else 2.
   * Without parameters (before the layer is built) it reports 2.
   */
  precision(params?: QuantizerParams): number {
    if (!params) return 2;
    return this.isBinary(params) ? 1 : 2;
  }

  /** Is the layer binary now (`β ≥ π/2 − binaryMargin`)? */
  isBinary(params: QuantizerParams): boolean {
    const { beta } = readSQParams(param(params, 'alpha'), param(params, 'beta'));
    return sqIsBinary(beta, this.config.binaryMargin);
  }

  override paramSpecs(): readonly QuantizerParamSpec[] {
    const betaInit = this.config.betaInit;
    // β is a shape parameter, not a weight: no weight decay on it. (`weightDecay`
    // is newer than some quant-core builds, hence the widened type.)
    const beta: QuantizerParamSpec & { readonly weightDecay?: boolean } = {
      name: 'beta',
      init: () => betaInit,
      clip: [SQ_BETA_MIN, SQ_BETA_MAX],
      weightDecay: false,
    };
    return [
      {
        name: 'alpha',
        // mean|W| taken so that it never overflows (a kernel near float32's max).
        init: (kernel: tf.Tensor) => Math.max(meanAbsValue(kernel, 'sq'), SQ_ALPHA_MIN),
        clip: [SQ_ALPHA_MIN, Number.POSITIVE_INFINITY],
      },
      beta,
    ];
  }

  quantize(kernel: tf.Tensor, params: QuantizerParams): tf.Tensor {
    return sqQuantize(kernel, param(params, 'alpha'), param(params, 'beta'), {
      binaryMargin: this.config.binaryMargin,
    });
  }

  override regularizer(kernel: tf.Tensor, params: QuantizerParams): tf.Scalar {
    return sqRegularizer(kernel, param(params, 'alpha'), param(params, 'beta'), {
      lambda: this.config.lambda,
      gamma: this.config.gamma,
    });
  }

  /**
   * Code shares, `scales.alpha`, and in `extra`: `beta`, `deltaOverAlpha`
   * (`Δ/α = 1/(1 + sqrt(tan β))`, the band of the formula even when the
   * layer is binary), `zeroBandShare` (share of weights with `|W| ≤ Δ`: the
   * zero codes of a ternary layer; for a binary layer the weights parked in
   * the band, which get ±α) and `bits`.
   */
  stats(kernel: tf.Tensor, params: QuantizerParams): LayerQuantStats {
    const alpha = param(params, 'alpha');
    const beta = param(params, 'beta');
    assertFiniteKernel(kernel, 'sq');
    const values = readSQParams(alpha, beta);
    const binary = sqIsBinary(values.beta, this.config.binaryMargin);
    const bits = binary ? 1 : 2;
    const codes = sqCodes(kernel, alpha, beta, binary);
    const [deltaOverAlpha, zeroBandShare] = tf.tidy(() => {
      const ratio = tf.reshape(tf.div(1, tf.add(1, tf.sqrt(tf.tan(beta)))), [1]);
      const inBand = tf.mean(
        tf.cast(tf.lessEqual(tf.abs(kernel), sqDelta(alpha, beta)), 'float32'),
      );
      return Array.from(tf.concat([ratio, tf.reshape(inBand, [1])]).dataSync());
    }) as [number, number];
    try {
      return {
        quantizer: this.name,
        bits,
        numWeights: kernel.size,
        share: codeShares(codes),
        scales: { alpha: values.alpha },
        extra: { beta: values.beta, deltaOverAlpha, zeroBandShare, bits },
      };
    } finally {
      codes.dispose();
    }
  }

  /**
   * Codes and the scale `α` (`positive = negative = α`): 1 bit with codes
   * `±1` (`sign(0) = +1`) for a binary layer, 2 bits with `{−1, 0, +1}` for a
   * ternary one. Dequantizes to exactly {@link quantize}'s forward value.
   */
  exportTernary(kernel: tf.Tensor, params: QuantizerParams): TernaryExport {
    const alpha = param(params, 'alpha');
    const beta = param(params, 'beta');
    assertFiniteKernel(kernel, 'sq');
    const values = readSQParams(alpha, beta);
    const binary = sqIsBinary(values.beta, this.config.binaryMargin);
    const codes = sqCodes(kernel, alpha, beta, binary);
    try {
      return makeTernaryExport(codes, values.alpha, values.alpha, binary ? 1 : 2);
    } finally {
      codes.dispose();
    }
  }
}

registerQuantizer(
  {
    name: 'sq',
    description:
      'Smart Quantization: each layer binary or ternary, chosen in training by a regularizer with a trainable shape β',
    paper:
      'Razani, Morin, Sari, Partovi Nia, "Adaptive Binary-Ternary Quantization", CVPR Workshops 2021, ' +
      'arXiv:1909.12205 (form reconstructed from the abstract and a public re-implementation, see docs/algorithms.md#sq)',
  },
  (config) => new SQQuantizer(config),
);
