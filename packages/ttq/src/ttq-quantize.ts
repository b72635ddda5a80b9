import * as tf from '@tensorflow/tfjs';
import {
  assertFiniteKernel,
  assertKernelTensor,
  customGradient,
  maxAbsValue,
  overflowScale,
  recordingGradients,
  resolveConfig,
} from '@trit/quant-core';

/** Default threshold factor `t` of `Δ = t · max|W|` (paper and official code). */
export const TTQ_DEFAULT_THRESHOLD = 0.05;

/** Options of {@link ttqQuantize}. */
export interface TTQOptions {
  /** Threshold factor `t` in `Δ = t · max|W|`, in (0, 1). Default 0.05. */
  readonly threshold?: number;
}

/** How `Wp` and `Wn` start: {@link ttqInitScales}. */
export type TTQInit = 'one' | 'mean';

/**
 * How `Wp`, `Wn` start when nothing says otherwise: `'one'` (1.0, the official
 * code, docs/algorithms.md#ttq), in {@link ttqInitScales} and in the
 * quantizer's config alike.
 */
export const TTQ_DEFAULT_INIT: TTQInit = 'one';

/** The rules {@link resolveConfig} checks TTQ's options against (quantizer config and pure functions alike). */
export const TTQ_RULES = {
  threshold: { min: 0, max: 1, exclusiveMin: true, exclusiveMax: true },
  init: ['one', 'mean'],
} as const;

/** Validates `t` as every TTQ function validates its options: with {@link resolveConfig}. */
function checkThreshold(threshold: number): void {
  resolveConfig('ttq', { threshold: TTQ_DEFAULT_THRESHOLD }, { threshold }, TTQ_RULES);
}

/** Throws unless `t` holds one value (`Wp`, `Wn` are per-layer scalars). */
export function checkScalar(t: tf.Tensor, name: 'Wp' | 'Wn'): void {
  if (t.size !== 1) {
    throw new Error(
      `ttq: ${name} must be a scalar (one value per layer), got shape [${t.shape.join(', ')}]`,
    );
  }
}

/** `t` as a rank-0 float32 tensor, for stacking (no op when it already is one). */
function asScalar(t: tf.Tensor): tf.Tensor {
  const s = t.rank === 0 ? t : tf.reshape(t, []);
  return s.dtype === 'float32' ? s : tf.cast(s, 'float32');
}

/** What {@link readLayer} returns: `Δ`, `Wp` and `Wn` as host numbers. */
interface LayerValues {
  readonly delta: number;
  readonly wp: number;
  readonly wn: number;
}

/**
 * The one host read of a {@link ttqQuantize} call: `[max|W|, Σ|W|, Wp, Wn]` in a
 * single transfer, which is also the NaN/Inf check (`Σ|W|` is NaN or Inf as
 * soon as one weight is; `max|W|` catches Inf too). `Δ = t · max|W|` is then
 * formed on the host as the float32 product `fround(max|W| · fround(t))`, the
 * correctly rounded float32 multiplication `tf.mul(max|W|, t)` computes
 * (the product of two float32 values is exact in a double, so only the final
 * rounding happens). Throws a clear error on NaN/Inf in the kernel, `Wp` or `Wn`.
 */
function readLayer(
  w: tf.Tensor,
  absW: tf.Tensor,
  wp: tf.Tensor,
  wn: tf.Tensor,
  t: number,
): LayerValues {
  const read = tf.tidy(() =>
    tf.stack([tf.max(absW), tf.sum(absW), asScalar(wp), asScalar(wn)]).dataSync(),
  );
  const maxAbs = read[0]!;
  if (!Number.isFinite(maxAbs) || !Number.isFinite(read[1]!)) {
    // Throws with the offending value and index. It returns only when Σ|W| overflowed
    // float32 with every weight finite, which is fine: Δ only needs max|W|.
    assertFiniteKernel(w, 'ttq');
  }
  for (const [i, name] of [
    [2, 'Wp'],
    [3, 'Wn'],
  ] as const) {
    if (!Number.isFinite(read[i]!)) {
      throw new Error(
        `ttq: ${name} is ${read[i]}; training has diverged or the parameter is corrupt`,
      );
    }
  }
  return { delta: Math.fround(maxAbs * Math.fround(t)), wp: read[2]!, wn: read[3]! };
}

/**
 * The threshold `Δ = t · max|W|` over the whole layer, as a scalar tensor.
 * It is a constant for the backward pass (stop-gradient): nothing
 * differentiates through it.
 */
export function ttqThreshold(w: tf.Tensor, threshold = TTQ_DEFAULT_THRESHOLD): tf.Scalar {
  assertKernelTensor(w, 'ttq');
  checkThreshold(threshold);
  return tf.tidy(() => tf.mul(tf.max(tf.abs(w)), threshold) as tf.Scalar);
}

/**
 * The ternary codes of a kernel: `+1` where `W > Δ`, `-1` where `W < −Δ`,
 * `0` where `|W| ≤ Δ`, with `Δ = t · max|W|`. No gradient; for statistics and
 * export. Throws on NaN/Inf in the kernel.
 */
export function ttqCodes(w: tf.Tensor, threshold = TTQ_DEFAULT_THRESHOLD): tf.Tensor {
  assertKernelTensor(w, 'ttq');
  checkThreshold(threshold);
  assertFiniteKernel(w, 'ttq');
  return tf.tidy(() => {
    const delta = tf.mul(tf.max(tf.abs(w)), threshold);
    return tf.sub(
      tf.cast(tf.greater(w, delta), 'float32'),
      tf.cast(tf.less(w, tf.neg(delta)), 'float32'),
    );
  });
}

/**
 * Trained Ternary Quantization, forward with the official code's gradient
 * (Zhu, Han, Mao, Dally, ICLR 2017, arXiv:1612.01064).
 *
 * Forward, per layer (`Wp`, `Wn` are trainable scalars stored as positive
 * magnitudes):
 * - `Δ = t · max|W|` (`t = 0.05`), recomputed on every call, stop-gradient;
 * - `Q = Wp · 1[W > Δ] − Wn · 1[W < −Δ]` (so `|W| ≤ Δ`, including `W = ±Δ`, gives 0).
 *
 * Backward, with `g = dL/dQ` (official code; the paper's sign for `Wn` is
 * wrong when `Wn` is a positive magnitude):
 * - `dL/dW = Wp·g` where `W > Δ`; `g` where `|W| ≤ Δ`; `Wn·g` where `W < −Δ`;
 * - `dL/dWp = + Σ_{W > Δ} g`;
 * - `dL/dWn = − Σ_{W < −Δ} g` (sums, not means).
 *
 * No gradient clipping, no clipping of `W`, no positivity constraint on
 * `Wp`/`Wn`. `Wp` and `Wn` are inputs of the custom gradient, so
 * `tf.grads`/optimizers reach them. Throws a clear error on a kernel that is
 * not float32, on NaN/Inf in the kernel, `Wp` or `Wn`, on non-scalar
 * `Wp`/`Wn`, and on a threshold outside (0, 1). `Δ ≤ max|W|` never
 * overflows, so `Q` is finite whenever the kernel, `Wp` and `Wn` are.
 *
 * Cost: one host read per call (`[max|W|, Σ|W|, Wp, Wn]`, also the NaN/Inf
 * check); while gradients are recorded the forward also forms the `dL/dW`
 * scale and saves it with the two masks, so the backward recomputes nothing.
 */
export function ttqQuantize(
  w: tf.Tensor,
  wp: tf.Tensor,
  wn: tf.Tensor,
  options: TTQOptions = {},
): tf.Tensor {
  const { threshold: t } = resolveConfig(
    'ttq',
    { threshold: TTQ_DEFAULT_THRESHOLD },
    { ...options },
    TTQ_RULES,
  );
  assertKernelTensor(w, 'ttq');
  checkScalar(wp, 'Wp');
  checkScalar(wn, 'Wn');
  // The backward's dL/dW scale is only formed while gradients are recorded.
  const recording = recordingGradients();
  return customGradient(([x, p, n], save) => {
    // Everything runs inside the custom op, where nothing is recorded on the gradient
    // tape (tfjs would clone the inputs of every taped op for a backward pass).
    let v: LayerValues | undefined;
    const [value, ...forBackward] = tf.tidy(() => {
      const absW = tf.abs(x!);
      v = readLayer(x!, absW, p!, n!, t); // the one host read; throws on NaN/Inf
      const pos = tf.cast(tf.greater(x!, v.delta), 'float32'); // 1[W > Δ]
      const neg = tf.cast(tf.less(x!, -v.delta), 'float32'); // 1[W < −Δ]
      const wpPos = tf.mul(pos, v.wp);
      const wnNeg = tf.mul(neg, v.wn);
      const q = tf.sub(wpPos, wnNeg); // Q = Wp·1[W > Δ] − Wn·1[W < −Δ]
      if (!recording) return [q];
      // dL/dW = g · (Wp·1[W > Δ] + Wn·1[W < −Δ] + 1[|W| ≤ Δ]): one non-zero term, exact.
      const band = tf.cast(tf.lessEqual(absW, v.delta), 'float32');
      return [q, pos, neg, tf.add(tf.add(wpPos, wnNeg), band)];
    });
    save(forBackward);
    return {
      value: value!,
      gradFunc: (dy, [pos, neg, scale]) =>
        tf.tidy(() => {
          const dwp = tf.sum(tf.mul(dy, pos!)); // + Σ_{W>Δ} g
          const dwn = tf.neg(tf.sum(tf.mul(dy, neg!))); // − Σ_{W<−Δ} g
          return [
            tf.mul(dy, scale!),
            p!.rank === 0 ? dwp : tf.reshape(dwp, p!.shape),
            n!.rank === 0 ? dwn : tf.reshape(dwn, n!.shape),
          ];
        }),
    };
  })(w, wp, wn);
}

/** What {@link ttqInitScales} returns: initial `Wp` and `Wn`. */
export interface TTQInitScales {
  readonly wp: number;
  readonly wn: number;
}

/**
 * Initial `Wp`, `Wn` for a kernel.
 *
 * - `'one'` (the default, {@link TTQ_DEFAULT_INIT}): `Wp = Wn = 1.0`, as the official code.
 * - `'mean'` ([chosen] in docs/algorithms.md#ttq): with `Δ = t · max|W|`,
 *   `Wp = mean |W| over {W > Δ}` and `Wn = mean |W| over {W < −Δ}`, so the
 *   first quantized kernel is close to the loaded full-precision one.
 *   Fallbacks: if one side is empty, it takes the mean |W| of all kept weights
 *   (`|W| > Δ`, i.e. the other side's value), which keeps the layer's scale;
 *   if no weight is kept (only for an all-zero kernel, since `t < 1` always
 *   keeps the largest weight), both are 1.0, the official init.
 *   The means are taken so that they never overflow (a kernel near float32's
 *   max gets its true means, ≤ max|W|, not Infinity).
 */
export function ttqInitScales(
  w: tf.Tensor,
  init: TTQInit = TTQ_DEFAULT_INIT,
  threshold = TTQ_DEFAULT_THRESHOLD,
): TTQInitScales {
  resolveConfig(
    'ttq',
    { init: TTQ_DEFAULT_INIT, threshold: TTQ_DEFAULT_THRESHOLD },
    { init, threshold },
    TTQ_RULES,
  );
  if (init === 'one') return { wp: 1, wn: 1 };
  assertFiniteKernel(w, 'ttq');
  // The sums of kept |W| overflow float32 for a kernel near its max (3.4e38): then they
  // are taken over W / s (s a power of two, an exact division) and scaled back, so the
  // means (≤ max|W|) are the formula's, not Infinity.
  const sums = (s: number) =>
    tf.tidy(() => {
      const x = s === 1 ? w : tf.div(w, s);
      const delta = tf.mul(tf.max(tf.abs(x)), threshold);
      const pos = tf.cast(tf.greater(x, delta), 'float32');
      const neg = tf.cast(tf.less(x, tf.neg(delta)), 'float32');
      const abs = tf.abs(x);
      return tf
        .stack([tf.sum(tf.mul(abs, pos)), tf.sum(pos), tf.sum(tf.mul(abs, neg)), tf.sum(neg)])
        .dataSync();
    }) as unknown as [number, number, number, number];
  let [sumPos, countPos, sumNeg, countNeg] = sums(1);
  let bound = Number.POSITIVE_INFINITY; // a mean of kept |W| is ≤ max|W|
  if (!Number.isFinite(sumPos) || !Number.isFinite(sumNeg)) {
    bound = maxAbsValue(w);
    const s = overflowScale(bound);
    [sumPos, countPos, sumNeg, countNeg] = sums(s);
    sumPos *= s;
    sumNeg *= s;
  }
  const kept = countPos + countNeg;
  if (kept === 0) return { wp: 1, wn: 1 };
  const all = (sumPos + sumNeg) / kept;
  return {
    wp: Math.min(countPos > 0 ? sumPos / countPos : all, bound),
    wn: Math.min(countNeg > 0 ? sumNeg / countNeg : all, bound),
  };
}
