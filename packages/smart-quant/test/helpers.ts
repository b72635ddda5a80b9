import * as tf from '@tensorflow/tfjs';

/** The kernel docs/algorithms.md#worked-example uses for hand-made checks. */
export const W6 = [-0.9, -0.05, 0, 0.04, 0.3, 1.0];

/** A fixed, non-uniform upstream gradient G for `L = sum(Q · G)`. */
export const G6 = [0.3, -0.7, 1.1, 0.2, -0.4, 0.9];

/** The project's one closeness check (absolute tol, default 1e-6). */
export { expectClose } from '@trit/quant-core/testing';

/** Reads a tensor as a plain array (the tensor stays alive). */
export function values(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

/** The largest float32 strictly below the positive float32 `x`. */
export function nextDownF32(x: number): number {
  const f = new Float32Array([x]);
  const i = new Int32Array(f.buffer);
  i[0] = i[0]! - 1;
  return f[0]!;
}

/** The smallest float32 strictly above the positive float32 `x`. */
export function nextUpF32(x: number): number {
  const f = new Float32Array([x]);
  const i = new Int32Array(f.buffer);
  i[0] = i[0]! + 1;
  return f[0]!;
}

/** A deterministic, irregular kernel of `shape` with values roughly in [-0.45, 0.45]. */
export function wavyKernel(shape: number[]): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = 0.3 * Math.sin(1.7 * i + 0.3) * (1 + 0.5 * Math.cos(0.37 * i));
  return tf.tensor(v, shape);
}
