import * as tf from '@tensorflow/tfjs';
import { assertFiniteKernel, customGradient, resolveConfig } from '@trit/quant-core';
import { DEFAULT_DELTA_FACTOR, DEFAULT_TAU, ternaryProjection } from './projection.js';

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

/** {@link hlaGradientScale} without option checks (for the backward pass). */
function gradientScale(w: tf.Tensor, deltaFactor: number, tau: number): tf.Tensor {
  return tf.tidy(() => {
    const absW = tf.abs(w);
    const delta = tf.mul(deltaFactor, tf.mean(absW));
    // Δ = 0 only for an all-zero kernel: divNoNan makes z = 0 there, so s = 1 and r = 1.
    const z = tf.mul(tau, tf.divNoNan(tf.sub(absW, delta), delta));
    // s = 4·σ(z)·(1 − σ(z)) = 4·σ(|z|)·σ(−|z|), computed as a logarithm:
    // log s = log 4 − |z| − 2·softplus(−|z|).
    const a = tf.abs(z);
    const logS = tf.sub(tf.sub(Math.log(4), a), tf.mul(2, tf.softplus(tf.neg(a))));
    // r = s / mean(s) = exp(log s − logsumexp(log s) + log N). In log space the
    // ratio stays exact even where every s underflows float32 (|z| ≳ 88 for
    // all weights, i.e. very large τ), instead of becoming 0/0.
    return tf.exp(tf.add(tf.sub(logS, tf.logSumExp(logS)), Math.log(w.size)));
  });
}

/**
 * HLA's gradient re-scaling factor `r(W)` (Liu & Liu, arXiv:2212.12649,
 * as reconstructed in algorithms.md §4), per layer:
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
  assertFiniteKernel(w, 'hla');
  return gradientScale(w, deltaFactor, tau);
}

/**
 * HLA ternary quantization with the re-scaled straight-through gradient
 * (Liu & Liu, "Hyperspherical Loss-Aware Ternary Quantization",
 * arXiv:2212.12649; reconstructed from the abstract, see algorithms.md §4).
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
 * Throws a clear error if the kernel holds NaN or ±Infinity.
 */
export function hlaQuantize(w: tf.Tensor, options?: HLAQuantizeOptions): tf.Tensor {
  const { deltaFactor, tau } = resolveOptions('hlaQuantize', options);
  assertFiniteKernel(w, 'hla');
  return customGradient(([x], save) => {
    // r is only needed for training: it is computed in the backward pass from the saved kernel.
    save([x!]);
    return {
      value: tf.tidy(() => {
        const { codes, alpha } = ternaryProjection(x!, deltaFactor);
        return tf.mul(alpha, codes);
      }),
      gradFunc: (dy, [saved]) => [
        tf.tidy(() => tf.mul(dy, gradientScale(saved!, deltaFactor, tau))),
      ],
    };
  })(w);
}
