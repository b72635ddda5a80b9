import * as tf from '@tensorflow/tfjs';
import type { LayerQuantStats, TernaryExport } from './quantizer.js';
import { assertFiniteKernel, assertKernelTensor } from './validation.js';

/** Forward value and backward rule of a {@link customGradient} op. */
export interface CustomGradientResult {
  /** The forward value. */
  value: tf.Tensor;
  /** One gradient per input, in input order, given `dy = dL/dvalue` and the tensors passed to `save`. */
  gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];
}

/**
 * Typed wrapper around `tf.customGrad`. `fn` receives the inputs and a `save`
 * function; tensors the backward rule needs must go through `save`, because
 * tensors made inside `fn` are disposed when it returns, and every tensor that
 * needs a gradient must be an input (customGrad records nothing inside `fn`).
 */
export function customGradient(
  fn: (inputs: tf.Tensor[], save: (tensors: tf.Tensor[]) => void) => CustomGradientResult,
): (...inputs: tf.Tensor[]) => tf.Tensor {
  const op = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    return fn(args as tf.Tensor[], save);
  }) as Parameters<typeof tf.customGrad>[0]);
  return (...inputs: tf.Tensor[]) => op(...inputs);
}

/**
 * True while a gradient tape records, i.e. the ops run now will get a backward
 * pass (inside `tf.grad`, `tf.variableGrads`, `optimizer.minimize`, ...), and
 * false inside a kernel or `tf.customGrad`'s forward, which records nothing.
 *
 * This is tfjs's own test (`engine.isTapeOn()`: `gradientDepth > 0 &&
 * kernelDepth === 0`). The other candidate, `state.activeTape != null`, is
 * wrong: the engine clears `activeTape` only at the end of a successful
 * backward pass, so it is still set while the backward runs and stays set for
 * good after a `tf.grad` that throws, and every later forward would then keep
 * tensors for a backward pass that never comes.
 */
export function recordingGradients(): boolean {
  return tf.engine().isTapeOn();
}

/** Runs `fn` in a `tf.tidy` scope and returns its result, which must hold no tensors (they would be disposed). */
export function tidyValue<T>(fn: () => T): T {
  let out: T | undefined;
  tf.tidy(() => {
    out = fn();
  });
  return out as T;
}

/**
 * Identity in the forward pass, zero gradient in the backward pass.
 * tfjs-core has no stopGradient, so it is built from customGrad.
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return customGradient(([a]) => ({
    value: a!.clone(),
    gradFunc: (dy) => [tf.zerosLike(dy)],
  }))(x) as T;
}

/**
 * Axes to reduce for a per-layer (all axes) or per-output-channel (all but the
 * last axis) statistic. Reductions over these axes with `keepDims` broadcast
 * back against the kernel.
 */
export function reductionAxes(w: tf.Tensor, perChannel: boolean): number[] {
  const all = [...Array(w.rank).keys()];
  return perChannel ? all.slice(0, -1) : all;
}

/** Number of weights each statistic is taken over: N, or N / cout per channel. */
export function groupSize(w: tf.Tensor, perChannel: boolean): number {
  const cout = w.shape[w.rank - 1] ?? 1;
  return perChannel ? w.size / cout : w.size;
}

/**
 * `mean|W|` over the kept set `{mask = 1}`, 0 where the set is empty (never
 * divides by zero). Shapes as {@link reductionAxes} with keepDims.
 */
export function maskedMeanAbs(w: tf.Tensor, mask: tf.Tensor, perChannel: boolean): tf.Tensor {
  return tf.tidy(() => {
    const axes = reductionAxes(w, perChannel);
    const sum = tf.sum(tf.mul(tf.abs(w), mask), axes, true);
    const count = tf.sum(mask, axes, true);
    return tf.divNoNan(sum, count);
  });
}

/**
 * A power of two `s` with `max|W| / s ≤ 1` (1 when `max|W| ≤ 1`), for sums
 * and means of `|W|` that overflow float32 although every weight is finite (a
 * kernel near float32's max, 3.4e38, has `Σ|W| = Infinity`). Dividing by a
 * power of two is exact in float32, so a statistic computed on `W / s` and
 * multiplied by `s` is the one float32 would give with an unbounded
 * exponent: `mean|W| = s · mean(|W| / s)`, correctly rounded wherever it is
 * representable. At most 2^127, the largest power of two float32 holds.
 */
export function overflowScale(maxAbs: number): number {
  if (!(maxAbs > 1)) return 1;
  return 2 ** Math.min(127, Math.ceil(Math.log2(maxAbs)));
}

/** `max|W|` read back to the host (one reduction, one read). */
export function maxAbsValue(w: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(w)).dataSync()[0]!);
}

/**
 * `mean|W|` over the whole kernel as a host number, never overflowing: the
 * plain mean when it is finite (one reduction and one read, which is also
 * the NaN/±Infinity check), else, for a finite kernel whose sum overflows
 * float32, `s · mean(|W| / s)` with `s = overflowScale(max|W|)`. Throws the
 * clear error of {@link assertFiniteKernel} (naming `owner`) on a kernel that
 * is not float32 or holds NaN or ±Infinity.
 */
export function meanAbsValue(w: tf.Tensor, owner: string): number {
  assertKernelTensor(w, owner);
  const mean = tf.tidy(() => tf.mean(tf.abs(w)).dataSync()[0]!);
  if (Number.isFinite(mean)) return mean;
  assertFiniteKernel(w, owner); // throws on NaN/±Infinity; returns when only the sum overflowed
  const max = maxAbsValue(w);
  const s = overflowScale(max);
  const scaled = tf.tidy(() => tf.mean(tf.div(tf.abs(w), s)).dataSync()[0]!);
  // mean ≤ max mathematically; the bound keeps a last-bit rounding above max from overflowing.
  return Math.min(scaled * s, max);
}

/** Share of negative, zero and positive entries of a code (or quantized) tensor. */
export function codeShares(q: tf.Tensor): LayerQuantStats['share'] {
  const s = q.dataSync();
  let neg = 0;
  let pos = 0;
  for (let i = 0; i < s.length; i++) {
    const v = s[i]!;
    if (v > 0) pos++;
    else if (v < 0) neg++;
  }
  const n = Math.max(1, s.length);
  return { negative: neg / n, zero: (s.length - neg - pos) / n, positive: pos / n };
}

/** Reads a scalar or per-channel scale tensor as a number or a number array. */
export function readScale(t: tf.Tensor): number | number[] {
  const v = Array.from(t.dataSync());
  return t.size === 1 ? v[0]! : v;
}

/**
 * Packs codes (a tensor of -1/0/+1) and the level magnitudes into a
 * {@link TernaryExport}. `positive`/`negative` are scalars or per-channel.
 */
export function makeTernaryExport(
  codes: tf.Tensor,
  positive: tf.Tensor | number,
  negative: tf.Tensor | number,
  bits: 1 | 2,
): TernaryExport {
  const c = codes.dataSync();
  const out = new Int8Array(c.length);
  for (let i = 0; i < c.length; i++) {
    const v = c[i]!;
    out[i] = v > 0 ? 1 : v < 0 ? -1 : 0;
    if (bits === 1 && out[i] === 0)
      throw new Error('makeTernaryExport: a binary export cannot hold a zero code');
  }
  const toArray = (s: tf.Tensor | number) =>
    Float32Array.from(typeof s === 'number' ? [s] : s.dataSync());
  const pos = toArray(positive);
  const neg = toArray(negative);
  const cout = codes.shape[codes.rank - 1] ?? 1;
  for (const [what, arr] of [
    ['positive', pos],
    ['negative', neg],
  ] as const) {
    if (arr.length !== 1 && arr.length !== cout) {
      throw new Error(
        `makeTernaryExport: ${what} scale has ${arr.length} values; expected 1 or ${cout}`,
      );
    }
  }
  return { bits, shape: [...codes.shape], codes: out, positive: pos, negative: neg };
}

/** Rebuilds the float kernel from an export (for tests and checks; the runtime never does this). */
export function dequantizeExport(e: TernaryExport): Float32Array {
  const out = new Float32Array(e.codes.length);
  const cout = e.shape[e.shape.length - 1] ?? 1;
  for (let i = 0; i < out.length; i++) {
    const c = e.codes[i]!;
    const ch = i % cout;
    const p = e.positive.length === 1 ? e.positive[0]! : e.positive[ch]!;
    const n = e.negative.length === 1 ? e.negative[0]! : e.negative[ch]!;
    out[i] = c > 0 ? p : c < 0 ? -n : 0;
  }
  return out;
}
