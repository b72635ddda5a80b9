import * as tf from '@tensorflow/tfjs';
import {
  assertKernelTensor,
  customGradient,
  recordingGradients,
  resolveConfig,
} from '@trit/quant-core';
import {
  DEFAULT_DELTA_FACTOR,
  DEFAULT_TAU,
  type KernelThreshold,
  kernelThreshold,
  type ProjectionSink,
  projectionAlpha,
  projectKernel,
  sendProjection,
} from './projection.js';

/** Options of {@link hlaQuantize} and {@link hlaGradientScale}. */
export interface HLAQuantizeOptions {
  /** `δ` in the threshold `Δ = δ · mean|W|`; > 0, default 0.7 (TWN). [chosen] */
  deltaFactor?: number;
  /**
   * Temperature `τ` of the re-scaling sigmoid; ≥ 0, default 2. [chosen]
   * `τ = 0` gives `r = 1`: the plain identity straight-through estimator.
   */
  tau?: number;
}

function resolveOptions(owner: string, options: HLAQuantizeOptions | undefined) {
  return resolveConfig(
    owner,
    { deltaFactor: DEFAULT_DELTA_FACTOR, tau: DEFAULT_TAU },
    options as Record<string, unknown> | undefined,
    { deltaFactor: { min: 0, exclusiveMin: true }, tau: { min: 0 } },
  );
}

/**
 * `r(W)` from the threshold of the kernel, or null where `r = 1` exactly
 * (`τ = 0` or `Δ = 0`, where `z ≡ 0`). Creates its tensors in the caller's scope.
 */
function gradientScaleOf(
  threshold: Pick<KernelThreshold, 'absW' | 'delta' | 'deltaValue'>,
  tau: number,
): tf.Tensor | null {
  const { absW, delta, deltaValue } = threshold;
  // Δ = 0 (an all-zero kernel): z would be 0/0 and is defined as 0, so s = 1 and r = 1.
  if (tau === 0 || deltaValue === 0) return null;
  // −|z| = −τ · |(|W| − Δ) / Δ|  (the same float32 value as |τ · (|W| − Δ) / Δ|)
  const negAbsZ = tf.mul(tf.abs(tf.div(tf.sub(absW, delta), delta)), -tau);
  // s = 4·σ(z)·(1 − σ(z)) = 4·σ(|z|)·σ(−|z|), so log(s / 4) = −|z| − 2·softplus(−|z|).
  const logQuarterS = tf.sub(negAbsZ, tf.mul(2, tf.softplus(negAbsZ)));
  // r = s / mean(s) = N · softmax(log s) over the whole layer (softmax ignores the constant
  // log 4). Softmax subtracts the maximum first, so r stays exact even where every s
  // underflows float32 (|z| ≳ 88 for all weights, i.e. very large τ), instead of 0/0.
  const flat = tf.softmax(tf.reshape(logQuarterS, [absW.size]));
  return tf.mul(tf.reshape(flat, absW.shape), absW.size);
}

/**
 * HLA's gradient re-scaling factor `r(W)` (Liu & Liu, arXiv:2212.12649,
 * as reconstructed in docs/algorithms.md#hla), per layer:
 *
 * - `Δ = δ · mean|W|`, `z = τ · (|W| − Δ) / Δ`
 * - `s(W) = 4 · σ(z) · (1 − σ(z))`: a bump with peak 1 at the threshold `|W| = Δ`
 * - `r(W) = s(W) / mean(s(W))`, so `mean(r) = 1` (the layer's mean gradient
 *   scale is kept)
 *
 * Defined as `r = 1` everywhere when `Δ = 0` (an all-zero kernel), where `z`
 * would be `0/0`. Exposed for analysis and plots; {@link hlaQuantize} uses it
 * in its backward pass. Throws on NaN/Inf in the kernel.
 */
export function hlaGradientScale(w: tf.Tensor, options?: HLAQuantizeOptions): tf.Tensor {
  const { deltaFactor, tau } = resolveOptions('hlaGradientScale', options);
  return tf.tidy(() => gradientScaleOf(kernelThreshold(w, deltaFactor), tau) ?? tf.onesLike(w));
}

/**
 * HLA ternary quantization with the re-scaled straight-through gradient
 * (Liu & Liu, "Hyperspherical Loss-Aware Ternary Quantization",
 * arXiv:2212.12649; reconstructed from the abstract, see docs/algorithms.md#hla).
 *
 * Forward (TWN-style projection over the whole layer):
 * - `Δ = δ · mean|W|` (`δ = 0.7`)
 * - `T = sign(W) · 1[|W| > Δ]`
 * - `α = mean of |W| over {|W| > Δ}` (0 when the set is empty, so `Q = 0`)
 * - `Q = α · T`
 *
 * Backward: `dL/dW = g · r(W)` with `r` from {@link hlaGradientScale}
 * (`z = τ·(|W| − Δ)/Δ`, `s = 4·σ(z)·(1 − σ(z))`, `r = s / mean(s)`, and
 * `r = 1` when `Δ = 0`). `r`, `α` and `Δ` are stop-gradient.
 *
 * Throws a clear error if the kernel is not float32 or holds NaN or ±Infinity.
 * A finite kernel near float32's max is computed on `W / s` (`s` a power of
 * two) and scaled back, so nothing overflows and the result is finite.
 */
export function hlaQuantize(w: tf.Tensor, options?: HLAQuantizeOptions): tf.Tensor {
  const { deltaFactor, tau } = resolveOptions('hlaQuantize', options);
  return quantizeOf(w, deltaFactor, tau, null);
}

/**
 * {@link hlaQuantize} without option checks. When gradients are being
 * recorded and `sink` is given, the projection's `T`, `⟨W, T⟩`, `‖T‖²` and `Δ`
 * go to `sink` for the regularizer of the same step.
 *
 * One custom-gradient op: the forward computes the projection once, reads `Δ`
 * back once (the NaN/Inf check), and saves `|W|` and `Δ`, from which the
 * backward forms `r(W)`.
 */
export function quantizeOf(
  w: tf.Tensor,
  deltaFactor: number,
  tau: number,
  sink: ProjectionSink | null,
): tf.Tensor {
  assertKernelTensor(w, 'hla'); // before customGrad's own (less clear) input check
  // Outside a gradient computation (inference) nothing is shared, so nothing outlives the call.
  const sharing = sink !== null && recordingGradients() ? sink : null;
  return customGradient(([x], save) => {
    const p = projectKernel(x!, deltaFactor);
    const deltaValue = p.deltaValue;
    // r is only needed for training: the backward forms it from the saved |W| and Δ.
    save([p.absW, p.delta]);
    const release = sharing ? sendProjection(p, sharing) : null;
    return {
      value: tf.mul(projectionAlpha(p), p.codes),
      gradFunc: (dy, [absW, delta]) => {
        release?.();
        const r = gradientScaleOf({ absW: absW!, delta: delta as tf.Scalar, deltaValue }, tau);
        return [r ? tf.mul(dy, r) : dy.clone()];
      },
    };
  })(w);
}
