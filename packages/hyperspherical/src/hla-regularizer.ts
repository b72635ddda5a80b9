import * as tf from '@tensorflow/tfjs';
import { assertFiniteKernel, resolveConfig } from '@trit/quant-core';
import {
  cosineToCodes,
  DEFAULT_DELTA_FACTOR,
  DEFAULT_EPSILON,
  detachedCodes,
} from './projection.js';

/** Options of {@link hlaRegularizer}. */
export interface HLARegularizerOptions {
  /** Strength `λ` (≥ 0); `λ = 0` gives `R = 0` with zero gradient. */
  lambda: number;
  /** `δ` of the ternary projection `T` (threshold `Δ = δ · mean|W|`); > 0, default 0.7. [chosen] */
  deltaFactor?: number;
  /** `ε` in `‖W‖ · ‖T‖ + ε`, guarding the all-zero kernel; > 0, default 1e-12. [chosen] */
  epsilon?: number;
}

/**
 * HLA's hyperspherical regularizer for one layer (Liu & Liu, arXiv:2212.12649,
 * reconstructed in algorithms.md §4):
 *
 * `R = λ · (1 − ⟨W, T⟩ / (‖W‖ · ‖T‖ + ε))`
 *
 * with `T = sign(W) · 1[|W| > Δ]`, `Δ = δ · mean|W|` the layer's own ternary
 * projection, treated as a constant (stop-gradient). `R` depends only on the
 * direction of `W` (it is scale-free), lies in `[0, λ]` (`⟨W, T⟩ = Σ_{|W|>Δ} |W| ≥ 0`),
 * and pulls `W` towards the direction of `T`. Its gradient comes from autodiff:
 *
 * `dR/dW = −λ · (T / D − ⟨W, T⟩ · ‖T‖ · W / (‖W‖ · D²))`, `D = ‖W‖ · ‖T‖ + ε`
 *
 * (with `ε → 0`: `−λ · (T / (‖W‖‖T‖) − ⟨W, T⟩ · W / (‖W‖³ ‖T‖))`).
 * The gradient of `‖W‖` at `W = 0` is taken as 0, so an all-zero kernel gives
 * `R = λ` and a zero gradient (never NaN). When every weight is inside the band
 * (`T = 0`), likewise `R = λ` and the gradient is 0.
 *
 * Throws a clear error if the kernel holds NaN or ±Infinity.
 */
export function hlaRegularizer(w: tf.Tensor, options: HLARegularizerOptions): tf.Scalar {
  if (options?.lambda === undefined) {
    throw new Error('hlaRegularizer: option "lambda" is required');
  }
  const { lambda, deltaFactor, epsilon } = resolveConfig(
    'hlaRegularizer',
    { lambda: 0, deltaFactor: DEFAULT_DELTA_FACTOR, epsilon: DEFAULT_EPSILON },
    options as unknown as Record<string, unknown>,
    {
      lambda: { min: 0 },
      deltaFactor: { min: 0, exclusiveMin: true },
      epsilon: { min: 0, exclusiveMin: true },
    },
  );
  assertFiniteKernel(w, 'hla');
  return tf.tidy(() => {
    const codes = detachedCodes(w, deltaFactor);
    const cosine = cosineToCodes(w, codes, epsilon);
    return tf.mul(lambda, tf.sub(1, cosine)) as tf.Scalar;
  });
}
