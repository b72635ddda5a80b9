import * as tf from '@tensorflow/tfjs';
import {
  assertFiniteKernel,
  assertKernelTensor,
  checkNumber,
  codeShares,
  customGradient,
  type LayerQuantStats,
  makeTernaryExport,
  maxAbsValue,
  overflowScale,
  Quantizer,
  type QuantizerParamSpec,
  type QuantizerParams,
  recordingGradients,
  registerQuantizer,
  resolveConfig,
  type TernaryExport,
} from '@trit/quant-core';

/** Paper reference of TTQ, as registered and cited in the docs. */
export const TTQ_PAPER =
  'Zhu, Han, Mao, Dally, "Trained Ternary Quantization", ICLR 2017, arXiv:1612.01064';

/** Default threshold factor `t` of `Δ = t · max|W|` (paper and official code). */
export const TTQ_DEFAULT_THRESHOLD = 0.05;

/** Options of {@link ttqQuantize}. */
export interface TTQOptions {
  /** Threshold factor `t` in `Δ = t · max|W|`, in (0, 1). Default 0.05. */
  readonly threshold?: number;
}

/** How {@link TTQQuantizer} initialises `Wp` and `Wn`. */
export type TTQInit = 'one' | 'mean';

/** Configuration of {@link TTQQuantizer}. */
export interface TTQConfig extends Record<string, unknown> {
  /** Threshold factor `t` in `Δ = t · max|W|`, in (0, 1). Default 0.05. */
  threshold: number;
  /**
   * Initial `Wp`, `Wn`: `'one'` = 1.0 (the official code, and the default);
   * `'mean'` ([chosen] option in docs/algorithms.md#ttq) = mean |W| of the positive /
   * negative kept weights of the kernel, see {@link ttqInitScales}.
   */
  init: TTQInit;
}

const DEFAULTS: TTQConfig = { threshold: TTQ_DEFAULT_THRESHOLD, init: 'one' };

const THRESHOLD_RULE = { min: 0, max: 1, exclusiveMin: true, exclusiveMax: true } as const;

function checkThreshold(threshold: number): void {
  if (typeof threshold !== 'number') {
    throw new Error(`ttq: option "threshold" must be a number, got ${JSON.stringify(threshold)}`);
  }
  checkNumber('ttq', 'threshold', threshold, THRESHOLD_RULE);
}

function checkScalar(t: tf.Tensor, name: 'Wp' | 'Wn'): void {
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
  for (const key of Object.keys(options)) {
    if (key !== 'threshold') {
      throw new Error(`ttq: unknown option "${key}"; valid options: threshold`);
    }
  }
  const t = options.threshold ?? TTQ_DEFAULT_THRESHOLD;
  checkThreshold(t);
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
 * - `'one'`: `Wp = Wn = 1.0`, as the official code.
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
  init: TTQInit = 'mean',
  threshold = TTQ_DEFAULT_THRESHOLD,
): TTQInitScales {
  if (init !== 'one' && init !== 'mean') {
    throw new Error(`ttq: option "init" must be one of "one", "mean", got ${JSON.stringify(init)}`);
  }
  checkThreshold(threshold);
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

function param(params: QuantizerParams, name: 'wp' | 'wn'): tf.Tensor {
  const p = params[name];
  if (!p) {
    throw new Error(
      `ttq: missing parameter "${name}"; create one scalar per name in paramSpecs() (wp, wn)`,
    );
  }
  return p;
}

/**
 * Registry wrapper of {@link ttqQuantize} (`'ttq'`): two trainable scalars
 * per layer, `wp` and `wn`, initialised per {@link TTQConfig.init}, never
 * clipped. 2 bits per weight.
 *
 * `stats()` reports the code shares, `scales: { wp, wn }` and
 * `extra: { delta, wpNegative, wnNegative }`, where the last two are 1 when
 * `Wp` (resp. `Wn`) has gone negative (docs/algorithms.md#ttq: report it) and 0
 * otherwise. `exportTernary()` keeps the 2-bit codes with `positive = Wp`
 * and `negative = Wn` (taken as they are, even if negative, so the export
 * always dequantizes to the forward kernel).
 */
export class TTQQuantizer extends Quantizer<TTQConfig> {
  readonly name = 'ttq';

  constructor(config?: Record<string, unknown>) {
    super(
      resolveConfig('ttq', DEFAULTS, config, { threshold: THRESHOLD_RULE, init: ['one', 'mean'] }),
    );
  }

  precision(_params?: QuantizerParams): number {
    return 2;
  }

  override paramSpecs(): readonly QuantizerParamSpec[] {
    const { init, threshold } = this.config;
    return [
      { name: 'wp', init: (kernel) => ttqInitScales(kernel, init, threshold).wp },
      { name: 'wn', init: (kernel) => ttqInitScales(kernel, init, threshold).wn },
    ];
  }

  quantize(kernel: tf.Tensor, params: QuantizerParams): tf.Tensor {
    return ttqQuantize(kernel, param(params, 'wp'), param(params, 'wn'), {
      threshold: this.config.threshold,
    });
  }

  stats(kernel: tf.Tensor, params: QuantizerParams): LayerQuantStats {
    const wpT = param(params, 'wp');
    const wnT = param(params, 'wn');
    checkScalar(wpT, 'Wp');
    checkScalar(wnT, 'Wn');
    const codes = ttqCodes(kernel, this.config.threshold);
    const delta = ttqThreshold(kernel, this.config.threshold);
    try {
      const wp = wpT.dataSync()[0]!;
      const wn = wnT.dataSync()[0]!;
      return {
        quantizer: this.name,
        bits: 2,
        numWeights: kernel.size,
        share: codeShares(codes),
        scales: { wp, wn },
        extra: {
          delta: delta.dataSync()[0]!,
          wpNegative: wp < 0 ? 1 : 0,
          wnNegative: wn < 0 ? 1 : 0,
        },
      };
    } finally {
      tf.dispose([codes, delta]);
    }
  }

  exportTernary(kernel: tf.Tensor, params: QuantizerParams): TernaryExport {
    const wp = param(params, 'wp');
    const wn = param(params, 'wn');
    checkScalar(wp, 'Wp');
    checkScalar(wn, 'Wn');
    const codes = ttqCodes(kernel, this.config.threshold);
    try {
      return makeTernaryExport(codes, wp, wn, 2);
    } finally {
      codes.dispose();
    }
  }
}

registerQuantizer(
  {
    name: 'ttq',
    description:
      'Trained Ternary Quantization: Q in {+Wp, 0, -Wn} with learned per-layer Wp, Wn and Δ = 0.05·max|W|',
    paper: TTQ_PAPER,
  },
  (config) => new TTQQuantizer(config),
);
