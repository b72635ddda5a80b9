import * as tf from '@tensorflow/tfjs';
import { assertFiniteKernel, checkNumber, customGradient } from '@trit/quant-core';

/** Lower clip of `β` (algorithms.md §3): at `β = π/4`, `Δ = α/2`, the nearest-level ternary rule. */
export const SQ_BETA_MIN = Math.PI / 4;

/** Upper clip of `β` (algorithms.md §3): `π/2 − 1e-4`, where `Δ/α ≈ 0.0099`. */
export const SQ_BETA_MAX = Math.PI / 2 - 1e-4;

/** Default margin of the binary switch **[chosen]**: binary while `β ≥ π/2 − 0.01`. */
export const SQ_DEFAULT_BINARY_MARGIN = 0.01;

/** Largest accepted `binaryMargin`: at `π/4` every `β` in the clip range counts as binary. */
export const SQ_MAX_BINARY_MARGIN = Math.PI / 4;

/** Options of {@link sqQuantize}. */
export interface SQQuantizeOptions {
  /**
   * The layer is binary while `β ≥ π/2 − binaryMargin` **[chosen]**, default
   * 0.01. Range `[0, π/4]`: 0 never switches to binary (β is clipped below
   * π/2), π/4 always does.
   */
  readonly binaryMargin?: number;
}

/**
 * The binary switch of SQ **[chosen]**: is a layer with shape parameter `beta`
 * binary? True while `β ≥ π/2 − binaryMargin`.
 *
 * The comparison is made in float32, the dtype `β` is trained in:
 * `fround(β) ≥ fround(π/2 − binaryMargin)`, so a `β` variable set to
 * `π/2 − binaryMargin` is exactly on the binary side of the boundary.
 */
export function sqIsBinary(beta: number, binaryMargin: number = SQ_DEFAULT_BINARY_MARGIN): boolean {
  checkNumber('sq', 'binaryMargin', binaryMargin, { min: 0, max: SQ_MAX_BINARY_MARGIN });
  return Math.fround(beta) >= Math.fround(Math.PI / 2 - binaryMargin);
}

/**
 * Reads and checks the per-layer scalars: `α` finite and > 0, `β` finite in
 * `(0, π/2)` (where `tan β` is finite and positive; layers clip it to
 * `[π/4, π/2 − 1e-4]`). One device read for both.
 * @internal
 */
export function readSQParams(alpha: tf.Tensor, beta: tf.Tensor): { alpha: number; beta: number } {
  for (const [name, t] of [
    ['alpha', alpha],
    ['beta', beta],
  ] as const) {
    if (t.size !== 1) {
      throw new Error(`sq: ${name} must be a scalar tensor, got shape [${t.shape.join(', ')}]`);
    }
  }
  const [a, b] = tf.tidy(() =>
    tf
      .concat([
        tf.cast(tf.reshape(alpha, [1]), 'float32'),
        tf.cast(tf.reshape(beta, [1]), 'float32'),
      ])
      .dataSync(),
  ) as unknown as [number, number];
  if (!Number.isFinite(a) || a <= 0) {
    throw new Error(`sq: alpha must be a finite number > 0, got ${a}`);
  }
  if (!Number.isFinite(b) || b <= 0 || b >= Math.PI / 2) {
    throw new Error(
      `sq: beta must be a finite number in (0, π/2) (layers clip it to [π/4, π/2 − 1e-4]), got ${b}`,
    );
  }
  return { alpha: a, beta: b };
}

/**
 * `Δ(α, β) = α / (1 + sqrt(tan β))`, the half-width of the zero band, as a
 * tensor shaped like `alpha`.
 */
export function sqDelta(alpha: tf.Tensor, beta: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.div(alpha, tf.add(1, tf.sqrt(tf.tan(beta)))));
}

/** `sign` with `sign(0) = +1`: the two levels of a binary layer. */
function binarySign(w: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.sub(tf.mul(tf.cast(tf.greaterEqual(w, 0), 'float32'), 2), 1));
}

/**
 * Codes of the SQ forward pass, without the scale: `sign(W) · 1[|W| > Δ]`
 * (ternary, computed as `1[W > Δ] − 1[W < −Δ]` so that zeros are +0, never
 * −0) or `sign(W)` with `sign(0) = +1` (binary).
 * @internal
 */
export function sqCodes(
  w: tf.Tensor,
  alpha: tf.Tensor,
  beta: tf.Tensor,
  binary: boolean,
): tf.Tensor {
  return tf.tidy(() => {
    if (binary) return binarySign(w);
    const delta = sqDelta(alpha, beta);
    const up = tf.cast(tf.greater(w, delta), 'float32');
    const down = tf.cast(tf.less(w, tf.neg(delta)), 'float32');
    return tf.sub(up, down);
  });
}

/**
 * Smart Quantization forward pass with its straight-through gradient
 * (Razani, Morin, Sari, Partovi Nia, "Adaptive Binary-Ternary Quantization",
 * CVPR Workshops 2021, arXiv:1909.12205; form reconstructed in algorithms.md §3).
 *
 * Zero-band half-width: `Δ(α, β) = α / (1 + sqrt(tan β))`.
 *
 * Forward:
 * - ternary layer (`β < π/2 − binaryMargin`): `Q = α · sign(W) · 1[|W| > Δ(α, β)]`;
 * - binary layer (`β ≥ π/2 − binaryMargin`, **[chosen]** switch, see
 *   {@link sqIsBinary}): `Q = α · sign(W)`, with `sign(0) = +1`.
 *
 * Backward (`g = dL/dQ`):
 * - `dL/dW = g` (identity straight-through estimator);
 * - `dL/dα = Σ_{Q≠0} sign(Q) · g` (all weights of a binary layer);
 * - `dL/dβ = 0`: `β` gets no task gradient, it learns only from
 *   {@link sqRegularizer}.
 *
 * `α` is one scalar for the whole layer (SQ has no per-channel mode).
 *
 * @param w latent kernel (any shape; conv `[kh, kw, cin, cout]`, dense `[in, out]`).
 * @param alpha scale, a scalar tensor > 0.
 * @param beta shape parameter, a scalar tensor in `(0, π/2)`.
 * @throws if the kernel holds NaN/±Infinity, `α ≤ 0`, `β` is outside
 *   `(0, π/2)`, or `binaryMargin` is outside `[0, π/4]`.
 */
export function sqQuantize(
  w: tf.Tensor,
  alpha: tf.Scalar,
  beta: tf.Scalar,
  options: SQQuantizeOptions = {},
): tf.Tensor {
  const margin = options.binaryMargin ?? SQ_DEFAULT_BINARY_MARGIN;
  checkNumber('sq', 'binaryMargin', margin, { min: 0, max: SQ_MAX_BINARY_MARGIN });
  assertFiniteKernel(w, 'sq');
  const binary = sqIsBinary(readSQParams(alpha, beta).beta, margin);
  const alphaShape = alpha.shape;
  const betaShape = beta.shape;
  return customGradient(([x, a, b], save) => {
    const codes = sqCodes(x!, a!, b!, binary);
    save([codes]);
    return {
      value: tf.mul(a!, codes),
      gradFunc: (dy, [c]) => [
        dy.clone(),
        tf.tidy(() => tf.reshape(tf.sum(tf.mul(dy, c!)), alphaShape)),
        tf.zeros(betaShape),
      ],
    };
  })(w, alpha, beta);
}
