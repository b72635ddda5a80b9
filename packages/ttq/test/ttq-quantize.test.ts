import * as tf from '@tensorflow/tfjs';
import {
  maxAbsDiff,
  seededRandom,
  tensorGrowth,
  testBackends,
  withBackend,
} from '@trit/quant-core/testing';
import { describe, expect, it } from 'vitest';
import { ttqCodes, ttqInitScales, ttqQuantize, ttqThreshold } from '../src/index.js';
import { expectClose, weightedSum } from './helpers.js';

const backends = await testBackends();

// The hand-made kernel of docs/algorithms.md#worked-example.
const W6 = [-0.9, -0.05, 0, 0.04, 0.3, 1.0];

/** dL/dW, dL/dWp, dL/dWn of L = Σ ttqQuantize(W, Wp, Wn) ⊙ G. */
function ttqGrads(w: tf.Tensor, wp: number, wn: number, g: tf.Tensor, threshold?: number) {
  const f = (x: tf.Tensor, p: tf.Tensor, n: tf.Tensor) =>
    weightedSum(g)(ttqQuantize(x, p, n, threshold === undefined ? {} : { threshold }));
  const [dw, dwp, dwn] = tf.grads(f)([w, tf.scalar(wp), tf.scalar(wn)]);
  return { dw: dw!, dwp: dwp!, dwn: dwn! };
}

describe.each(backends)('ttqQuantize forward on %s', (backend) => {
  it('quantizes the algorithms.md kernel; −Δ itself falls in the zero band', () =>
    withBackend(backend, () => {
      // max|W| = 1.0, Δ = 0.05 · 1.0 = 0.05; Wp = 1.5, Wn = 0.5
      // -0.9 < -0.05 -> -Wn = -0.5
      // -0.05 is NOT < -0.05 -> 0 (boundary), 0 -> 0, 0.04 <= 0.05 -> 0
      // 0.3 > 0.05 -> Wp = 1.5, 1.0 > 0.05 -> 1.5
      const q = ttqQuantize(tf.tensor1d(W6), tf.scalar(1.5), tf.scalar(0.5));
      expect(q.shape).toEqual([6]);
      expectClose(q, [-0.5, 0, 0, 0, 1.5, 1.5], 1e-6);
    }));

  it('+Δ itself is in the zero band too; just outside it is kept', () =>
    withBackend(backend, () => {
      // max|W| = 1.0, Δ = 0.05; Wp = 2, Wn = 3
      // 0.05 -> 0 (not > Δ), -0.05 -> 0, 1.0 -> 2, -0.06 -> -3, 0.06 -> 2, 0 -> 0
      const q = ttqQuantize(
        tf.tensor1d([0.05, -0.05, 1.0, -0.06, 0.06, 0]),
        tf.scalar(2),
        tf.scalar(3),
      );
      expectClose(q, [0, 0, 2, -3, 2, 0], 1e-6);
    }));

  it('honours the threshold option', () =>
    withBackend(backend, () => {
      // t = 0.35: Δ = 0.35 · 1.0 = 0.35; only -0.9 (< -0.35) and 1.0 (> 0.35) are kept
      const q = ttqQuantize(tf.tensor1d(W6), tf.scalar(1.5), tf.scalar(0.5), { threshold: 0.35 });
      expectClose(q, [-0.5, 0, 0, 0, 0, 1.5], 1e-6);
    }));

  it('quantizes a 2-D [in, out] kernel over the whole layer', () =>
    withBackend(backend, () => {
      // max|W| = 0.6 -> Δ = 0.03 (one Δ for the layer, not per column)
      // codes [[+, -], [0, +], [-, 0]]; Wp = 0.8, Wn = 1.25
      const w = tf.tensor2d([
        [0.2, -0.5],
        [-0.01, 0.6],
        [-0.3, 0.02],
      ]);
      const q = ttqQuantize(w, tf.scalar(0.8), tf.scalar(1.25));
      expect(q.shape).toEqual([3, 2]);
      expectClose(q, [0.8, -1.25, 0, 0.8, -1.25, 0], 1e-6);
    }));

  it('quantizes a 4-D conv kernel [kh, kw, cin, cout] and works inside conv2d', () =>
    withBackend(backend, () => {
      // max|W| = 0.8 -> Δ = 0.05 · 0.8 = 0.04; Wp = 2, Wn = 3
      // 0.2 -> 2, -0.4 -> -3, 0.01 -> 0, -0.02 -> 0, 0.8 -> 2, -0.03 -> 0, 0.5 -> 2, -0.6 -> -3
      const w = tf.tensor4d([0.2, -0.4, 0.01, -0.02, 0.8, -0.03, 0.5, -0.6], [1, 2, 2, 2]);
      const q = ttqQuantize(w, tf.scalar(2), tf.scalar(3));
      expect(q.shape).toEqual([1, 2, 2, 2]);
      expectClose(q, [2, -3, 0, 0, 2, 0, 2, -3], 1e-6);
      // A 1x2 input with 2 channels [[1, 10], [100, 1000]]: out[c] = Σ x · Q[.., c]
      // c=0: 1·2 + 10·0 + 100·2 + 1000·2 = 2202; c=1: 1·-3 + 10·0 + 100·0 + 1000·-3 = -3003
      const x = tf.tensor4d([1, 10, 100, 1000], [1, 1, 2, 2]);
      expectClose(tf.conv2d(x, q as tf.Tensor4D, 1, 'valid'), [2202, -3003], 1e-6);
    }));

  it('recomputes Δ from the current kernel on every call', () =>
    withBackend(backend, () => {
      const w = tf.variable(tf.tensor1d([0.3, -0.2, 1.0]));
      // Δ = 0.05 -> all three kept
      expectClose(ttqQuantize(w, tf.scalar(1), tf.scalar(1)), [1, -1, 1], 1e-6);
      // max|W| becomes 10 -> Δ = 0.5: 0.3 and -0.2 fall into the zero band
      w.assign(tf.tensor1d([0.3, -0.2, 10]));
      expectClose(ttqQuantize(w, tf.scalar(1), tf.scalar(1)), [0, 0, 1], 1e-6);
      expectClose(ttqThreshold(w), [0.5], 1e-6);
      w.dispose();
    }));

  it('accepts Wp, Wn of shape [1] and keeps the kernel shape', () =>
    withBackend(backend, () => {
      const q = ttqQuantize(tf.tensor1d(W6), tf.tensor1d([1.5]), tf.tensor1d([0.5]));
      expect(q.shape).toEqual([6]);
      expectClose(q, [-0.5, 0, 0, 0, 1.5, 1.5], 1e-6);
    }));

  it('does not clip or constrain Wp, Wn: negative values pass through', () =>
    withBackend(backend, () => {
      // Wp = -0.5, Wn = -2: Q = -0.5 where W > Δ, +2 where W < -Δ
      const q = ttqQuantize(tf.tensor1d(W6), tf.scalar(-0.5), tf.scalar(-2));
      expectClose(q, [2, 0, 0, 0, -0.5, -0.5], 1e-6);
    }));

  it('ttqCodes gives the -1/0/+1 codes of the forward', () =>
    withBackend(backend, () => {
      expectClose(ttqCodes(tf.tensor1d(W6)), [-1, 0, 0, 0, 1, 1], 1e-6);
      expectClose(ttqCodes(tf.tensor1d(W6), 0.35), [-1, 0, 0, 0, 0, 1], 1e-6);
    }));
});

describe.each(backends)('ttqQuantize backward on %s', (backend) => {
  it('matches the official-code gradients on the algorithms.md kernel', () =>
    withBackend(backend, () => {
      // codes [-, 0, 0, 0, +, +] (see forward test), Wp = 1.5, Wn = 0.5
      // G = [0.5, -1, 2, 3, -0.25, 4]
      // dL/dW = [Wn·0.5, -1, 2, 3, Wp·-0.25, Wp·4] = [0.25, -1, 2, 3, -0.375, 6]
      // dL/dWp = +(-0.25 + 4) = 3.75
      // dL/dWn = -(0.5) = -0.5
      const g = tf.tensor1d([0.5, -1, 2, 3, -0.25, 4]);
      const { dw, dwp, dwn } = ttqGrads(tf.tensor1d(W6), 1.5, 0.5, g);
      expectClose(dw, [0.25, -1, 2, 3, -0.375, 6], 1e-6);
      expect(dwp.shape).toEqual([]);
      expect(dwn.shape).toEqual([]);
      expectClose(dwp, [3.75], 1e-6);
      expectClose(dwn, [-0.5], 1e-6);
    }));

  it('gives dL/dWn = −Σ_{W<−Δ} g: positive when the negative side sees negative g', () =>
    withBackend(backend, () => {
      // W = [[0.2, -0.5], [-0.01, 0.6], [-0.3, 0.02]], Δ = 0.03, codes [[+, -], [0, +], [-, 0]]
      // Wp = 0.8, Wn = 1.25, G = [[1, -2], [0.5, 3], [-4, 0.25]]
      // dL/dW = [[0.8·1, 1.25·-2], [0.5, 0.8·3], [1.25·-4, 0.25]] = [[0.8, -2.5], [0.5, 2.4], [-5, 0.25]]
      // dL/dWp = 1 + 3 = 4
      // dL/dWn = -(-2 + -4) = +6 (the paper's printed sign would give -6)
      const w = tf.tensor2d([
        [0.2, -0.5],
        [-0.01, 0.6],
        [-0.3, 0.02],
      ]);
      const g = tf.tensor2d([
        [1, -2],
        [0.5, 3],
        [-4, 0.25],
      ]);
      const { dw, dwp, dwn } = ttqGrads(w, 0.8, 1.25, g);
      expect(dw.shape).toEqual([3, 2]);
      expectClose(dw, [0.8, -2.5, 0.5, 2.4, -5, 0.25], 1e-6);
      expectClose(dwp, [4], 1e-6);
      expectClose(dwn, [6], 1e-6);
    }));

  it('4-D conv kernel: sums (not means) over the whole layer', () =>
    withBackend(backend, () => {
      // codes [+, -, 0, 0, +, 0, +, -] (Δ = 0.04), Wp = 2, Wn = 3
      // G = [0.1, 0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8]
      // dL/dW = [2·0.1, 3·0.2, 0.3, 0.4, 2·-0.5, 0.6, 2·0.7, 3·-0.8]
      //       = [0.2, 0.6, 0.3, 0.4, -1, 0.6, 1.4, -2.4]
      // dL/dWp = 0.1 - 0.5 + 0.7 = 0.3;  dL/dWn = -(0.2 - 0.8) = 0.6
      const w = tf.tensor4d([0.2, -0.4, 0.01, -0.02, 0.8, -0.03, 0.5, -0.6], [1, 2, 2, 2]);
      const g = tf.tensor4d([0.1, 0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8], [1, 2, 2, 2]);
      const { dw, dwp, dwn } = ttqGrads(w, 2, 3, g);
      expect(dw.shape).toEqual([1, 2, 2, 2]);
      expectClose(dw, [0.2, 0.6, 0.3, 0.4, -1, 0.6, 1.4, -2.4], 1e-6);
      expectClose(dwp, [0.3], 1e-6);
      expectClose(dwn, [0.6], 1e-6);
    }));

  it('applies the rule to the gradient arriving through a conv2d', () =>
    withBackend(backend, () => {
      const w = tf.tensor4d([0.2, -0.4, 0.01, -0.02, 0.8, -0.03, 0.5, -0.6], [1, 2, 2, 2]);
      const x = tf.tensor4d([1, -2, 3, 0.5, -1, 2, 0.25, 4, -3, 1, 2, -1], [1, 3, 2, 2]);
      const out = (k: tf.Tensor) =>
        tf.sum(tf.mul(tf.conv2d(x, k as tf.Tensor4D, 1, 'valid'), tf.tensor1d([1, -2])));
      // g = dL/dQ from tfjs's own conv2d gradient at the fixed Q = [2, -3, 0, 0, 2, 0, 2, -3]
      const q = tf.tensor4d([2, -3, 0, 0, 2, 0, 2, -3], [1, 2, 2, 2]);
      const g = Array.from(tf.grad(out)(q).dataSync());
      // formula: scale = [Wp, Wn, 1, 1, Wp, 1, Wp, Wn] with Wp = 2, Wn = 3
      const scale = [2, 3, 1, 1, 2, 1, 2, 3];
      const [dw, dwp, dwn] = tf.grads((k: tf.Tensor, p: tf.Tensor, n: tf.Tensor) =>
        out(ttqQuantize(k, p, n)),
      )([w, tf.scalar(2), tf.scalar(3)]);
      expectClose(
        dw!,
        g.map((v, i) => v * scale[i]!),
        1e-6,
      );
      expectClose(dwp!, [g[0]! + g[4]! + g[6]!], 1e-6);
      expectClose(dwn!, [-(g[1]! + g[7]!)], 1e-6);
    }));

  // Why TTQ's scales barely move when a BatchNorm follows the conv (ResNet-20): the
  // normalized output is unchanged when Wp and Wn are scaled together, so
  // ⟨Q, dL/dQ⟩ = Wp·dL/dWp + Wn·dL/dWn = 0: only their ratio gets a gradient.
  it('followed by batch normalization, the scales get no gradient along (Wp, Wn): Wp·dL/dWp + Wn·dL/dWn = 0', () =>
    withBackend(backend, () => {
      const rand = seededRandom(7);
      const w = tf.tensor4d(
        Array.from({ length: 3 * 3 * 2 * 4 }, () => rand() - 0.5),
        [3, 3, 2, 4],
      );
      const x = tf.tensor4d(
        Array.from({ length: 4 * 5 * 5 * 2 }, () => rand() * 2 - 1),
        [4, 5, 5, 2],
      );
      const head = tf.tensor4d(
        Array.from({ length: 4 * 3 * 3 * 4 }, () => rand() * 2 - 1),
        [4, 3, 3, 4],
      );
      const loss = (k: tf.Tensor, p: tf.Tensor, n: tf.Tensor) => {
        const y = tf.conv2d(x, ttqQuantize(k, p, n, { threshold: 0.3 }) as tf.Tensor4D, 1, 'valid');
        const { mean, variance } = tf.moments(y, [0, 1, 2]);
        return tf.sum(
          tf.mul(tf.square(tf.div(tf.sub(y, mean), tf.sqrt(tf.add(variance, 1e-12)))), head),
        );
      };
      const [wp, wn] = [1.3, 0.6];
      const [, dwp, dwn] = tf.grads(loss)([w, tf.scalar(wp), tf.scalar(wn)]);
      const gp = dwp!.dataSync()[0]!;
      const gn = dwn!.dataSync()[0]!;
      // each alone is far from 0, the combination vanishes (to float32 rounding)
      expect(Math.abs(gp)).toBeGreaterThan(1e-2);
      expect(Math.abs(gn)).toBeGreaterThan(1e-2);
      expect(Math.abs(wp * gp + wn * gn)).toBeLessThan(1e-4 * Math.abs(wp * gp));
    }));

  it('uses the same Δ in the backward pass as in the forward (threshold option)', () =>
    withBackend(backend, () => {
      // t = 0.35: codes [-, 0, 0, 0, 0, +]; 0.3 is now in the band and gets g, not Wp·g
      // G = [0.5, -1, 2, 3, -0.25, 4]: dL/dW = [0.25, -1, 2, 3, -0.25, 6]
      // dL/dWp = 4, dL/dWn = -0.5
      const g = tf.tensor1d([0.5, -1, 2, 3, -0.25, 4]);
      const { dw, dwp, dwn } = ttqGrads(tf.tensor1d(W6), 1.5, 0.5, g, 0.35);
      expectClose(dw, [0.25, -1, 2, 3, -0.25, 6], 1e-6);
      expectClose(dwp, [4], 1e-6);
      expectClose(dwn, [-0.5], 1e-6);
    }));

  it('gradient shapes of Wp, Wn follow their own shapes ([1] stays [1])', () =>
    withBackend(backend, () => {
      const g = tf.tensor1d([0.5, -1, 2, 3, -0.25, 4]);
      const [, dwp, dwn] = tf.grads((x: tf.Tensor, p: tf.Tensor, n: tf.Tensor) =>
        weightedSum(g)(ttqQuantize(x, p, n)),
      )([tf.tensor1d(W6), tf.tensor1d([1.5]), tf.tensor1d([0.5])]);
      expect(dwp!.shape).toEqual([1]);
      expect(dwn!.shape).toEqual([1]);
      expectClose(dwp!, [3.75], 1e-6);
      expectClose(dwn!, [-0.5], 1e-6);
    }));
});

describe.each(backends)('ttqQuantize edge cases on %s', (backend) => {
  it('all-zero kernel: max|W| = 0, Δ = 0, Q = 0, finite gradients', () =>
    withBackend(backend, () => {
      const w = tf.zeros([2, 3]);
      expectClose(ttqThreshold(w), [0], 1e-6);
      const q = ttqQuantize(w, tf.scalar(1.5), tf.scalar(0.5));
      expectClose(q, [0, 0, 0, 0, 0, 0], 1e-6);
      // every weight is in the band (|0| <= 0): dL/dW = g, nothing reaches Wp, Wn
      const g = tf.tensor2d([
        [1, -2, 3],
        [-4, 5, -6],
      ]);
      const { dw, dwp, dwn } = ttqGrads(w, 1.5, 0.5, g);
      expectClose(dw, [1, -2, 3, -4, 5, -6], 1e-6);
      expectClose(dwp, [0], 1e-6);
      expectClose(dwn, [0], 1e-6);
      for (const t of [dw, dwp, dwn])
        expect(Array.from(t.dataSync()).every(Number.isFinite)).toBe(true);
    }));

  it('one huge outlier pushes every other weight into the zero band', () =>
    withBackend(backend, () => {
      // max|W| = 1000, Δ = 50: only 1000 (> 50), 50.1 (> 50) and -60 (< -50) are kept
      const w = tf.tensor1d([1000, 0.9, -0.9, 0.3, -49.9, 50.1, -60]);
      const q = ttqQuantize(w, tf.scalar(1.5), tf.scalar(0.5));
      expectClose(q, [1.5, 0, 0, 0, 0, 1.5, -0.5], 1e-6);
      // G = [1, 2, 3, 4, 5, 6, 7]: dL/dW = [1.5·1, 2, 3, 4, 5, 1.5·6, 0.5·7]
      // dL/dWp = 1 + 6 = 7, dL/dWn = -7
      const g = tf.tensor1d([1, 2, 3, 4, 5, 6, 7]);
      const { dw, dwp, dwn } = ttqGrads(w, 1.5, 0.5, g);
      expectClose(dw, [1.5, 2, 3, 4, 5, 9, 3.5], 1e-6);
      expectClose(dwp, [7], 1e-6);
      expectClose(dwn, [-7], 1e-6);
    }));

  it('weights all of the same magnitude are all kept (the largest is never in the band)', () =>
    withBackend(backend, () => {
      // max|W| = 0.3, Δ = 0.015: every ±0.3 is kept
      const q = ttqQuantize(tf.tensor1d([0.3, -0.3, 0.3, -0.3]), tf.scalar(2), tf.scalar(1));
      expectClose(q, [2, -1, 2, -1], 1e-6);
    }));

  it('only the largest weight is kept when the others are inside the band', () =>
    withBackend(backend, () => {
      // max|W| = 1, t = 0.9 -> Δ = 0.9: 0.89, -0.5, -0.9 are in the band (|W| <= 0.9)
      const w = tf.tensor1d([0.89, -0.5, -1, -0.9]);
      expectClose(
        ttqQuantize(w, tf.scalar(2), tf.scalar(3), { threshold: 0.9 }),
        [0, 0, -3, 0],
        1e-6,
      );
    }));

  it('rejects NaN and ±Infinity in the kernel with a clear error', () =>
    withBackend(backend, () => {
      const p = tf.scalar(1);
      expect(() => ttqQuantize(tf.tensor1d([0.1, Number.NaN, 0.3]), p, p)).toThrow(
        /ttq: the kernel \(shape \[3\]\) contains NaN at flat index 1/,
      );
      expect(() => ttqQuantize(tf.tensor2d([[0.1, Number.POSITIVE_INFINITY]]), p, p)).toThrow(
        /ttq: the kernel \(shape \[1, 2\]\) contains Infinity at flat index 1/,
      );
      expect(() => ttqQuantize(tf.tensor1d([Number.NEGATIVE_INFINITY]), p, p)).toThrow(
        /contains -Infinity/,
      );
      expect(() => ttqCodes(tf.tensor1d([Number.NaN]))).toThrow(/ttq: the kernel/);
    }));

  it('rejects NaN/Inf in Wp or Wn with a clear error', () =>
    withBackend(backend, () => {
      const w = tf.tensor1d(W6);
      expect(() => ttqQuantize(w, tf.scalar(Number.NaN), tf.scalar(1))).toThrow(
        'ttq: Wp is NaN; training has diverged or the parameter is corrupt',
      );
      expect(() => ttqQuantize(w, tf.scalar(1), tf.scalar(Number.POSITIVE_INFINITY))).toThrow(
        'ttq: Wn is Infinity',
      );
    }));

  it('rejects non-scalar Wp, Wn', () =>
    withBackend(backend, () => {
      const w = tf.tensor1d(W6);
      expect(() => ttqQuantize(w, tf.tensor1d([1, 2]), tf.scalar(1))).toThrow(
        'ttq: Wp must be a scalar (one value per layer), got shape [2]',
      );
      expect(() => ttqQuantize(w, tf.scalar(1), tf.zeros([2, 2]))).toThrow(
        'ttq: Wn must be a scalar (one value per layer), got shape [2, 2]',
      );
    }));
});

describe('ttqQuantize options', () => {
  const w = tf.tensor1d(W6);
  const p = tf.scalar(1);

  it.each([0, 1, -0.1, 1.5])('rejects threshold %s (must be in (0, 1))', (t) => {
    expect(() => ttqQuantize(w, p, p, { threshold: t })).toThrow(/ttq: option "threshold" must be/);
    expect(() => ttqQuantize(w, p, p, { threshold: t })).toThrow(`got ${t}`);
  });

  it('names the bound that was broken', () => {
    expect(() => ttqQuantize(w, p, p, { threshold: 0 })).toThrow(
      'ttq: option "threshold" must be > 0, got 0',
    );
    expect(() => ttqQuantize(w, p, p, { threshold: 1 })).toThrow(
      'ttq: option "threshold" must be < 1, got 1',
    );
    expect(() => ttqQuantize(w, p, p, { threshold: Number.NaN })).toThrow(
      'ttq: option "threshold" must be a finite number, got NaN',
    );
    expect(() => ttqThreshold(w, 2)).toThrow('ttq: option "threshold" must be < 1, got 2');
    expect(() => ttqCodes(w, -1)).toThrow('ttq: option "threshold" must be > 0, got -1');
  });

  it('rejects a non-number threshold and unknown options', () => {
    expect(() => ttqQuantize(w, p, p, { threshold: '0.1' as unknown as number })).toThrow(
      'ttq: option "threshold" must be a number, got "0.1"',
    );
    expect(() => ttqQuantize(w, p, p, { delta: 0.1 } as never)).toThrow(
      'ttq: unknown option "delta"; valid options: threshold',
    );
  });
});

/** A deterministic pseudo-random kernel in [-0.2, 0.2) (same numbers on every backend). */
function randomKernel(n: number, seed: number): number[] {
  const next = seededRandom(seed);
  return Array.from({ length: n }, () => (next() - 0.5) * 0.4);
}

describe('native vs cpu parity', () => {
  it.runIf(backends.length > 1)(
    'gives identical forward values and gradients on both backends',
    async () => {
      const wv = randomKernel(3 * 3 * 4 * 8, 42);
      const gv = randomKernel(3 * 3 * 4 * 8, 7);
      const run = () => {
        const w = tf.tensor4d(wv, [3, 3, 4, 8]);
        const g = tf.tensor4d(gv, [3, 3, 4, 8]);
        const q = ttqQuantize(w, tf.scalar(0.7), tf.scalar(1.3));
        const { dw, dwp, dwn } = ttqGrads(w, 0.7, 1.3, g);
        return [q, dw, dwp, dwn].map((t) => Array.from(t.dataSync()));
      };
      const native = await withBackend('tensorflow', run);
      const cpu = await withBackend('cpu', run);
      for (let i = 0; i < native.length; i++) {
        expect(maxAbsDiff(native[i]!, cpu[i]!)).toBeLessThan(1e-5);
      }
      // and the kernel really has all three codes
      expect(new Set(native[0]!)).toEqual(new Set([Math.fround(0.7), 0, -Math.fround(1.3)]));
    },
  );
});

/** The float32 number just above `x` (x > 0). */
function nextUp(x: number): number {
  const f = new Float32Array([x]);
  const i = new Int32Array(f.buffer);
  i[0]! += 1;
  return f[0]!;
}

describe.each(backends)('exactness and cost on %s', (backend) => {
  it('Q and all three gradients are bit-identical to the plain masked formulas', () =>
    withBackend(backend, () => {
      for (const t of [0.05, 0.3]) {
        const w = tf.tensor4d(randomKernel(3 * 3 * 4 * 8, 17), [3, 3, 4, 8]);
        const g = tf.tensor4d(randomKernel(3 * 3 * 4 * 8, 23), [3, 3, 4, 8]);
        const [wp, wn] = [0.7123, 1.3456];
        // Reference, written out from docs/algorithms.md#ttq with Δ computed on the device:
        // pos = 1[W > Δ], neg = 1[W < −Δ], Q = Wp·pos − Wn·neg,
        // dL/dW = G·(Wp·pos + (1 − pos − neg) + Wn·neg), dL/dWp = Σ G·pos, dL/dWn = −Σ G·neg.
        const delta = tf.mul(tf.max(tf.abs(w)), t);
        const pos = tf.cast(tf.greater(w, delta), 'float32');
        const neg = tf.cast(tf.less(w, tf.neg(delta)), 'float32');
        const qRef = tf.sub(tf.mul(pos, wp), tf.mul(neg, wn));
        const band = tf.sub(tf.sub(1, pos), neg);
        const dwRef = tf.mul(g, tf.add(tf.add(tf.mul(pos, wp), band), tf.mul(neg, wn)));
        const dwpRef = tf.sum(tf.mul(g, pos)).dataSync()[0]!;
        const dwnRef = -tf.sum(tf.mul(g, neg)).dataSync()[0]!;
        const { dw, dwp, dwn } = ttqGrads(w, wp, wn, g, t);
        expect(
          maxAbsDiff(
            ttqQuantize(w, tf.scalar(wp), tf.scalar(wn), { threshold: t }).dataSync(),
            qRef.dataSync(),
          ),
        ).toBe(0);
        expect(maxAbsDiff(dw.dataSync(), dwRef.dataSync())).toBe(0);
        expect(dwp.dataSync()[0]).toBe(dwpRef);
        expect(dwn.dataSync()[0]).toBe(dwnRef);
        // all three codes occur
        expect(pos.sum().dataSync()[0]).toBeGreaterThan(0);
        expect(neg.sum().dataSync()[0]).toBeGreaterThan(0);
        expect(band.sum().dataSync()[0]).toBeGreaterThan(0);
      }
    }));

  it('uses exactly the float32 Δ = t·max|W| of the device: ±Δ is in the band, the next float is not', () =>
    withBackend(backend, () => {
      for (const t of [0.05, 0.1, 0.37]) {
        // max|W| = 0.7377 (not a round number), so t·max|W| is rounded
        const base = [0.7377, 0.1, -0.1, 0.2, -0.2, 0.01];
        const delta = ttqThreshold(tf.tensor1d(base), t).dataSync()[0]!;
        const up = nextUp(delta);
        // W = [max, Δ, −Δ, next float above Δ, −(next float above Δ), 0]
        const w = tf.tensor1d([0.7377, delta, -delta, up, -up, 0]);
        expect(ttqThreshold(w, t).dataSync()[0]).toBe(delta); // same max|W|, same Δ
        // Wp = 2, Wn = 3: Q = [2, 0, 0, 2, −3, 0]
        expectClose(
          ttqQuantize(w, tf.scalar(2), tf.scalar(3), { threshold: t }),
          [2, 0, 0, 2, -3, 0],
          1e-6,
        );
      }
    }));

  it('a finite kernel whose Σ|W| overflows float32 is not mistaken for Inf', () =>
    withBackend(backend, () => {
      // max|W| = 3e38, Δ = 0.05·3e38 = 1.5e37: the two 3e38 and -2e38 are kept, 1 and 0.5 are not
      const w = tf.tensor1d([3e38, 3e38, -2e38, 1, 0.5]);
      expectClose(ttqQuantize(w, tf.scalar(2), tf.scalar(3)), [2, 2, -3, 0, 0], 1e-6);
    }));

  it('one training call (forward + backward) launches 25 kernels (12 in inference) and reads the host once per call', () =>
    withBackend(backend, async () => {
      const w = tf.tensor4d(randomKernel(3 * 3 * 4 * 8, 31), [3, 3, 4, 8]);
      const g = tf.tensor4d(randomKernel(3 * 3 * 4 * 8, 37), [3, 3, 4, 8]);
      const wp = tf.scalar(0.8);
      const wn = tf.scalar(1.2);
      const backendImpl = tf.engine().backend;
      const readSync = backendImpl.readSync.bind(backendImpl);
      let reads = 0;
      backendImpl.readSync = (dataId: object) => {
        reads++;
        return readSync(dataId);
      };
      try {
        // L = Σ Q ⊙ G adds a Mul and a Sum; tf.grads adds the Mul/Sum gradients and a OnesLike.
        const f = (x: tf.Tensor, p: tf.Tensor, n: tf.Tensor) =>
          weightedSum(g)(ttqQuantize(x, p, n));
        // tf.profile returns the same (reused) object every time: take the count at once.
        const withTTQ = (await tf.profile(() => tf.grads(f)([w, wp, wn]))).kernels.length;
        const lossOnly = (
          await tf.profile(() => tf.grads((x: tf.Tensor) => weightedSum(g)(x))([w]))
        ).kernels.length;
        // forward: abs, max, sum, stack (the one read); greater, cast, less, cast (masks);
        // mul, mul, sub (Q); lessEqual, cast, add, add (the dL/dW scale); the custom op and
        // the copies of its 3 saved tensors; backward: mul (dL/dW), mul, sum, mul, sum, neg
        expect(withTTQ - lossOnly).toBe(25);
        // Outside a gradient computation (inference) the dL/dW scale is not formed:
        // abs, max, sum, stack, greater, cast, less, cast, mul, mul, sub and the custom op.
        const inference = (await tf.profile(() => ttqQuantize(w, wp, wn))).kernels.length;
        expect(inference).toBe(12);
        expect(reads).toBe(2);
      } finally {
        backendImpl.readSync = readSync;
      }
    }));
});

describe.each(backends)('tensor leaks on %s', (backend) => {
  it('forward + backward leave no tensors behind', () =>
    withBackend(backend, () => {
      const w = tf.tensor2d(randomKernel(24, 3), [4, 6]);
      const g = tf.tensor2d(randomKernel(24, 9), [4, 6]);
      const wp = tf.scalar(1.1);
      const wn = tf.scalar(0.9);
      const f = (x: tf.Tensor, p: tf.Tensor, n: tf.Tensor) => weightedSum(g)(ttqQuantize(x, p, n));
      expect(
        tensorGrowth(() => {
          tf.dispose(tf.grads(f)([w, wp, wn]));
        }),
      ).toBe(0);
      expect(
        tensorGrowth(() => {
          ttqQuantize(w, wp, wn).dispose();
        }),
      ).toBe(0);
    }));

  it('an optimizer step on variables leaves no tensors behind', () =>
    withBackend(backend, () => {
      const w = tf.variable(tf.tensor2d(randomKernel(24, 5), [4, 6]));
      const wp = tf.variable(tf.scalar(1));
      const wn = tf.variable(tf.scalar(1));
      const target = tf.tensor2d(randomKernel(24, 11), [4, 6]);
      const opt = tf.train.sgd(0.01);
      expect(
        tensorGrowth(() => {
          opt.minimize(
            () => tf.mean(tf.square(tf.sub(ttqQuantize(w, wp, wn), target))) as tf.Scalar,
            false,
            [w, wp, wn],
          );
        }),
      ).toBe(0);
      tf.dispose([w, wp, wn, target]);
      opt.dispose();
    }));
});

describe.each(backends)('learning on %s', (backend) => {
  it('SGD moves Wp and Wn the way the gradient formula predicts', () =>
    withBackend(backend, () => {
      // Toy regression y = X·Q with a 3x1 kernel. Latent W = [0.8, -0.6, 0.7]:
      // max|W| = 0.8, Δ = 0.04, codes [+, -, +]. Start Wp = Wn = 1 -> Q = [1, -1, 1].
      // Target kernel Q* = [2, -0.5, 2], i.e. Wp* = 2, Wn* = 0.5, same codes.
      const X = [
        [1, 0, 2],
        [0, 1, 1],
        [1, 1, 0],
        [2, 1, 1],
      ];
      const x = tf.tensor2d(X);
      const y = tf.matMul(x, tf.tensor2d([[2], [-0.5], [2]]));
      const w = tf.variable(tf.tensor2d([[0.8], [-0.6], [0.7]]));
      const wp = tf.variable(tf.scalar(1));
      const wn = tf.variable(tf.scalar(1));
      const loss = () =>
        tf.mean(tf.square(tf.sub(tf.matMul(x, ttqQuantize(w, wp, wn)), y))) as tf.Scalar;
      const lr = 0.01;
      const opt = tf.train.sgd(lr);

      // Step 1 by hand. Residual r = X·(Q - Q*) = X·[-1, -0.5, -1] = [-3, -1.5, -1.5, -3.5].
      // g = dL/dQ = (2/4)·Xᵀr = 0.5·[-11.5, -6.5, -11] = [-5.75, -3.25, -5.5]
      // dL/dWp = g0 + g2 = -11.25 -> Wp = 1 + 0.01·11.25 = 1.1125 (up, toward 2)
      // dL/dWn = -g1 = +3.25      -> Wn = 1 - 0.01·3.25 = 0.9675 (down, toward 0.5)
      // dL/dW = [Wp·g0, Wn·g1, Wp·g2] = [-5.75, -3.25, -5.5]
      //   -> W = [0.8575, -0.5675, 0.755]
      const loss0 = loss().dataSync()[0]!;
      // L0 = mean(r²) = (9 + 2.25 + 2.25 + 12.25) / 4 = 6.4375
      expect(loss0).toBeCloseTo(6.4375, 5);
      opt.minimize(loss, false, [w, wp, wn]);
      expectClose(wp, [1.1125], 1e-6);
      expectClose(wn, [0.9675], 1e-6);
      expectClose(w, [0.8575, -0.5675, 0.755], 1e-6);

      // More steps keep moving both scalars toward the target and the loss down.
      let previous = loss().dataSync()[0]!;
      let [lastWp, lastWn] = [1.1125, 0.9675];
      for (let step = 0; step < 30; step++) {
        opt.minimize(loss, false, [w, wp, wn]);
        const l = loss().dataSync()[0]!;
        const [p, n] = [wp.dataSync()[0]!, wn.dataSync()[0]!];
        expect(l).toBeLessThan(previous);
        expect(p).toBeGreaterThan(lastWp);
        expect(n).toBeLessThan(lastWn);
        [previous, lastWp, lastWn] = [l, p, n];
      }
      // 31 steps: the loss drops by more than 100x (6.4375 -> about 0.018)
      expect(previous).toBeLessThan(loss0 / 100);
      // the codes never changed: the moves came from Wp, Wn, not from re-assignment
      expectClose(ttqCodes(w), [1, -1, 1], 1e-6);
      tf.dispose([w, wp, wn]);
      opt.dispose();
    }));
});

describe.each(backends)('kernels at the edges of float32, on %s', (backend) => {
  // Every weight is finite, but Σ|W| = 9e38 is not.
  const HUGE = [3e38, -3e38, 2e38, -1e38, 1, 0];

  it("init 'mean' of a kernel near float32 max gets the true means, not Infinity", () =>
    withBackend(backend, () => {
      // Δ = 0.05 · 3e38 = 1.5e37; W > Δ: 3e38, 2e38 -> Wp = 2.5e38; W < −Δ: −3e38, −1e38 -> Wn = 2e38
      const { wp, wn } = ttqInitScales(tf.tensor1d(HUGE), 'mean');
      expect(Math.abs(wp / 2.5e38 - 1)).toBeLessThan(1e-6);
      expect(Math.abs(wn / 2e38 - 1)).toBeLessThan(1e-6);
      // The forward with those scales is finite: Q = [Wp, −Wn, Wp, −Wn, 0, 0].
      const q = ttqQuantize(tf.tensor1d(HUGE), tf.scalar(wp), tf.scalar(wn)).dataSync();
      expect(Array.from(q)).toEqual([wp, -wn, wp, -wn, 0, 0].map(Math.fround));
    }));

  it('a kernel that is not float32 is a clear error from every entry point', () =>
    withBackend(backend, () => {
      const w = tf.tensor1d([1, -2, 3], 'int32');
      const message =
        "ttq: the kernel must be a float32 tensor, got int32 (shape [3]); cast it first: tf.cast(kernel, 'float32')";
      expect(() => ttqQuantize(w, tf.scalar(1), tf.scalar(1))).toThrow(message);
      expect(() => ttqCodes(w)).toThrow(message);
      expect(() => ttqThreshold(w)).toThrow(message);
      expect(() => ttqInitScales(w, 'mean')).toThrow(message);
    }));
});
