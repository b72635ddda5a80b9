import * as tf from '@tensorflow/tfjs';
import { assertFiniteKernel, customGradient } from '@trit/quant-core';

/** Default `δ` of the threshold `Δ = δ · mean|W|` (TWN, per layer). [chosen] */
export const DEFAULT_DELTA_FACTOR = 0.7;
/** Default sigmoid temperature `τ` of the gradient re-scaling. [chosen] */
export const DEFAULT_TAU = 2;
/** Default `ε` in the cosine's denominator `‖W‖·‖T‖ + ε`. [chosen] */
export const DEFAULT_EPSILON = 1e-12;

/** The threshold of the per-layer projection (tensors in the caller's scope). */
export interface KernelThreshold {
  /** `|W|`, same shape as the kernel. */
  readonly absW: tf.Tensor;
  /** `Δ = δ · mean|W|`. */
  readonly delta: tf.Scalar;
  /**
   * `Δ` read back to the host: the one host read of a call. It doubles as the
   * NaN/Inf check (`Δ` is finite for every finite kernel short of float32
   * overflow) and tells the backward passes where `Δ = 0`.
   */
  readonly deltaValue: number;
}

/** The pieces of the projection that the regularizer needs, besides `Δ`. */
export interface ProjectionStats {
  /** `T = sign(W) · 1[|W| > Δ]`, same shape as the kernel. */
  readonly codes: tf.Tensor;
  /** `⟨W, T⟩ = Σ_{|W| > Δ} |W|` (α's numerator). */
  readonly maskedSum: tf.Scalar;
  /** `‖T‖² = #{|W| > Δ}` (α's denominator; exact in float32). */
  readonly count: tf.Scalar;
  /** {@link KernelThreshold.deltaValue}. */
  readonly deltaValue: number;
}

/** The whole per-layer projection (tensors in the caller's scope). */
export interface KernelProjection extends KernelThreshold, ProjectionStats {}

/**
 * `|W|` and `Δ = δ · mean|W|`, with `Δ` read back to the host. Throws the clear
 * NaN/Inf error of `assertFiniteKernel` when the kernel is not finite (checked
 * only when `Δ` is not finite, so a finite kernel costs no extra ops).
 * Creates its tensors in the caller's scope (call it inside a tidy or a
 * custom-gradient forward).
 */
export function kernelThreshold(w: tf.Tensor, deltaFactor: number): KernelThreshold {
  const absW = tf.abs(w);
  const delta = tf.mul(deltaFactor, tf.div(tf.sum(absW), w.size)) as tf.Scalar;
  const deltaValue = delta.dataSync()[0]!;
  if (!Number.isFinite(deltaValue)) {
    // NaN/±Inf in the kernel (throws here) or a finite kernel whose mean overflows.
    assertFiniteKernel(w, 'hla');
  }
  return { absW, delta, deltaValue };
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

/** `α = mean of |W| over {|W| > Δ}` = `⟨W, T⟩ / max(#{|W| > Δ}, 1)`: 0 when the set is empty. */
export function projectionAlpha(p: Pick<ProjectionStats, 'maskedSum' | 'count'>): tf.Scalar {
  // count is a whole number: max(count, 1) is count itself unless the set is empty,
  // where maskedSum = 0 and α = 0 / 1 = 0 (never divides by zero).
  return tf.div(p.maskedSum, tf.maximum(p.count, 1)) as tf.Scalar;
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
 * Whether gradients are being recorded right now (inside `tf.grad`,
 * `tf.variableGrads`, `optimizer.minimize`, ...), i.e. whether a backward pass
 * and, in a training step, the regularizer will follow this forward.
 */
export function recordingGradients(): boolean {
  const state = tf.engine().state;
  return state.activeTape != null && state.kernelDepth === 0;
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
  });
}

/**
 * Computes the projection of `w` for `sink` (the phase-1 forward, whose output
 * is `W` itself, does this while gradients are recorded): one op with no
 * gradient, so nothing of it is recorded for the backward pass. Throws on
 * NaN/Inf like {@link kernelThreshold}.
 */
export function projectFor(w: tf.Tensor, deltaFactor: number, sink: ProjectionSink): void {
  const out = customGradient(([x]) => {
    const p = projectKernel(x!, deltaFactor);
    sendProjection(p, sink);
    // The output feeds nothing, so this op is never on a gradient path.
    return { value: p.delta, gradFunc: (dy) => [tf.zerosLike(dy)] };
  })(w);
  out.dispose();
}
