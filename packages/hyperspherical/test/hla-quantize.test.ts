import * as tf from '@tensorflow/tfjs';
import { maxAbsDiff, tensorGrowth, testBackends, withBackend } from '@trit/quant-core/testing';
import { describe, expect, it } from 'vitest';
import { hlaGradientScale, hlaQuantize } from '../src/index.js';
import { expectClose, gradWith } from './helpers.js';

const backends = await testBackends();

// The hand-made kernel of docs/algorithms.md#worked-example and a fixed, non-uniform upstream gradient.
const W = [-0.9, -0.05, 0, 0.04, 0.3, 1.0];
const G = [0.5, -1, 2, 1.5, -0.25, 3];

// Forward, by hand:
//   mean|W| = (0.9 + 0.05 + 0 + 0.04 + 0.3 + 1.0) / 6 = 2.29 / 6 = 0.3816667
//   Δ = 0.7 · 0.3816667 = 0.2671667  ->  |W| > Δ for 0.9, 0.3, 1.0
//   T = [-1, 0, 0, 0, 1, 1],  α = (0.9 + 0.3 + 1.0) / 3 = 0.7333333
const Q_HAND = [-0.7333333, 0, 0, 0, 0.7333333, 0.7333333];

// Backward at τ = 2, by hand: z = 2 · (|W| − Δ) / Δ, σ = σ(z), s = 4σ(1 − σ)
//   W = -0.9 : z = 2 · (0.9  − 0.2671667) / 0.2671667 =  4.7373674, σ = 0.9913144, s = 0.0344406
//   W = -0.05: z = 2 · (0.05 − 0.2671667) / 0.2671667 = -1.6257018, σ = 0.1644200, s = 0.5495443
//   W =  0   : z = 2 · (0    − 0.2671667) / 0.2671667 = -2,         σ = 0.1192029, s = 0.4199743
//   W =  0.04: z = 2 · (0.04 − 0.2671667) / 0.2671667 = -1.7005614, σ = 0.1543920, s = 0.5222203
//   W =  0.3 : z = 2 · (0.3  − 0.2671667) / 0.2671667 =  0.2457891, σ = 0.5611398, s = 0.9850477
//   W =  1.0 : z = 2 · (1.0  − 0.2671667) / 0.2671667 =  5.4859638, σ = 0.9958726, s = 0.0164416
//   mean(s) = 2.5276688 / 6 = 0.4212781;  r = s / mean(s):
const R_TAU2 = [0.0817526, 1.3044691, 0.9969051, 1.2396093, 2.338236, 0.0390279];
//   g · r = [0.5·0.0817526, -1·1.3044691, 2·0.9969051, 1.5·1.2396093, -0.25·2.338236, 3·0.0390279]
const GRAD_TAU2 = [0.0408763, -1.3044691, 1.9938102, 1.859414, -0.584559, 0.1170837];

// Backward at τ = 4 (z doubles): z = [9.4747349, -3.2514036, -4, -3.4011229, 0.4915783, 10.9719276]
//   σ = [0.9999232, 0.0372765, 0.0179862, 0.0322604, 0.6204782, 0.9999828]
//   s = [0.000307, 0.1435478, 0.0706508, 0.1248786, 0.94194, 0.0000687], mean(s) = 0.2135655
const R_TAU4 = [0.0014376, 0.6721488, 0.3308157, 0.5847322, 4.410544, 0.0003217];

describe.each(backends)('hlaQuantize on %s', (backend) => {
  const run = (fn: () => void) => withBackend(backend, () => tf.tidy(fn));

  it('forward: Q = α·T with the TWN threshold, by hand', () =>
    run(() => {
      expectClose(hlaQuantize(tf.tensor1d(W)), Q_HAND, 1e-5);
    }));

  it('backward: dL/dW = g·r(W) at τ = 2, with r by hand and mean(r) = 1', () =>
    run(() => {
      const w = tf.tensor1d(W);
      expectClose(hlaGradientScale(w), R_TAU2, 1e-5);
      // mean(r) = (0.0817526 + 1.3044691 + 0.9969051 + 1.2396093 + 2.338236 + 0.0390279) / 6 = 6 / 6 = 1
      expect(tf.mean(hlaGradientScale(w)).dataSync()[0]).toBeCloseTo(1, 5);
      expectClose(
        gradWith((x) => hlaQuantize(x), w, tf.tensor1d(G)),
        GRAD_TAU2,
        1e-5,
      );
    }));

  it('the gradient is not the derivative of the forward: it is nonzero inside the band', () =>
    run(() => {
      const grad = gradWith((x) => hlaQuantize(x), tf.tensor1d(W), tf.tensor1d(G)).dataSync();
      // W = 0 is inside the band (Q is flat there) yet gets g·r = 2 · 0.9969051.
      expect(grad[2]).toBeCloseTo(1.9938102, 5);
    }));

  it('τ sharpens the re-scaling around the threshold; τ = 0 is the plain STE', () =>
    run(() => {
      const w = tf.tensor1d(W);
      const g = tf.tensor1d(G);
      expectClose(hlaGradientScale(w, { tau: 4 }), R_TAU4, 1e-5);
      // g · r at τ = 4
      expectClose(
        gradWith((x) => hlaQuantize(x, { tau: 4 }), w, g),
        [
          0.5 * 0.0014376,
          -1 * 0.6721488,
          2 * 0.3308157,
          1.5 * 0.5847322,
          -0.25 * 4.410544,
          3 * 0.0003217,
        ],
        1e-5,
      );
      // The weight nearest the threshold (0.3) gains, the far ones lose: 2.338 -> 4.411, 0.0818 -> 0.0014.
      expect(R_TAU4[4]!).toBeGreaterThan(R_TAU2[4]!);
      expect(R_TAU4[0]!).toBeLessThan(R_TAU2[0]!);
      // τ = 0: z = 0, s = 4 · 0.5 · 0.5 = 1 everywhere, r = 1, dL/dW = g.
      expectClose(
        gradWith((x) => hlaQuantize(x, { tau: 0 }), w, g),
        G,
        1e-5,
      );
      // τ only changes the backward pass.
      expectClose(hlaQuantize(w, { tau: 4 }), Q_HAND, 1e-5);
    }));

  it('is per layer for a 2-D [in, out] and a 4-D conv kernel (statistics over all axes)', () =>
    run(() => {
      for (const shape of [
        [3, 2],
        [1, 1, 2, 3],
      ]) {
        const w = tf.tensor(W, shape);
        const q = hlaQuantize(w);
        expect(q.shape).toEqual(shape);
        expectClose(q, Q_HAND, 1e-5);
        const grad = gradWith((x) => hlaQuantize(x), w, tf.tensor(G, shape));
        expect(grad.shape).toEqual(shape);
        expectClose(grad, GRAD_TAU2, 1e-5);
      }
    }));

  it('deltaFactor moves the threshold', () =>
    run(() => {
      // δ = 0.1: Δ = 0.1 · 0.3816667 = 0.0381667 -> |W| > Δ for 0.9, 0.05, 0.04, 0.3, 1.0
      //   α = (0.9 + 0.05 + 0.04 + 0.3 + 1.0) / 5 = 2.29 / 5 = 0.458
      expectClose(
        hlaQuantize(tf.tensor1d(W), { deltaFactor: 0.1 }),
        [-0.458, -0.458, 0, 0.458, 0.458, 0.458],
        1e-5,
      );
    }));

  it('all-zero kernel: Q = 0, Δ = 0 so r = 1 and dL/dW = g (no NaN)', () =>
    run(() => {
      const w = tf.zeros([2, 3]);
      expectClose(hlaQuantize(w), [0, 0, 0, 0, 0, 0], 1e-5);
      expectClose(hlaGradientScale(w, { tau: 5 }), [1, 1, 1, 1, 1, 1], 1e-5);
      expectClose(
        gradWith((x) => hlaQuantize(x), w, tf.tensor(G, [2, 3])),
        G,
        1e-5,
      );
    }));

  it('all weights inside the band (δ = 3): Q = 0, α = 0, the gradient is still g·r', () =>
    run(() => {
      const w = tf.tensor1d(W);
      // Δ = 3 · 0.3816667 = 1.145 > max|W| = 1.0 -> T = 0, α = 0 (empty set, no division by zero)
      expectClose(hlaQuantize(w, { deltaFactor: 3 }), [0, 0, 0, 0, 0, 0], 1e-5);
      // z = 2 · (|W| − 1.145) / 1.145 = [-0.4279476, -1.9126638, -2, -1.930131, -1.4759825, -0.2532751]
      // σ = [0.3946165, 0.1286819, 0.1192029, 0.1267361, 0.186035, 0.4370175]
      // s = [0.9555773, 0.4484914, 0.4199743, 0.4426962, 0.6057039, 0.9841328], mean(s) = 0.6427627
      // r = [1.4866721, 0.6977559, 0.6533894, 0.6887397, 0.9423446, 1.5310983]
      expectClose(
        gradWith((x) => hlaQuantize(x, { deltaFactor: 3 }), w, tf.tensor1d(G)),
        [
          0.5 * 1.4866721,
          -1 * 0.6977559,
          2 * 0.6533894,
          1.5 * 0.6887397,
          -0.25 * 0.9423446,
          3 * 1.5310983,
        ],
        1e-5,
      );
    }));

  it('one huge outlier: it alone is kept, α = 100, and its gradient is nearly switched off', () =>
    run(() => {
      const w = tf.tensor1d([0.1, -0.2, 0.15, 100]);
      // mean|W| = 100.45 / 4 = 25.1125, Δ = 0.7 · 25.1125 = 17.57875 -> only 100 is kept, α = 100
      expectClose(hlaQuantize(w), [0, 0, 0, 100], 1e-4);
      // z = 2 · (|W| − 17.57875) / 17.57875 = [-1.9886226, -1.9772453, -1.9829339, 9.3773732]
      // σ = [0.1204027, 0.1216128, 0.1210064, 0.9999154]
      // s = [0.4236234, 0.4272925, 0.4254555, 0.0003384], mean(s) = 0.3191775
      // r = [1.3272348, 1.3387302, 1.3329747, 0.0010603]
      expectClose(
        gradWith((x) => hlaQuantize(x), w, tf.tensor1d([1, 2, 3, 4])),
        [1 * 1.3272348, 2 * 1.3387302, 3 * 1.3329747, 4 * 0.0010603],
        1e-5,
      );
    }));

  it('very large τ: r stays finite with mean 1 (no 0/0 when every s underflows)', () =>
    run(() => {
      // τ = 500: the nearest weight to the threshold, 0.3, has z = 61.4; every other |z| ≥ 406,
      // so every s underflows float32 but s(0.3) / s(other) → ∞: r concentrates on it, r = [0,0,0,0,6,0].
      expectClose(hlaGradientScale(tf.tensor1d(W), { tau: 500 }), [0, 0, 0, 0, 6, 0], 1e-5);
    }));

  it('NaN or Infinity in the kernel: a clear error', () =>
    run(() => {
      expect(() => hlaQuantize(tf.tensor1d([0.1, Number.NaN, 0.3]))).toThrow(
        'hla: the kernel (shape [3]) contains NaN at flat index 1',
      );
      expect(() => hlaGradientScale(tf.tensor1d([Number.POSITIVE_INFINITY]))).toThrow(
        'contains Infinity at flat index 0',
      );
    }));

  it('leaks no tensors over forward + backward', () =>
    withBackend(backend, () => {
      const w = tf.variable(tf.tensor(W, [3, 2]));
      const g = tf.tensor(G, [3, 2]);
      const growth = tensorGrowth(() => {
        tf.tidy(() => {
          gradWith((x) => hlaQuantize(x, { tau: 3 }), w, g);
          hlaGradientScale(w);
        });
        tf.dispose(tf.grads((x: tf.Tensor) => tf.sum(tf.mul(hlaQuantize(x), g)))([w]));
      });
      tf.dispose([w, g]);
      expect(growth).toBe(0);
    }));
});

describe('hlaQuantize options', () => {
  it('rejects bad options with the field and value', () => {
    const w = tf.tensor1d(W);
    expect(() => hlaQuantize(w, { deltaFactor: 0 })).toThrow(
      'hlaQuantize: option "deltaFactor" must be > 0, got 0',
    );
    expect(() => hlaQuantize(w, { tau: -1 })).toThrow(
      'hlaQuantize: option "tau" must be >= 0, got -1',
    );
    expect(() => hlaQuantize(w, { tau: Number.NaN })).toThrow(
      'option "tau" must be a finite number',
    );
    expect(() => hlaQuantize(w, { delta: 0.7 } as never)).toThrow(
      'hlaQuantize: unknown option "delta"; valid options: deltaFactor, tau',
    );
    expect(() => hlaGradientScale(w, { tau: '2' } as never)).toThrow(
      'hlaGradientScale: option "tau" must be a number, got "2"',
    );
    w.dispose();
  });
});

describe('backend parity', () => {
  it.runIf(backends.length > 1)('native and cpu agree on forward, r and backward', async () => {
    // Same inputs on both backends: seeded draws, read back as plain arrays.
    const [wData, gData] = tf.tidy(() => [
      tf.randomNormal([3, 3, 4, 8], 0, 0.1, 'float32', 7).dataSync(),
      tf.randomNormal([3, 3, 4, 8], 0, 1, 'float32', 8).dataSync(),
    ]);
    const results: Float32Array[][] = [];
    for (const backend of backends) {
      results.push(
        await withBackend(backend, () =>
          tf.tidy(() => {
            const w = tf.tensor(wData!, [3, 3, 4, 8]);
            const g = tf.tensor(gData!, [3, 3, 4, 8]);
            return [
              hlaQuantize(w).dataSync() as Float32Array,
              hlaGradientScale(w, { tau: 6 }).dataSync() as Float32Array,
              gradWith((x) => hlaQuantize(x, { tau: 3 }), w, g).dataSync() as Float32Array,
            ];
          }),
        ),
      );
    }
    const [native, cpu] = results;
    for (let i = 0; i < 3; i++) {
      expect(native![i]!.length).toBe(288);
      expect(maxAbsDiff(native![i]!, cpu![i]!)).toBeLessThan(1e-5);
    }
    // The kernel is ternary on both: three distinct values.
    expect(new Set(native![0]!).size).toBe(3);
  });
});
