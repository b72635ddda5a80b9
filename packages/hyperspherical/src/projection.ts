import * as tf from '@tensorflow/tfjs';
import {
  assertFiniteKernel,
  assertKernelTensor,
  customGradient,
  maxAbsValue,
  overflowScale,
} from '@trit/quant-core';

/** Default `δ` of the threshold `Δ = δ · mean|W|` (TWN, per layer). [chosen] */
export const DEFAULT_DELTA_FACTOR = 0.7;
/** Default sigmoid temperature `τ` of the gradient re-scaling. [chosen] */
export const DEFAULT_TAU = 2;
/** Default `ε` in the cosine's denominator `‖W‖·‖T‖ + ε`. [chosen] */
export const DEFAULT_EPSILON = 1e-12;

/**
 * `Σ|W|` below which nothing of the projection or the regularizer overflows
 * float32: `‖W‖² = Σ W² ≤ (Σ|W|)² < 2^124`, below float32's max (~2^128).
 */
const SAFE_ABS_SUM = 2 ** 62;

/**
 * The threshold of the per-layer projection (tensors in the caller's scope).
 *
 * For a kernel so large that its sums could overflow float32 (`Σ|W| ≥ 2^62`,
 * only a diverged kernel: weights near 3.4e38 make `Σ|W|` and so `Δ`
 * Infinity, and from ~1e19 on `‖W‖²` is), every tensor here is of `W / scale`
 * (`scale` a power of two: an exact division), and the consumers scale back:
 * `α` by `scale` ({@link projectionAlpha}); the gradient re-scaling `r` and
 * the cosine are scale-free. For every other kernel `scale` is 1.
 */
export interface KernelThreshold {
  /** `|W| / scale`, same shape as the kernel. */
  readonly absW: tf.Tensor;
  /** `Δ / scale`, with `Δ = δ · mean|W|`. */
  readonly delta: tf.Scalar;
  /**
   * `Δ` read back to the host: the one host read of a call. It doubles as the
   * NaN/Inf check (`Δ` is finite for every finite kernel short of float32
   * overflow) and tells the backward passes where `Δ = 0`.
   */
  readonly deltaValue: number;
  /** The power of two the tensors are divided by: 1 unless the kernel's sums would overflow. */
  readonly scale: number;
}

/** The pieces of the projection that the regularizer needs, besides `Δ`. */
export interface ProjectionStats {
  /** `T = sign(W) · 1[|W| > Δ]`, same shape as the kernel. */
  readonly codes: tf.Tensor;
  /** `⟨W, T⟩ / scale = Σ_{|W| > Δ} |W| / scale` (α's numerator). */
  readonly maskedSum: tf.Scalar;
  /** `‖T‖² = #{|W| > Δ}` (α's denominator; exact in float32). */
  readonly count: tf.Scalar;
  /** {@link KernelThreshold.deltaValue}. */
  readonly deltaValue: number;
  /** {@link KernelThreshold.scale}. */
  readonly scale: number;
}

/** The whole per-layer projection (tensors in the caller's scope). */
export interface KernelProjection extends KernelThreshold, ProjectionStats {}

/**
 * `|W|` and `Δ = δ · mean|W|`, with `Δ` read back to the host. Throws the clear
 * error of `assertFiniteKernel` when the kernel is not float32 or not finite
 * (the finiteness is checked only when `Δ` is not finite, so a finite kernel
 * costs no extra ops). A kernel whose sums could overflow gets its tensors
 * divided by a power of two (see {@link KernelThreshold}). Creates its tensors
 * in the caller's scope (call it inside a tidy or a custom-gradient forward).
 */
export function kernelThreshold(w: tf.Tensor, deltaFactor: number): KernelThreshold {
  assertKernelTensor(w, 'hla');
  const absW = tf.abs(w);
  const delta = tf.mul(deltaFactor, tf.div(tf.sum(absW), w.size)) as tf.Scalar;
  const deltaValue = delta.dataSync()[0]!;
  // Σ|W| = Δ · N / δ, known on the host: the common case costs nothing more.
  if (Number.isFinite(deltaValue) && (deltaValue / deltaFactor) * w.size < SAFE_ABS_SUM) {
    return { absW, delta, deltaValue, scale: 1 };
  }
  // NaN/±Inf in the kernel throws here; a finite kernel whose sums overflow goes on.
  if (!Number.isFinite(deltaValue)) assertFiniteKernel(w, 'hla');
  const scale = overflowScale(maxAbsValue(w));
  const scaledAbs = tf.div(absW, scale);
  const scaledDelta = tf.mul(deltaFactor, tf.div(tf.sum(scaledAbs), w.size)) as tf.Scalar;
  return { absW: scaledAbs, delta: scaledDelta, deltaValue: scaledDelta.dataSync()[0]!, scale };
}

/** `W / scale` (the kernel itself when `scale` is 1), in the caller's scope. */
export function scaledKernel(w: tf.Tensor, scale: number): tf.Tensor {
  return scale === 1 ? w : tf.div(w, scale);
}

/**
 * The per-layer TWN-style ternary projection over the whole kernel:
 * `Δ = δ · mean|W|`, `T = sign(W) · 1[|W| > Δ]`, and the sums `⟨W, T⟩ = Σ_{|W|>Δ} |W|`
 * and `‖T‖² = #{|W| > Δ}` (`W·sign(W) = |W|` exactly, so `⟨W, T⟩` is α's numerator).
 * Not differentiable (it uses a comparison): call it inside a tidy or a
 * custom-gradient forward. Throws on NaN/Inf like {@link kernelThreshold}.
 */
export function projectKernel(w: tf.Tensor, deltaFactor: number): KernelProjection {
  const threshold = kernelThreshold(w, deltaFactor);
  const mask = tf.cast(tf.greater(threshold.absW, threshold.delta), 'float32');
  return {
    ...threshold,
    codes: tf.mul(tf.sign(w), mask),
    maskedSum: tf.sum(tf.mul(threshold.absW, mask)) as tf.Scalar,
    count: tf.sum(mask) as tf.Scalar,
  };
}

/**
 * `α = mean of |W| over {|W| > Δ}` = `⟨W, T⟩ / max(#{|W| > Δ}, 1)`: 0 when
 * the set is empty. Never overflows: `α ≤ max|W|`, taken on `W / scale` and
 * scaled back.
 */
export function projectionAlpha(
  p: Pick<ProjectionStats, 'maskedSum' | 'count' | 'scale'>,
): tf.Scalar {
  // count is a whole number: max(count, 1) is count itself unless the set is empty,
  // where maskedSum = 0 and α = 0 / 1 = 0 (never divides by zero).
  const alpha = tf.div(p.maskedSum, tf.maximum(p.count, 1)) as tf.Scalar;
  return p.scale === 1 ? alpha : (tf.mul(alpha, p.scale) as tf.Scalar);
}

/** `‖W‖ = √(Σ W²)` over all elements. */
export function kernelNorm(w: tf.Tensor): tf.Scalar {
  return tf.sqrt(tf.sum(tf.square(w))) as tf.Scalar;
}

/**
 * Whether `‖W‖ > 0` is certain from `Δ` alone: `Δ / δ = mean|W| ≥ 1e-14` puts the
 * largest `W²` far above float32's underflow, and a float sum of non-negative
 * terms is never below its largest term. Below that (an all-zero or absurdly
 * tiny kernel) the caller guards the division by `‖W‖` on the device.
 */
export function normSurelyPositive(deltaValue: number, deltaFactor: number): boolean {
  return deltaValue >= 1e-14 * deltaFactor;
}

/**
 * Receives the projection a forward computed for the regularizer of the same
 * step (its tensors are kept: the receiver owns them) and returns the function
 * that frees them, for the forward's backward pass to call in case they were
 * never used.
 */
export type ProjectionSink = (projection: ProjectionStats) => () => void;

/** Keeps the regularizer's pieces of `p` (made inside a tidy) and hands them to `sink`. */
export function sendProjection(p: KernelProjection, sink: ProjectionSink): () => void {
  return sink({
    codes: tf.keep(p.codes),
    maskedSum: tf.keep(p.maskedSum),
    count: tf.keep(p.count),
    deltaValue: p.deltaValue,
    scale: p.scale,
  });
}

/**
 * Computes the projection of `w` for `sink` (the phase-1 forward, whose output
 * is `W` itself, does this while gradients are recorded): one op with no
 * gradient, so nothing of it is recorded for the backward pass. Throws on
 * NaN/Inf like {@link kernelThreshold}.
 */
export function projectFor(w: tf.Tensor, deltaFactor: number, sink: ProjectionSink): void {
  assertKernelTensor(w, 'hla');
  const out = customGradient(([x]) => {
    const p = projectKernel(x!, deltaFactor);
    sendProjection(p, sink);
    // The output feeds nothing, so this op is never on a gradient path.
    return { value: p.delta, gradFunc: (dy) => [tf.zerosLike(dy)] };
  })(w);
  out.dispose();
}
