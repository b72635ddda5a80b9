import * as tf from '@tensorflow/tfjs';
import { customGradient, resolveConfig } from '@trit/quant-core';
import {
  DEFAULT_DELTA_FACTOR,
  DEFAULT_EPSILON,
  kernelNorm,
  normSurelyPositive,
  type ProjectionStats,
  projectKernel,
  scaledKernel,
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
 * reconstructed in docs/algorithms.md#hla):
 *
 * `R = λ · (1 − ⟨W, T⟩ / (‖W‖ · ‖T‖ + ε))`
 *
 * with `T = sign(W) · 1[|W| > Δ]`, `Δ = δ · mean|W|` the layer's own ternary
 * projection, treated as a constant (stop-gradient). `R` depends only on the
 * direction of `W` (it is scale-free), lies in `[0, λ]` (`⟨W, T⟩ = Σ_{|W|>Δ} |W| ≥ 0`),
 * and pulls `W` towards the direction of `T`. Its gradient is the derivative with
 * `T` constant, applied in closed form by a single custom-gradient op:
 *
 * `dR/dW = −λ · (T / D − ⟨W, T⟩ · ‖T‖ · W / (‖W‖ · D²))`, `D = ‖W‖ · ‖T‖ + ε`
 *
 * (with `ε → 0`: `−λ · (T / (‖W‖‖T‖) − ⟨W, T⟩ · W / (‖W‖³ ‖T‖))`).
 * The gradient of `‖W‖` where `‖W‖ = 0` is taken as 0, so an all-zero kernel gives
 * `R = λ` and a zero gradient (never NaN). When every weight is inside the band
 * (`T = 0`), likewise `R = λ` and the gradient is 0.
 *
 * Throws a clear error if the kernel is not float32 or holds NaN or ±Infinity.
 * A finite kernel near float32's max is computed on `W / s` (`s` a power of
 * two) and scaled back, so nothing overflows and the result is finite.
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
  return regularizerOf(w, lambda, deltaFactor, epsilon, null);
}

/**
 * {@link hlaRegularizer} without option checks, optionally on a projection of
 * this very kernel value computed earlier in the same step (the quantizer's
 * training forward shares it). `shared` must be the projection of `w` at
 * `deltaFactor`; without it the projection is computed here.
 *
 * One custom-gradient op with the closed-form gradient (see {@link hlaRegularizer});
 * `T`, `⟨W, T⟩` and `‖T‖` are constants of the op (stop-gradient). With
 * `c = ⟨W, T⟩`, `D = ‖W‖·‖T‖ + ε` and `k = λ / D`:
 *
 * - `R = λ − c·k` (= `λ · (1 − c / D)`)
 * - `dR/dW = k · (e·W − T)`, `e = c·‖T‖ / (‖W‖·D)`, and `e = 0` where `‖W‖ = 0`
 *   (`‖W‖`'s subgradient 0 at 0)
 *
 * The gradient is formed in the forward (the regularizer is evaluated to be
 * differentiated) and the backward only scales it by the upstream scalar.
 */
export function regularizerOf(
  w: tf.Tensor,
  lambda: number,
  deltaFactor: number,
  epsilon: number,
  shared: ProjectionStats | null,
): tf.Scalar {
  return customGradient(([x], save) => {
    const p = shared ?? projectKernel(x!, deltaFactor);
    // A kernel whose sums would overflow float32 comes divided by s = p.scale (a power of
    // two). R is scale-free: on W' = W/s with ε' = ε/s it is the same value, and
    // dR/dW = (dR/dW')/s. ε' may underflow to 0, hence the guarded divisions there
    // (T = 0 gives R = λ and a zero gradient, as without scaling).
    const scaled = p.scale !== 1;
    const xs = scaledKernel(x!, p.scale);
    const normW = kernelNorm(xs);
    const normT = tf.sqrt(p.count);
    const denominator = tf.add(tf.mul(normW, normT), epsilon / p.scale);
    const k = scaled ? tf.divNoNan(lambda, denominator) : tf.div(lambda, denominator);
    const value = tf.sub(lambda, tf.mul(p.maskedSum, k));
    // e = c·‖T‖ / (‖W‖·D). Where ‖W‖ = 0 the second term of dR/dW has ‖W‖'s subgradient 0;
    // the device-side guard is only needed when Δ cannot rule ‖W‖ = 0 out.
    const num = tf.mul(p.maskedSum, normT);
    const den = tf.mul(normW, denominator);
    const e =
      !scaled && normSurelyPositive(p.deltaValue, deltaFactor)
        ? tf.div(num, den)
        : tf.divNoNan(num, den);
    save([tf.mul(tf.sub(tf.mul(xs, e), p.codes), scaled ? tf.div(k, p.scale) : k)]);
    return {
      value,
      gradFunc: (dy, [gradient]) => [tf.mul(dy, gradient!)],
    };
  })(w) as tf.Scalar;
}
