import * as tf from '@tensorflow/tfjs';
import { maxAbsDiff, tensorGrowth, testBackends, withBackend } from '@trit/quant-core/testing';
import { describe, expect, it } from 'vitest';
import { TWN_PRESETS, type TWNOptions, twnQuantize, twnTernarize } from '../src/index.js';
import { expectClose, pseudoNormal, rel } from './helpers.js';

const backends = await testBackends();

/** dL/dW for L = sum(Q ⊙ G): with the identity STE this must be exactly G. */
function gradOf(w: tf.Tensor, upstream: tf.Tensor, options?: TWNOptions): tf.Tensor {
  return tf.grad((x: tf.Tensor) => tf.sum(tf.mul(twnQuantize(x, options), upstream)))(w);
}

// Hand-made kernels (the arithmetic is in the tests that use them).
const A = [-0.9, -0.05, 0, 0.04, 0.3, 1.0];
// [in = 3, out = 2]: column 0 = [0.6, -0.1, 0.2], column 1 = [-2, 1, 0.5].
const C = [
  [0.6, -2],
  [-0.1, 1],
  [0.2, 0.5],
];
// Conv [kh = 1, kw = 2, cin = 2, cout = 2], row-major; output channel = flat index % 2:
// channel 0 = [1, -1, 0.1, 0.2], channel 1 = [0.3, 0.3, -0.3, 0.01].
const E = [1, 0.3, -1, 0.3, 0.1, -0.3, 0.2, 0.01];
const E_SHAPE: [number, number, number, number] = [1, 2, 2, 2];

describe.each(backends)('twnQuantize on the %s backend', (backend) => {
  const run = (fn: () => void) => () => withBackend(backend, () => tf.tidy(fn));

  describe('forward, per layer (δ = 0.7)', () => {
    it(
      'ternarizes [-0.9, -0.05, 0, 0.04, 0.3, 1.0] to α·T with α = 2.2/3',
      run(() => {
        // |W| = [0.9, 0.05, 0, 0.04, 0.3, 1.0]; sum = 2.29; mean|W| = 2.29 / 6 = 0.38166667
        // Δ = 0.7 · 0.38166667 = 0.26716667
        // |W| > Δ: 0.9, 0.3, 1.0 (0.05, 0.04 and 0 are inside the band) -> T = [-1, 0, 0, 0, 1, 1]
        // α = (0.9 + 0.3 + 1.0) / 3 = 2.2 / 3 = 0.73333333
        const q = twnQuantize(tf.tensor1d(A));
        expectClose(q, [-0.73333333, 0, 0, 0, 0.73333333, 0.73333333], rel(1e-6));
        expect(q.shape).toEqual([6]);
        expect(q.dtype).toBe('float32');
      }),
    );

    it(
      'deltaFactor moves the threshold: δ = 2 keeps only 0.9 and 1.0',
      run(() => {
        // Δ = 2 · 0.38166667 = 0.76333333 -> kept: 0.9, 1.0 -> α = 1.9 / 2 = 0.95
        expectClose(
          twnQuantize(tf.tensor1d(A), { deltaFactor: 2 }),
          [-0.95, 0, 0, 0, 0, 0.95],
          rel(1e-6),
        );
      }),
    );

    it(
      'δ = 0.7 and δ = 0.75 differ on a weight between 0.7·mean|W| and 0.75·mean|W|',
      run(() => {
        // W = [1, -0.29, 0.11, 0.2]; sum|W| = 1.6; mean|W| = 0.4
        // δ = 0.7:  Δ = 0.28 -> kept 1, 0.29 -> α = 1.29 / 2 = 0.645
        // δ = 0.75: Δ = 0.30 -> kept 1       -> α = 1
        const w = tf.tensor1d([1, -0.29, 0.11, 0.2]);
        expectClose(twnQuantize(w), [0.645, -0.645, 0, 0], rel(1e-6));
        expectClose(twnQuantize(w, { deltaFactor: 0.75 }), [1, 0, 0, 0], rel(1e-6));
      }),
    );

    it(
      'uses one Δ and one α for a whole dense kernel',
      run(() => {
        // sum|W| = 0.6 + 0.1 + 0.2 + 2 + 1 + 0.5 = 4.4; mean|W| = 0.73333333; Δ = 0.51333333
        // kept: 0.6, -2, 1 (0.5 < 0.5133) -> α = 3.6 / 3 = 1.2
        const q = twnQuantize(tf.tensor2d(C));
        expect(q.shape).toEqual([3, 2]);
        expectClose(q, [1.2, -1.2, 0, 1.2, 0, 0], rel(1e-6));
      }),
    );

    it(
      'uses one Δ and one α for a whole conv kernel',
      run(() => {
        // sum|W| = (1 + 1 + 0.1 + 0.2) + (0.3 + 0.3 + 0.3 + 0.01) = 2.3 + 0.91 = 3.21
        // mean|W| = 3.21 / 8 = 0.40125; Δ = 0.280875
        // kept: 1, -1, 0.3, 0.3, -0.3 (0.2, 0.1, 0.01 inside) -> α = 2.9 / 5 = 0.58
        const q = twnQuantize(tf.tensor4d(E, E_SHAPE));
        expect(q.shape).toEqual(E_SHAPE);
        expectClose(q, [0.58, 0.58, -0.58, 0.58, 0, -0.58, 0, 0], rel(1e-6));
      }),
    );
  });

  describe('forward, per output channel (last axis)', () => {
    it(
      'dense [3, 2]: one Δ and α per column',
      run(() => {
        // column 0 = [0.6, -0.1, 0.2]: mean|W| = 0.9 / 3 = 0.3, Δ = 0.21 -> kept 0.6 -> α0 = 0.6
        // column 1 = [-2, 1, 0.5]: mean|W| = 3.5 / 3 = 1.16666667, Δ = 0.81666667
        //            -> kept -2, 1 -> α1 = 3 / 2 = 1.5
        const q = twnQuantize(tf.tensor2d(C), { perChannel: true });
        expectClose(q, [0.6, -1.5, 0, 1.5, 0, 0], rel(1e-6));
      }),
    );

    it(
      'conv [1, 2, 2, 2]: one Δ and α per output channel',
      run(() => {
        // channel 0 = [1, -1, 0.1, 0.2]: mean|W| = 2.3 / 4 = 0.575, Δ = 0.4025 -> kept ±1 -> α0 = 1
        // channel 1 = [0.3, 0.3, -0.3, 0.01]: mean|W| = 0.91 / 4 = 0.2275, Δ = 0.15925
        //             -> kept 0.3, 0.3, -0.3 -> α1 = 0.3
        // flat (channel = index % 2): [1, 0.3, -1, 0.3, 0, -0.3, 0, 0]
        const q = twnQuantize(tf.tensor4d(E, E_SHAPE), { perChannel: true });
        expect(q.shape).toEqual(E_SHAPE);
        expectClose(q, [1, 0.3, -1, 0.3, 0, -0.3, 0, 0], rel(1e-6));
      }),
    );

    it(
      'presets: paper2016 (δ = 0.7 per layer) vs revision2022 (δ = 0.75 per channel)',
      run(() => {
        // D [4, 2]: column 0 = [1, -0.29, 0.11, 0.2], column 1 = [0.1, -0.1, 0.1, -0.1]
        const d = tf.tensor2d([
          [1, 0.1],
          [-0.29, -0.1],
          [0.11, 0.1],
          [0.2, -0.1],
        ]);
        // revision2022: column 0: mean|W| = 1.6 / 4 = 0.4, Δ = 0.3 -> kept 1 -> α0 = 1
        //               column 1: mean|W| = 0.1, Δ = 0.075 -> all kept -> α1 = 0.1
        expectClose(
          twnQuantize(d, TWN_PRESETS.revision2022),
          [1, 0.1, 0, -0.1, 0, 0.1, 0, -0.1],
          rel(1e-6),
        );
        // δ = 0.7 per channel: column 0: Δ = 0.28 -> kept 1, -0.29 -> α0 = 0.645; column 1 as above
        expectClose(
          twnQuantize(d, { perChannel: true }),
          [0.645, 0.1, -0.645, -0.1, 0, 0.1, 0, -0.1],
          rel(1e-6),
        );
        // paper2016: sum|W| = 1.6 + 0.4 = 2; mean|W| = 0.25; Δ = 0.175
        //            kept 1, -0.29, 0.2 (0.11 and every ±0.1 inside) -> α = 1.49 / 3 = 0.49666667
        const a = 0.49666667;
        expectClose(twnQuantize(d, TWN_PRESETS.paper2016), [a, 0, -a, 0, 0, 0, a, 0], rel(1e-6));
        expectClose(twnQuantize(d), [a, 0, -a, 0, 0, 0, a, 0], rel(1e-6));
      }),
    );
  });

  describe('backward: dL/dW = g (identity STE), Δ and α stop-gradient', () => {
    it(
      'per layer: the gradient is the non-uniform upstream gradient, also where Q = 0',
      run(() => {
        // L = Σ Q ⊙ G -> dL/dQ = G -> dL/dW = G, including the three weights inside the band
        const g = gradOf(tf.tensor1d(A), tf.tensor1d([0.5, -1, 2, 3, -0.25, 4]));
        expectClose(g, [0.5, -1, 2, 3, -0.25, 4], rel(0));
      }),
    );

    it(
      'per channel, dense and conv',
      run(() => {
        const gDense = gradOf(
          tf.tensor2d(C),
          tf.tensor2d([
            [1, -2],
            [3, 0.5],
            [-4, 7],
          ]),
          { perChannel: true },
        );
        expectClose(gDense, [1, -2, 3, 0.5, -4, 7], rel(0));
        const upstream = tf.tensor4d([0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8], E_SHAPE);
        expectClose(
          gradOf(tf.tensor4d(E, E_SHAPE), upstream, { perChannel: true }),
          [0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8],
          rel(0),
        );
      }),
    );

    it(
      'flows through a matMul: L = Σ X·Q with X = [[1, 2, 3]] gives dL/dW[i][j] = X[0][i]',
      run(() => {
        // dL/dQ[i][j] = Σ_rows X[r][i] = X[0][i] -> [[1, 1], [2, 2], [3, 3]]
        const x = tf.tensor2d([[1, 2, 3]]);
        const g = tf.grad((w: tf.Tensor) => tf.sum(tf.matMul(x, twnQuantize(w) as tf.Tensor2D)))(
          tf.tensor2d(C),
        );
        expectClose(g, [1, 1, 2, 2, 3, 3], rel(0));
      }),
    );

    it(
      'reaches a tf.Variable through variableGrads',
      run(() => {
        const v = tf.variable(tf.tensor1d(A));
        const upstream = tf.tensor1d([6, 5, 4, 3, 2, 1]);
        const { grads, value } = tf.variableGrads(
          () => tf.sum(tf.mul(twnQuantize(v), upstream)) as tf.Scalar,
          [v],
        );
        // value = Σ Q ⊙ G = 0.73333333 · (−6 + 2 + 1) = −2.2
        expectClose(value, [-2.2], rel(1e-6));
        expectClose(grads[v.name]!, [6, 5, 4, 3, 2, 1], rel(0));
        v.dispose();
      }),
    );
  });

  describe('edge cases', () => {
    it(
      'all-zero kernel: Q = 0, α = 0, finite gradient (per layer and per channel)',
      run(() => {
        const w = tf.zeros([2, 3]);
        const upstream = tf.tensor2d([
          [1, 2, 3],
          [4, 5, 6],
        ]);
        for (const perChannel of [false, true]) {
          const q = twnQuantize(w, { perChannel });
          // mean|W| = 0 -> Δ = 0; no |W| > 0 -> the kept set is empty -> α = 0, Q = 0
          expectClose(q, [0, 0, 0, 0, 0, 0], rel(0));
          const t = twnTernarize(w, { perChannel });
          expectClose(t.alpha, perChannel ? [0, 0, 0] : [0], rel(0));
          expectClose(gradOf(w, upstream, { perChannel }), [1, 2, 3, 4, 5, 6], rel(0));
        }
      }),
    );

    it(
      'an all-zero output channel gets α = 0 while the others are unaffected',
      run(() => {
        // column 0 = 0 -> α0 = 0; column 1 = [1, -2, 0.5]: mean|W| = 3.5 / 3, Δ = 0.81666667
        // -> kept 1, -2 -> α1 = 1.5
        const w = tf.tensor2d([
          [0, 1],
          [0, -2],
          [0, 0.5],
        ]);
        expectClose(twnQuantize(w, { perChannel: true }), [0, 1.5, 0, -1.5, 0, 0], rel(1e-6));
      }),
    );

    it(
      'equal magnitudes: every weight kept at δ = 0.7; none at δ = 1 (strict >) or δ = 5',
      run(() => {
        // |W| = 0.5 everywhere: mean|W| = 0.5
        const w = tf.tensor1d([0.5, -0.5, 0.5, -0.5]);
        // δ = 0.7: Δ = 0.35 < 0.5 -> all kept, α = 0.5 -> Q = W
        expectClose(twnQuantize(w), [0.5, -0.5, 0.5, -0.5], rel(1e-6));
        // δ = 1: Δ = 0.5 and 0.5 > 0.5 is false -> empty kept set -> α = 0, Q = 0 (no NaN)
        expectClose(twnQuantize(w, { deltaFactor: 1 }), [0, 0, 0, 0], rel(0));
        // δ = 5: Δ = 2.5 -> every weight inside the band -> Q = 0 (no NaN)
        expectClose(twnQuantize(w, { deltaFactor: 5 }), [0, 0, 0, 0], rel(0));
        expectClose(twnTernarize(w, { deltaFactor: 5 }).alpha, [0], rel(0));
        // the gradient still passes straight through
        expectClose(
          gradOf(w, tf.tensor1d([1, -1, 2, -2]), { deltaFactor: 5 }),
          [1, -1, 2, -2],
          rel(0),
        );
      }),
    );

    it(
      'all weights inside the band (δ = 5) on the hand-made kernels, per layer and per channel',
      run(() => {
        // A: Δ = 5 · 0.38166667 = 1.908 > max|W| = 1 -> Q = 0
        expectClose(twnQuantize(tf.tensor1d(A), { deltaFactor: 5 }), [0, 0, 0, 0, 0, 0], rel(0));
        // C per channel: Δ0 = 5 · 0.3 = 1.5 > 0.6; Δ1 = 5 · 1.16666667 = 5.83 > 2 -> Q = 0
        const q = twnQuantize(tf.tensor2d(C), { deltaFactor: 5, perChannel: true });
        expectClose(q, [0, 0, 0, 0, 0, 0], rel(0));
      }),
    );

    it(
      'with δ < 1 no non-zero group can fall entirely inside the band (max|W| ≥ mean|W| > Δ)',
      run(() => {
        for (const [shape, seed] of [
          [[3, 3, 4, 8], 1],
          [[16, 5], 2],
          [[1, 7], 3],
        ] as const) {
          const w = tf.tensor(
            pseudoNormal(
              shape.reduce((a: number, b: number) => a * b, 1),
              seed,
            ),
            [...shape],
          );
          for (const deltaFactor of [0.7, 0.75, 0.999]) {
            for (const perChannel of [false, true]) {
              const t = twnTernarize(w, { deltaFactor, perChannel });
              // non-zero codes per group: all axes per layer, all but the last per channel
              const axes = perChannel ? [...Array(w.rank - 1).keys()] : undefined;
              const kept = tf.sum(tf.abs(t.codes), axes);
              const counts = Array.from(kept.dataSync());
              expect(
                counts.every((c) => c >= 1),
                `${shape} δ=${deltaFactor} perChannel=${perChannel}`,
              ).toBe(true);
              expect(Array.from(t.alpha.dataSync()).every((a) => a > 0)).toBe(true);
            }
          }
        }
      }),
    );

    it(
      'one huge outlier: per layer it takes the whole layer; per channel only its channel',
      run(() => {
        // per layer, W = [1e6, 0.5, -0.5, 0.1]: mean|W| = 1000001.1 / 4 = 250000.275
        // Δ = 175000.1925 -> kept 1e6 only -> α = 1e6
        expectClose(twnQuantize(tf.tensor1d([1e6, 0.5, -0.5, 0.1])), [1e6, 0, 0, 0], rel(1e-6));
        // per channel: column 0 = [1e6, 0.5, -0.5, 0.1] as above -> α0 = 1e6
        //              column 1 = [0.5, -0.5, 0.1, 0.2]: mean|W| = 1.3 / 4 = 0.325, Δ = 0.2275
        //              -> kept ±0.5 -> α1 = 0.5
        const w = tf.tensor2d([
          [1e6, 0.5],
          [0.5, -0.5],
          [-0.5, 0.1],
          [0.1, 0.2],
        ]);
        expectClose(
          twnQuantize(w, { perChannel: true }),
          [1e6, 0.5, 0, -0.5, 0, 0, 0, 0],
          rel(1e-6),
        );
        // no clipping of W: the outlier still gets the full upstream gradient
        const upstream = tf.tensor2d([
          [3, -1],
          [2, 2],
          [1, -3],
          [0.5, 4],
        ]);
        expectClose(
          gradOf(w, upstream, { perChannel: true }),
          [3, -1, 2, 2, 1, -3, 0.5, 4],
          rel(0),
        );
      }),
    );

    it(
      'NaN or ±Infinity in the kernel is a clear error',
      run(() => {
        expect(() => twnQuantize(tf.tensor1d([0.1, Number.NaN, 0.3]))).toThrow(
          'twn: the kernel (shape [3]) contains NaN at flat index 1',
        );
        expect(() =>
          twnQuantize(tf.tensor2d([[0.1], [Number.POSITIVE_INFINITY]]), { perChannel: true }),
        ).toThrow('twn: the kernel (shape [2, 1]) contains Infinity at flat index 1');
        expect(() => twnTernarize(tf.tensor1d([Number.NEGATIVE_INFINITY, 1]))).toThrow(
          'twn: the kernel (shape [2]) contains -Infinity at flat index 0',
        );
      }),
    );
  });

  it(
    'twnTernarize returns T, α and Δ (keepDims shapes) matching twnQuantize',
    run(() => {
      // A per layer: Δ = 0.26716667, α = 0.73333333, T = [-1, 0, 0, 0, 1, 1]
      const a = twnTernarize(tf.tensor1d(A));
      expectClose(a.codes, [-1, 0, 0, 0, 1, 1], rel(0));
      expectClose(a.alpha, [0.73333333], rel(1e-6));
      expectClose(a.delta, [0.26716667], rel(1e-6));
      expect(a.alpha.shape).toEqual([1]);
      // C per channel: Δ = [0.21, 0.81666667], α = [0.6, 1.5], shapes [1, 2]
      const c = twnTernarize(tf.tensor2d(C), { perChannel: true });
      expectClose(c.codes, [1, -1, 0, 1, 0, 0], rel(0));
      expectClose(c.alpha, [0.6, 1.5], rel(1e-6));
      expectClose(c.delta, [0.21, 0.81666667], rel(1e-6));
      expect(c.alpha.shape).toEqual([1, 2]);
      expect(c.delta.shape).toEqual([1, 2]);
      // E per channel: shapes [1, 1, 1, 2]
      const e = twnTernarize(tf.tensor4d(E, E_SHAPE), { perChannel: true });
      expect(e.alpha.shape).toEqual([1, 1, 1, 2]);
      expectClose(e.alpha, [1, 0.3], rel(1e-6));
      expectClose(e.delta, [0.4025, 0.15925], rel(1e-6));
    }),
  );

  it(
    'does not leak tensors over repeated forward + backward passes',
    run(() => {
      const upstream = tf.tensor4d([0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8], E_SHAPE);
      const w = tf.variable(tf.tensor4d(E, E_SHAPE));
      for (const perChannel of [false, true]) {
        const step = () => {
          const q = twnQuantize(w, { perChannel });
          const g = gradOf(w, upstream, { perChannel });
          const t = twnTernarize(w, { perChannel });
          tf.dispose([q, g, t.codes, t.alpha, t.delta]);
        };
        expect(tensorGrowth(step)).toBe(0);
        // a rejected kernel leaks nothing either
        const bad = tf.tensor1d([Number.NaN]);
        expect(
          tensorGrowth(() => {
            try {
              twnQuantize(bad);
            } catch {
              // expected
            }
          }),
        ).toBe(0);
      }
      w.dispose();
    }),
  );
});

describe('options validation (twnQuantize)', () => {
  const w = tf.tensor1d(A);

  it.each([
    [{ deltaFactor: 0 }, 'twn: option "deltaFactor" must be > 0, got 0'],
    [{ deltaFactor: -0.7 }, 'twn: option "deltaFactor" must be > 0, got -0.7'],
    [{ deltaFactor: Number.NaN }, 'twn: option "deltaFactor" must be a finite number, got NaN'],
    [
      { deltaFactor: Number.POSITIVE_INFINITY },
      'twn: option "deltaFactor" must be a finite number, got Infinity',
    ],
    [{ deltaFactor: '0.7' }, 'twn: option "deltaFactor" must be a number, got "0.7"'],
    [{ perChannel: 'yes' }, 'twn: option "perChannel" must be a boolean, got "yes"'],
    [{ delta: 0.7 }, 'twn: unknown option "delta"; valid options: deltaFactor, perChannel'],
  ])('rejects %o', (options, message) => {
    expect(() => twnQuantize(w, options as TWNOptions)).toThrow(message);
    expect(() => twnTernarize(w, options as TWNOptions)).toThrow(message);
  });

  it('rejects perChannel on a kernel without an output-channel axis', () => {
    expect(() => twnQuantize(w, { perChannel: true })).toThrow(
      'twn: perChannel needs a kernel of rank >= 2 (output channel = last axis), got shape [6]',
    );
  });

  it('accepts small and large finite δ (the documented range is 0 < δ < ∞)', () => {
    tf.tidy(() => {
      // δ = 1e-6: Δ ≈ 3.8e-7 -> every non-zero weight kept: α = 2.29 / 5 = 0.458
      expectClose(
        twnQuantize(w, { deltaFactor: 1e-6 }),
        [-0.458, -0.458, 0, 0.458, 0.458, 0.458],
        rel(1e-6),
      );
      expectClose(twnQuantize(w, { deltaFactor: 100 }), [0, 0, 0, 0, 0, 0], rel(0));
    });
  });

  it('treats undefined options as defaults', () => {
    tf.tidy(() => {
      const q = twnQuantize(w, { deltaFactor: undefined, perChannel: undefined });
      expect(maxAbsDiff(q.dataSync(), twnQuantize(w).dataSync())).toBe(0);
    });
  });
});

describe.each(backends)('kernels at the edges of float32, on the %s backend', (backend) => {
  const run = (fn: () => void) => () => withBackend(backend, () => tf.tidy(fn));
  // Every weight is finite, but Σ|W| = 9e38 is not: the means must not overflow.
  const HUGE = [3e38, -3e38, 2e38, -1e38, 1, 0];

  it(
    'a kernel near float32 max gets the formula’s codes and α, per layer (not all zeros)',
    run(() => {
      // mean|W| = 9e38 / 6 = 1.5e38; Δ = 0.7 · 1.5e38 = 1.05e38
      // |W| > Δ: 3e38, 3e38, 2e38 (1e38 < 1.05e38); α = 8e38 / 3 = 2.6667e38
      const a = 8e38 / 3;
      expectClose(twnQuantize(tf.tensor1d(HUGE)), [a, -a, a, 0, 0, 0], rel(1e-6));
      const t = twnTernarize(tf.tensor1d(HUGE));
      expectClose(t.delta, [1.05e38], rel(1e-6));
      expectClose(t.alpha, [a], rel(1e-6));
      // The identity STE is unchanged.
      expectClose(
        gradOf(tf.tensor1d(HUGE), tf.tensor1d([1, 2, 3, 4, 5, 6])),
        [1, 2, 3, 4, 5, 6],
        rel(0),
      );
    }),
  );

  it(
    'and per channel',
    run(() => {
      // [in = 3, out = 2]: channel 0 = [3e38, 2e38, 1], channel 1 = [-3e38, -1e38, 0].
      // c0: mean = 1.6667e38, Δ = 1.1667e38, kept 3e38 and 2e38, α0 = 2.5e38
      // c1: mean = 1.3333e38, Δ = 0.9333e38, kept both, α1 = 2e38
      const q = twnQuantize(tf.tensor2d(HUGE, [3, 2]), { perChannel: true });
      expectClose(q, [2.5e38, -2e38, 2.5e38, -2e38, 0, 0], rel(1e-6));
    }),
  );

  it(
    'NaN/Infinity and non-float32 kernels are clear errors',
    run(() => {
      expect(() => twnQuantize(tf.tensor1d([1, Number.NaN]))).toThrow(
        'twn: the kernel (shape [2]) contains NaN at flat index 1',
      );
      expect(() => twnQuantize(tf.tensor1d([1, -2], 'int32'))).toThrow(
        "twn: the kernel must be a float32 tensor, got int32 (shape [2]); cast it first: tf.cast(kernel, 'float32')",
      );
      expect(() => twnTernarize([1, 2] as unknown as tf.Tensor)).toThrow(
        'twn: the kernel must be a float32 tf.Tensor, got an array ([1,2])',
      );
    }),
  );
});
