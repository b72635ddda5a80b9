/**
 * What every registered quantizer must do with its own API called directly
 * (not through a layer, whose tidy scopes hide leaks): leave no tensor behind,
 * return a tensor the caller owns, refuse configs and kernels it cannot use
 * with a clear error, and compute finite values for finite kernels at the
 * edge of float32. On every backend.
 */
import * as tf from '@tensorflow/tfjs';
import { getQuantizer, initBackend, type QuantizerParams } from '@trit/quant-core';
import { tensorGrowth, testBackends, withBackend } from '@trit/quant-core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { configsOf, progressAt, QUANTIZERS } from './support.js';

const backends = await testBackends();

beforeAll(async () => {
  await initBackend({ quiet: true });
});

/** A quantizer of `name` at `fraction` of the run, with its parameters initialised from `kernel`. */
function setUp(name: string, config: object, fraction: number, kernel: tf.Tensor) {
  const q = getQuantizer(name, config as Record<string, unknown>);
  q.onStep(progressAt(fraction));
  const params: QuantizerParams = Object.fromEntries(
    q.paramSpecs().map((s) => [s.name, tf.scalar(s.init(kernel))]),
  );
  return { q, params };
}

describe.each(QUANTIZERS)('quantizer "%s"', (name) => {
  it.each([
    ['a number', 5],
    ['an array', []],
    ['a string', 'string'],
    ['null', null],
  ])('getQuantizer(name, %s) is a clear error', (_label, config) => {
    expect(() => getQuantizer(name, config as never)).toThrow(
      new RegExp(`^${name}: the config must be an object of options .* \\(or undefined\\), got `),
    );
  });

  describe.each(backends)('on %s', (backend) => {
    describe.each(configsOf(name))('$label', ({ config }) => {
      it.each([0.1, 0.9])(
        'stats(), exportTernary(), quantize() and regularizer() called directly leak no tensor (at %s of the run)',
        (fraction) =>
          withBackend(backend, () => {
            const kernel = tf.randomNormal([3, 3, 2, 4], 0, 0.5, 'float32', 21);
            const { q, params } = setUp(name, config, fraction, kernel);
            expect(
              tensorGrowth(() => q.stats(kernel, params)),
              'stats',
            ).toBe(0);
            expect(
              tensorGrowth(() => q.exportTernary(kernel, params)),
              'exportTernary',
            ).toBe(0);
            expect(
              tensorGrowth(() => q.quantize(kernel, params).dispose()),
              'quantize',
            ).toBe(0);
            expect(
              tensorGrowth(() => q.regularizer(kernel, params)?.dispose()),
              'regularizer',
            ).toBe(0);
            tf.dispose([kernel, ...Object.values(params)]);
          }),
      );

      it.each([0.1, 0.9])(
        'quantize() returns a tensor the caller owns: disposing it keeps the kernel and the parameters (at %s)',
        (fraction) =>
          withBackend(backend, () => {
            const kernel = tf.randomNormal([4, 3], 0, 0.5, 'float32', 22);
            const before = Array.from(kernel.dataSync());
            const { q, params } = setUp(name, config, fraction, kernel);
            const out = q.quantize(kernel, params);
            expect(out).not.toBe(kernel);
            for (const p of Object.values(params)) expect(out).not.toBe(p);
            out.dispose();
            expect(kernel.isDisposed).toBe(false);
            expect(Array.from(kernel.dataSync())).toEqual(before);
            for (const p of Object.values(params)) expect(p.isDisposed).toBe(false);
            tf.dispose([kernel, ...Object.values(params)]);
          }),
      );

      it('an int32 kernel (or an array) is a clear error from quantize() and stats()', () =>
        withBackend(backend, () => {
          const good = tf.randomNormal([4, 3], 0, 0.5, 'float32', 23);
          const { q, params } = setUp(name, config, 0.9, good);
          const int = tf.tensor2d([1, -2, 0, 3, 1, -1], [3, 2], 'int32');
          const message = new RegExp(
            `^${name}: the kernel must be a float32 tensor, got int32 \\(shape \\[3, 2\\]\\)`,
          );
          expect(() => q.quantize(int, params)).toThrow(message);
          expect(() => q.stats(int, params)).toThrow(message);
          // Not a tensor at all: the same kind of error, before tfjs's own checks.
          expect(() => q.quantize([[1, 2]] as never, params)).toThrow(
            `${name}: the kernel must be a float32 tf.Tensor, got an array ([[1,2]])`,
          );
          tf.dispose([good, int, ...Object.values(params)]);
        }));

      it.each([0.1, 0.9])(
        'a finite kernel near float32 max gives a finite, non-zero Q, stats and export (at %s)',
        (fraction) =>
          withBackend(backend, () => {
            // Every weight is finite; Σ|W| = 1.4e39 is not.
            const values = [3e38, -3e38, 2e38, -1e38, 1, 0, 2.5e38, -2e38, 0.5];
            const kernel = tf.tensor2d(values, [3, 3]);
            const { q, params } = setUp(name, config, fraction, kernel);
            for (const p of Object.values(params))
              expect(Number.isFinite(p.dataSync()[0])).toBe(true);
            const out = Array.from(q.quantize(kernel, params).dataSync());
            expect(out.every(Number.isFinite), `Q = [${out.join(', ')}]`).toBe(true);
            expect(out.some((v) => v !== 0)).toBe(true);
            const stats = q.stats(kernel, params);
            for (const [k, v] of Object.entries(stats.scales)) {
              for (const x of [v].flat()) expect(Number.isFinite(x), `scale ${k}`).toBe(true);
            }
            const e = q.exportTernary(kernel, params);
            if (e) {
              expect([...e.positive, ...e.negative].every(Number.isFinite)).toBe(true);
              expect([...e.positive].some((v) => v > 0)).toBe(true);
            }
          }),
      );
    });
  });
});
