/**
 * Helpers for testing quantizers on every backend (`@trit/quant-core/testing`).
 * Framework-agnostic: they return values and throw, they do not assert.
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from './backend.js';

/** Deterministic uniform numbers in [0, 1) from a 32-bit seed (mulberry32), the same stream on every platform and backend so failures reproduce. */
export { seededRandom } from './random.js';

let nativeLoaded: boolean | undefined;

/** Backends to run backend-parity tests on: `cpu`, plus `tensorflow` when its binding loads. */
export async function testBackends(): Promise<string[]> {
  if (nativeLoaded === undefined) {
    const info = await initBackend({ quiet: true });
    nativeLoaded = info.name === 'tensorflow';
  }
  return nativeLoaded ? ['tensorflow', 'cpu'] : ['cpu'];
}

/** Runs `fn` with `backend` active, then restores the previous backend. */
export async function withBackend<T>(backend: string, fn: () => T | Promise<T>): Promise<T> {
  const previous = tf.getBackend();
  if (!(await tf.setBackend(backend))) throw new Error(`backend "${backend}" is not available`);
  try {
    return await fn();
  } finally {
    if (previous && previous !== backend) await tf.setBackend(previous);
  }
}

/** Largest absolute difference between two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/**
 * Counts live tensors around `steps` calls of `step`, after one warm-up call
 * (which may create lazily-built variables). Returns the growth per step.
 */
export function tensorGrowth(step: () => void, steps = 5): number {
  step();
  const before = tf.memory().numTensors;
  for (let i = 0; i < steps; i++) step();
  return (tf.memory().numTensors - before) / steps;
}

/** Tolerance of {@link expectClose}: a number is an absolute tolerance; `rtol` adds a part relative to `|expected|`. */
export type CloseTolerance = number | { readonly atol?: number; readonly rtol?: number };

/**
 * Throws unless `actual` and `expected` have the same length and every element
 * satisfies `|actual − expected| ≤ atol + rtol · |expected|` (numpy's
 * `allclose`; a number `tol` is `{ atol: tol, rtol: 0 }`, default `1e-6`).
 * When `actual` is float32 data (a float32 tensor or a `Float32Array`),
 * `expected` is first rounded to the nearest float32, so `tol = 0` means
 * bit-exact float32 and a literal is compared with what float32 can hold.
 */
export function expectClose(
  actual: tf.Tensor | ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: CloseTolerance = 1e-6,
): void {
  const data = actual instanceof tf.Tensor ? actual.dataSync() : actual;
  const float32 = data instanceof Float32Array;
  const { atol = 0, rtol = 0 } = typeof tol === 'number' ? { atol: tol } : tol;
  const show = () =>
    `\n  actual:   [${Array.from(data).join(', ')}]\n  expected: [${Array.from(expected).join(', ')}]`;
  if (data.length !== expected.length) {
    throw new Error(`expectClose: ${data.length} values, expected ${expected.length}${show()}`);
  }
  for (let i = 0; i < data.length; i++) {
    const e = float32 ? Math.fround(expected[i]!) : expected[i]!;
    const bound = atol + rtol * Math.abs(e);
    if (!(Math.abs(data[i]! - e) <= bound)) {
      throw new Error(
        `expectClose: element ${i} is ${data[i]}, expected ${e} within ${bound} (|diff| ${Math.abs(data[i]! - e)})${show()}`,
      );
    }
  }
}
