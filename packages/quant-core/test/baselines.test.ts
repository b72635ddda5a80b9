import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { bwnQuantize, dequantizeExport, getQuantizer } from '../src/index.js';
import { expectClose, tensorGrowth, testBackends, withBackend } from '../src/testing.js';

const W = [-0.9, -0.05, 0, 0.04, 0.3, 1.0];
const G = [1, 2, 3, 4, 5, 6];
const backends = await testBackends();

describe.each(backends)('baselines on %s', (backend) => {
  it('FP32 forward is the identity and its gradient is g', () =>
    withBackend(backend, () => {
      const q = getQuantizer('fp32');
      const w = tf.tensor1d(W);
      expectClose(q.quantize(w, {}).dataSync(), W, 5e-7);
      const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(q.quantize(x, {}), tf.tensor1d(G))))(w);
      expectClose(g.dataSync(), G, 5e-7);
      expect(q.precision()).toBe(32);
      expect(q.exportTernary(w, {})).toBeNull();
    }));

  it('BWN forward: Q = mean|W| · sign(W), sign(0) = +1', () =>
    withBackend(backend, () => {
      // mean|W| = (0.9 + 0.05 + 0 + 0.04 + 0.3 + 1.0) / 6 = 2.29 / 6 = 0.3816667
      // sign(W) = [-1, -1, +1 (W = 0), +1, +1, +1]
      const a = 0.3816667;
      expectClose(bwnQuantize(tf.tensor1d(W)).dataSync(), [-a, -a, a, a, a, a], 5e-7);
      // 2-D [in, out] kernel: still one scale for the whole layer.
      const q2 = bwnQuantize(tf.tensor2d(W, [3, 2]));
      expect(q2.shape).toEqual([3, 2]);
      expectClose(q2.dataSync(), [-a, -a, a, a, a, a], 5e-7);
    }));

  it('BWN backward: identity straight-through gradient dL/dW = g', () =>
    withBackend(backend, () => {
      // L = Σ Q·G, so dL/dQ = G, and the STE passes it through unchanged,
      // including where the forward is flat (every weight).
      const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(bwnQuantize(x), tf.tensor1d(G))))(
        tf.tensor1d(W),
      );
      expectClose(g.dataSync(), G, 5e-7);
    }));

  it('BWN stats, precision and export', () =>
    withBackend(backend, () => {
      const q = getQuantizer('bwn');
      const w = tf.tensor1d(W);
      expect(q.precision()).toBe(1);
      const s = q.stats(w, {});
      // codes: 2 negative, 4 positive, no zero
      expect(s.share.negative).toBeCloseTo(2 / 6, 6);
      expect(s.share.zero).toBe(0);
      expect(s.share.positive).toBeCloseTo(4 / 6, 6);
      expect(s.scales.alpha).toBeCloseTo(0.3816667, 6);
      const e = q.exportTernary(w, {})!;
      expect(e.bits).toBe(1);
      expect(Array.from(e.codes)).toEqual([-1, -1, 1, 1, 1, 1]);
      expectClose(dequantizeExport(e), Array.from(bwnQuantize(w).dataSync()), 5e-7);
    }));

  it('BWN on an all-zero kernel gives Q = 0 (no division)', () =>
    withBackend(backend, () => {
      expectClose(bwnQuantize(tf.zeros([2, 3])).dataSync(), [0, 0, 0, 0, 0, 0], 5e-7);
    }));

  it('BWN rejects NaN in the kernel with a clear error', () =>
    withBackend(backend, () => {
      expect(() => bwnQuantize(tf.tensor1d([0.1, Number.NaN]))).toThrow(
        'bwn: the kernel (shape [2]) contains NaN',
      );
    }));

  it('BWN on a kernel near float32 max: α = mean|W| (Σ|W| overflows, α does not), Q finite', () =>
    withBackend(backend, () => {
      // Σ|W| = 3·3e38 + 1 = 9e38 > float32 max; mean|W| = 2.25e38, representable.
      const w = tf.tensor1d([3e38, -3e38, 3e38, 1]);
      const a = (3 * Math.fround(3e38) + 1) / 4;
      const q = Array.from(bwnQuantize(w).dataSync());
      for (const [i, e] of [a, -a, a, a].entries())
        expect(Math.abs(q[i]! / e - 1)).toBeLessThan(1e-6);
      const s = getQuantizer('bwn').stats(w, {});
      expect(Math.abs((s.scales.alpha as number) / a - 1)).toBeLessThan(1e-6);
      expect(Math.abs(getQuantizer('bwn').exportTernary(w, {})!.positive[0]! / a - 1)).toBeLessThan(
        1e-6,
      );
    }));

  it('BWN stats and export refuse a NaN kernel too; every entry point refuses int32', () =>
    withBackend(backend, () => {
      const q = getQuantizer('bwn');
      const nan = tf.tensor1d([0.1, Number.NaN]);
      expect(() => q.stats(nan, {})).toThrow('bwn: the kernel (shape [2]) contains NaN');
      expect(() => q.exportTernary(nan, {})).toThrow('bwn: the kernel (shape [2]) contains NaN');
      const int = tf.tensor1d([1, -2], 'int32');
      const message =
        "bwn: the kernel must be a float32 tensor, got int32 (shape [2]); cast it first: tf.cast(kernel, 'float32')";
      expect(() => bwnQuantize(int)).toThrow(message);
      expect(() => q.stats(int, {})).toThrow(message);
      expect(() => q.exportTernary(int, {})).toThrow(message);
      expect(() => getQuantizer('fp32').quantize(int, {})).toThrow(
        "fp32: the kernel must be a float32 tensor, got int32 (shape [2]); cast it first: tf.cast(kernel, 'float32')",
      );
    }));

  it('stats() and exportTernary() called directly leave no tensor behind (BWN, FP32)', () =>
    withBackend(backend, () => {
      const w = tf.tensor2d(W, [3, 2]);
      for (const name of ['bwn', 'fp32']) {
        const q = getQuantizer(name);
        expect(
          tensorGrowth(() => q.stats(w, {})),
          `${name} stats`,
        ).toBe(0);
        expect(
          tensorGrowth(() => q.exportTernary(w, {})),
          `${name} exportTernary`,
        ).toBe(0);
        expect(
          tensorGrowth(() => q.quantize(w, {}).dispose()),
          `${name} quantize`,
        ).toBe(0);
      }
    }));

  it('FP32 returns a new tensor: disposing it keeps the caller’s kernel', () =>
    withBackend(backend, () => {
      const w = tf.tensor1d(W);
      const q = getQuantizer('fp32').quantize(w, {});
      expect(q).not.toBe(w);
      q.dispose();
      expect(w.isDisposed).toBe(false);
      expectClose(w.dataSync(), W, 5e-7);
    }));

  it('BWN forward + backward leaks no tensor', () =>
    withBackend(backend, () => {
      const w = tf.tensor1d(W);
      const gT = tf.tensor1d(G);
      const growth = tensorGrowth(() => {
        const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(bwnQuantize(x), gT)))(w);
        g.dispose();
      });
      expect(growth).toBe(0);
    }));
});
