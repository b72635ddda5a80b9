/** Shared by the export tests: seeded data, BatchNorm statistics, tfjs reference outputs. */
import * as tf from '@tensorflow/tfjs';
import { seededRandom } from '@trit/quant-core/testing';

/** `n` seeded values uniform in [lo, hi). */
export function uniform(seed: number, n: number, lo = -1, hi = 1): Float32Array {
  const rand = seededRandom(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * rand());
}

/** Gives a BatchNormalization layer seeded, non-trivial statistics (gamma, beta, mean, variance). */
export function randomizeBn(layer: tf.layers.Layer, seed: number): void {
  const c = layer.getWeights()[0]!.shape[0]!;
  layer.setWeights([
    tf.tensor1d(uniform(seed, c, 0.5, 1.5)),
    tf.tensor1d(uniform(seed + 1, c, -0.3, 0.3)),
    tf.tensor1d(uniform(seed + 2, c, -0.3, 0.3)),
    tf.tensor1d(uniform(seed + 3, c, 0.3, 2)),
  ]);
}

/** `model.predict` on `x` of `shape`, as a Float32Array. */
export function predict(model: tf.LayersModel, x: Float32Array, shape: number[]): Float32Array {
  return tf.tidy(() =>
    Float32Array.from((model.predict(tf.tensor(x, shape)) as tf.Tensor).dataSync()),
  );
}

/** Index of the largest value of each row of `cols` values. */
export function argmaxRows(v: Float32Array, cols: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < v.length / cols; r++) {
    let best = 0;
    for (let j = 1; j < cols; j++) if (v[r * cols + j]! > v[r * cols + best]!) best = j;
    out.push(best);
  }
  return out;
}
