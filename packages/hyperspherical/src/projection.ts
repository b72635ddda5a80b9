import * as tf from '@tensorflow/tfjs';
import { customGradient, maskedMeanAbs } from '@trit/quant-core';

/** Default `δ` of the threshold `Δ = δ · mean|W|` (TWN, per layer). [chosen] */
export const DEFAULT_DELTA_FACTOR = 0.7;
/** Default sigmoid temperature `τ` of the gradient re-scaling. [chosen] */
export const DEFAULT_TAU = 2;
/** Default `ε` in the cosine's denominator `‖W‖·‖T‖ + ε`. [chosen] */
export const DEFAULT_EPSILON = 1e-12;

/** The per-layer TWN-style ternary projection of a kernel (all tensors owned by the caller). */
export interface TernaryProjection {
  /** `T = sign(W) · 1[|W| > Δ]`, same shape as the kernel. */
  readonly codes: tf.Tensor;
  /** `α = mean of |W| over {|W| > Δ}`, 0 when that set is empty. */
  readonly alpha: tf.Scalar;
  /** `Δ = δ · mean|W|`. */
  readonly delta: tf.Scalar;
}

/**
 * `Δ = δ · mean|W|`, `T = sign(W) · 1[|W| > Δ]`, `α = mean_{|W| > Δ} |W|`
 * over the whole layer. Not differentiable (it uses a comparison): call it
 * inside a custom-gradient forward, or through {@link detachedCodes}.
 */
export function ternaryProjection(w: tf.Tensor, deltaFactor: number): TernaryProjection {
  return tf.tidy(() => {
    const absW = tf.abs(w);
    const delta = tf.mul(deltaFactor, tf.mean(absW)) as tf.Scalar;
    const mask = tf.cast(tf.greater(absW, delta), 'float32');
    const codes = tf.mul(tf.sign(w), mask);
    const alpha = tf.reshape(maskedMeanAbs(w, mask, false), []) as tf.Scalar;
    return { codes, alpha, delta };
  });
}

/** The codes `T` of {@link ternaryProjection} as a stop-gradient function of `W` (zero gradient). */
export function detachedCodes(w: tf.Tensor, deltaFactor: number): tf.Tensor {
  return customGradient(([x]) => ({
    value: tf.tidy(() => {
      const p = ternaryProjection(x!, deltaFactor);
      return p.codes;
    }),
    gradFunc: (dy) => [tf.zerosLike(dy)],
  }))(w);
}

/**
 * `‖x‖₂` over all elements, with gradient `x / ‖x‖` and the subgradient 0 at
 * `x = 0` (autodiff through `sqrt` would give `0 · ∞ = NaN` there).
 */
export function l2Norm(x: tf.Tensor): tf.Scalar {
  return customGradient(([a], save) => {
    save([a!]);
    return {
      value: tf.tidy(() => tf.sqrt(tf.sum(tf.square(a!)))),
      gradFunc: (dy, [saved]) => [
        tf.tidy(() => tf.mul(dy, tf.divNoNan(saved!, tf.sqrt(tf.sum(tf.square(saved!)))))),
      ],
    };
  })(x) as tf.Scalar;
}

/**
 * `⟨W, T⟩ / (‖W‖ · ‖T‖ + ε)`: the cosine between the kernel and its ternary
 * codes (0 for an all-zero kernel or empty codes). Differentiable in `W`
 * (the codes are taken as given).
 */
export function cosineToCodes(w: tf.Tensor, codes: tf.Tensor, epsilon: number): tf.Scalar {
  return tf.tidy(() => {
    const dot = tf.sum(tf.mul(w, codes));
    const denominator = tf.add(tf.mul(l2Norm(w), l2Norm(codes)), epsilon);
    return tf.div(dot, denominator) as tf.Scalar;
  });
}
