import * as tf from '@tensorflow/tfjs';
import {
  assertFiniteKernel,
  assertKernelTensor,
  customGradient,
  maskedMeanAbs,
  maxAbsValue,
  type NumberRule,
  overflowScale,
  reductionAxes,
  resolveConfig,
} from '@trit/quant-core';

/**
 * Options of {@link twnQuantize}. Every field is optional; see
 * {@link TWN_DEFAULTS} for the defaults.
 */
export type TWNOptions = {
  /**
   * `δ` in `Δ = δ · mean|W|`. Any finite number `> 0` (default 0.7, the 2016
   * paper and its Caffe code; 0.75 in the 2022 revision). The paper derives
   * `Δ* ≈ 0.667 · mean|W|` for uniformly distributed and `≈ 0.75 · mean|W|`
   * for normally distributed weights. Values `≥ 1` are allowed but unusual: a
   * group whose `max|W| ≤ δ · mean|W|` quantizes to all zeros.
   */
  deltaFactor?: number;
  /**
   * Take `mean|W|`, `Δ` and `α` per output channel (the last axis: `[in, out]`
   * dense, `[kh, kw, cin, cout]` conv) instead of over the whole layer
   * (default false). Needs a kernel of rank ≥ 2.
   */
  perChannel?: boolean;
};

/** {@link TWNOptions} with every field filled in: the configuration of a TWN quantizer. */
export type TWNConfig = {
  deltaFactor: number;
  perChannel: boolean;
};

/** Defaults: the 2016 paper and its official Caffe code (`δ = 0.7`, per layer). */
export const TWN_DEFAULTS: Readonly<TWNConfig> = Object.freeze({
  deltaFactor: 0.7,
  perChannel: false,
});

/**
 * Named settings from the paper's two versions, ready to pass to
 * {@link twnQuantize} or `getQuantizer('twn', ...)`.
 * - `paper2016`: `δ = 0.7` per layer (the 2016 paper and its Caffe code); the default.
 * - `revision2022`: `δ = 0.75` per output channel (the 2022 revision and its PyTorch code,
 *   github.com/Thinklab-SJTU/twns).
 */
export const TWN_PRESETS: Readonly<{
  paper2016: Readonly<TWNConfig>;
  revision2022: Readonly<TWNConfig>;
}> = Object.freeze({
  paper2016: TWN_DEFAULTS,
  revision2022: Object.freeze({ deltaFactor: 0.75, perChannel: true }),
});

/** Range rules of the options: `0 < deltaFactor < ∞` (finite). */
const TWN_RULES: { readonly deltaFactor: NumberRule } = Object.freeze({
  deltaFactor: Object.freeze({ min: 0, exclusiveMin: true }),
});

/** Fills defaults into `options` and validates it (unknown keys, types, `deltaFactor > 0`, finite). */
export function resolveTWNConfig(options?: TWNOptions | Record<string, unknown>): TWNConfig {
  return resolveConfig<TWNConfig>('twn', { ...TWN_DEFAULTS }, options, TWN_RULES);
}

/** The pieces of a TWN ternarization. Shapes: `codes` as the kernel; `delta`/`alpha` keepDims. */
export interface TWNTernary {
  /** `T = sign(W) · 1[|W| > Δ]`, values in {-1, 0, +1}, same shape as the kernel. */
  readonly codes: tf.Tensor;
  /**
   * `α`: shape `[1, …, 1]` per layer, `[1, …, 1, cout]` per channel (broadcasts
   * against the kernel). 0 for a group with no weight above `Δ`.
   */
  readonly alpha: tf.Tensor;
  /** `Δ = δ · mean|W|`, same shape as `alpha`. */
  readonly delta: tf.Tensor;
}

function checkRank(w: tf.Tensor, config: TWNConfig): void {
  if (config.perChannel && w.rank < 2) {
    throw new Error(
      `twn: perChannel needs a kernel of rank >= 2 (output channel = last axis), got shape [${w.shape.join(', ')}]`,
    );
  }
}

/** Forward math on a validated config; no gradient, no checks. */
function ternarizeUnchecked(w: tf.Tensor, { deltaFactor, perChannel }: TWNConfig): TWNTernary {
  return tf.tidy(() => {
    const absW = tf.abs(w);
    const delta = tf.mul(tf.mean(absW, reductionAxes(w, perChannel), true), deltaFactor);
    const mask = tf.cast(tf.greater(absW, delta), 'float32');
    const codes = tf.mul(tf.sign(w), mask);
    // Mean |W| over {|W| > Δ}; divNoNan: an empty set gives α = 0, never NaN.
    const alpha = maskedMeanAbs(w, mask, perChannel);
    return { codes, alpha, delta };
  });
}

/**
 * {@link ternarizeUnchecked} with the kernel checks, and means that never
 * overflow. One reduction and one read, `Σ|W|`, which is also the NaN/±Inf
 * check (a float sum is finite only if every term is). When it is finite,
 * every per-group sum is too and the plain forward runs. When a finite
 * kernel's sum overflows float32 (weights near 3.4e38), the forward runs on
 * `W / s` (`s` a power of two, an exact division) and `α`, `Δ` are scaled
 * back: the codes and `α ≤ max|W|` are then exactly those of the formula,
 * instead of `Δ = Infinity` and an all-zero kernel.
 */
function ternarize(w: tf.Tensor, config: TWNConfig): TWNTernary {
  assertKernelTensor(w, 'twn');
  const total = tf.tidy(() => tf.sum(tf.abs(w)).dataSync()[0]!);
  if (Number.isFinite(total)) return ternarizeUnchecked(w, config);
  assertFiniteKernel(w, 'twn'); // throws on NaN/±Infinity; returns when only the sum overflowed
  const s = overflowScale(maxAbsValue(w));
  return tf.tidy(() => {
    const t = ternarizeUnchecked(tf.div(w, s), config);
    return { codes: t.codes, alpha: tf.mul(t.alpha, s), delta: tf.mul(t.delta, s) };
  });
}

/**
 * The TWN codes, scale and threshold of a kernel, without a gradient (for
 * statistics, export, and methods that reuse the TWN projection). Validates
 * `options` and the kernel like {@link twnQuantize}. The caller owns (and
 * disposes) the three returned tensors.
 */
export function twnTernarize(w: tf.Tensor, options?: TWNOptions): TWNTernary {
  const config = resolveTWNConfig(options);
  assertKernelTensor(w, 'twn');
  checkRank(w, config);
  return ternarize(w, config);
}

/**
 * Ternary Weight Networks (Li, Zhang, Liu, arXiv:1605.04711, 2016; revised 2022):
 * the least-squares fit `W ≈ α·T`, `T ∈ {-1, 0, +1}`, `α ≥ 0`, with the
 * paper's threshold approximation.
 *
 * Forward, over the whole layer (or each output channel when `perChannel`):
 * - `Δ = δ · mean|W|` (`δ = deltaFactor`, default 0.7)
 * - `T = sign(W) · 1[|W| > Δ]` (`sign(0) = 0`, strict `>`)
 * - `α = mean of |W| over {|W| > Δ}`; `α = 0` (so `Q = 0`) when that set is empty
 * - `Q = α · T`
 *
 * Backward: `dL/dW = g = dL/dQ` (identity straight-through estimator); `Δ`
 * and `α` are stop-gradient; `W` is not clipped.
 *
 * The means never overflow: a finite kernel near float32's max gets the
 * formula's codes and `α ≤ max|W|`, so `Q` is finite for every finite kernel.
 *
 * @throws if an option is unknown, of the wrong type or out of range
 *   (`deltaFactor` must be finite and > 0), if `perChannel` is set on a
 *   kernel of rank < 2, or if the kernel is not float32 or holds NaN or ±Infinity.
 */
export function twnQuantize(w: tf.Tensor, options?: TWNOptions): tf.Tensor {
  const config = resolveTWNConfig(options);
  assertKernelTensor(w, 'twn');
  checkRank(w, config);
  return customGradient(([x]) => ({
    // Inside the op nothing is recorded on the gradient tape, the check included.
    value: tf.tidy(() => {
      const { codes, alpha } = ternarize(x!, config);
      return tf.mul(alpha, codes);
    }),
    gradFunc: (dy) => [dy.clone()],
  }))(w);
}
