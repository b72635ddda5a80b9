import * as tf from '@tensorflow/tfjs';
import {
  assertFiniteKernel,
  assertKernelTensor,
  checkNumber,
  customGradient,
} from '@trit/quant-core';

/** Lower clip of `β` (docs/algorithms.md#sq): at `β = π/4`, `Δ = α/2`, the nearest-level ternary rule. */
export const SQ_BETA_MIN = Math.PI / 4;

/** Upper clip of `β` (docs/algorithms.md#sq): `π/2 − 1e-4`, where `Δ/α ≈ 0.0099`. */
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

/** Reads one element of a size-1 tensor as float32, the dtype the scalars are trained in. */
function readScalar(t: tf.Tensor): number {
  return Math.fround(Number(t.dataSync()[0]));
}

/**
 * Reads and checks the per-layer scalars: `α` finite and > 0, `β` finite in
 * `(0, π/2)` (where `tan β` is finite and positive; layers clip it to
 * `[π/4, π/2 − 1e-4]`). Plain host reads, no device op.
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
  const a = readScalar(alpha);
  const b = readScalar(beta);
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

/** The per-layer scalars of one `(α, β)` value, checked and read back to the host. */
export interface SQScalars {
  /** `α` (float32). */
  readonly alpha: number;
  /** `β` (float32). */
  readonly beta: number;
  /** `tan β` exactly as the backend computes it in float32 (`tf.tan`). */
  readonly tanBeta: number;
  /** `Δ = α / (1 + sqrt(tan β))`, the same float32 value as {@link sqDelta} on the backend. */
  readonly delta: number;
}

/**
 * {@link SQScalars} of the last `(α, β)` data seen per `β` data: a training
 * step's forward and regularizer share them. Keyed by tfjs data identities,
 * which never change value (assigning a variable gives it new data), and by
 * backend (`tan` may round differently on another backend). Holds no tensors.
 */
const scalarCache = new WeakMap<
  object,
  { readonly alphaKey: object; readonly backend: string; readonly scalars: SQScalars }
>();

/**
 * Checks `α` and `β` ({@link readSQParams}), reads `tan β` (one scalar device
 * op, once per `(α, β)` value) and forms `Δ(α, β)` from it on the host, to the
 * same float32 value as {@link sqDelta}. When `α` or `β` is invalid, a non-finite
 * `kernel` is reported first (the order of the checks of the public functions).
 * Call it where no gradient is recorded (inside a custom-gradient forward).
 * @internal
 */
export function sqScalars(alpha: tf.Tensor, beta: tf.Tensor, kernel?: tf.Tensor): SQScalars {
  const backend = tf.getBackend();
  const hit = scalarCache.get(beta.dataId);
  if (hit && hit.alphaKey === alpha.dataId && hit.backend === backend) return hit.scalars;
  let params: { alpha: number; beta: number };
  try {
    params = readSQParams(alpha, beta);
  } catch (error) {
    if (kernel) assertFiniteKernel(kernel, 'sq');
    throw error;
  }
  const tanBeta = tf.tidy(() => readScalar(tf.tan(beta)));
  // sqDelta's sqrt, add and div are correctly rounded float32 operations (IEEE on
  // the native backend; float64 rounded to float32 on the cpu backend). The same
  // operations in float64, each rounded to float32, give the very same float32
  // value: float64 has more than 2·24 + 2 bits, so the double rounding is exact.
  const root = Math.fround(Math.sqrt(tanBeta));
  const delta = Math.fround(params.alpha / Math.fround(1 + root));
  const scalars: SQScalars = { ...params, tanBeta, delta };
  scalarCache.set(beta.dataId, { alphaKey: alpha.dataId, backend, scalars });
  return scalars;
}

/**
 * Throws the clear NaN/±Infinity error of `assertFiniteKernel` when the kernel
 * is not finite, from one reduction: a float sum is finite only if every term
 * is (NaN and ±Inf propagate); the exact element check runs only when the sum
 * is not finite (a bad kernel, or a finite one whose sum overflows).
 * @internal
 */
export function checkKernelFinite(w: tf.Tensor): void {
  const total = tf.tidy(() => tf.sum(w).dataSync()[0]!);
  if (!Number.isFinite(total)) assertFiniteKernel(w, 'sq');
}

/**
 * `Δ(α, β) = α / (1 + sqrt(tan β))`, the half-width of the zero band, as a
 * tensor shaped like `alpha`.
 */
export function sqDelta(alpha: tf.Tensor, beta: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.div(alpha, tf.add(1, tf.sqrt(tf.tan(beta)))));
}

/**
 * Codes from the host threshold `Δ` (null: binary). Ternary:
 * `1[W > Δ] − 1[W < −Δ]` (zeros are +0, never −0); binary: `sign(sign(W) + ½)`,
 * i.e. `sign(W)` with `sign(±0) = +1`. Creates its tensors in the caller's scope.
 */
function codesOf(w: tf.Tensor, delta: number | null): tf.Tensor {
  if (delta === null) return tf.sign(tf.add(tf.sign(w), 0.5));
  const up = tf.cast(tf.greater(w, delta), 'float32');
  const down = tf.cast(tf.less(w, -delta), 'float32');
  return tf.sub(up, down);
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
  return tf.tidy(() => codesOf(w, binary ? null : sqScalars(alpha, beta).delta));
}

/**
 * Smart Quantization forward pass with its straight-through gradient
 * (Razani, Morin, Sari, Partovi Nia, "Adaptive Binary-Ternary Quantization",
 * CVPR Workshops 2021, arXiv:1909.12205; form reconstructed in docs/algorithms.md#sq).
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
 * `Q = α · codes` is finite for every finite kernel (`α` is checked finite).
 *
 * @throws if the kernel is not float32 or holds NaN/±Infinity, `α ≤ 0`, `β` is outside
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
  assertKernelTensor(w, 'sq');
  const alphaShape = alpha.shape;
  const betaShape = beta.shape;
  return customGradient(([x, a, b], save) => {
    // Inside the op nothing is recorded for autodiff: the checks and the scalar
    // reads cost no tape entries.
    const scalars = sqScalars(a!, b!, x!);
    checkKernelFinite(x!);
    const binary = sqIsBinary(scalars.beta, margin);
    const codes = codesOf(x!, binary ? null : scalars.delta);
    save([codes]);
    return {
      value: tf.mul(a!, codes),
      gradFunc: (dy, [c]) => [
        dy.clone(),
        tf.tidy(() => {
          const da = tf.sum(tf.mul(dy, c!));
          return sameShape(da.shape, alphaShape) ? da : tf.reshape(da, alphaShape);
        }),
        tf.zeros(betaShape),
      ],
    };
  })(w, alpha, beta);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
