import * as tf from '@tensorflow/tfjs';
import { maxAbsDiff, tensorGrowth, testBackends, withBackend } from '@trit/quant-core/testing';
import { describe, expect, it } from 'vitest';
import { hlaRegularizer } from '../src/index.js';
import { expectClose } from './helpers.js';

const backends = await testBackends();

// A 2-D [in, out] kernel, by hand:
//   mean|W| = (0.5 + 0.1 + 0.2 + 0.8) / 4 = 0.4, Δ = 0.7 · 0.4 = 0.28
//   T = [[1, 0], [0, -1]]
//   ⟨W, T⟩ = 0.5 + 0.8 = 1.3
//   ‖W‖ = √(0.25 + 0.01 + 0.04 + 0.64) = √0.94 = 0.9695360,  ‖T‖ = √2 = 1.4142136
//   cos = 1.3 / (0.9695360 · 1.4142136) = 1.3 / 1.3711309 = 0.9481224
//   λ = 0.5: R = 0.5 · (1 − 0.9481224) = 0.0259388   (ε = 1e-12 is far below float32 resolution here)
const W2 = [0.5, -0.1, 0.2, -0.8];
const R_HAND = 0.0259388;
// dR/dW = −λ · (T / (‖W‖‖T‖) − ⟨W,T⟩ · W / (‖W‖³ ‖T‖)), T constant
//   1 / (‖W‖‖T‖) = 1 / 1.3711309 = 0.7293250
//   ⟨W,T⟩ / (‖W‖³‖T‖) = 1.3 / (0.94 · 1.3711309) = 1.0086409
//   W = 0.5 , T =  1: −0.5 · ( 0.7293250 − 1.0086409 · 0.5)  = −0.1125023
//   W = −0.1, T =  0: −0.5 · (0         − 1.0086409 · −0.1) = −0.0504320
//   W = 0.2 , T =  0: −0.5 · (0         − 1.0086409 · 0.2)  =  0.1008641
//   W = −0.8, T = −1: −0.5 · (−0.7293250 − 1.0086409 · −0.8) = −0.0387939
const GRAD_HAND = [-0.1125023, -0.050432, 0.1008641, -0.0387939];

// The docs/algorithms.md#worked-example kernel: T = [-1, 0, 0, 0, 1, 1] (see hla-quantize.test.ts)
//   ⟨W, T⟩ = 0.9 + 0.3 + 1.0 = 2.2, ‖W‖² = 0.81 + 0.0025 + 0 + 0.0016 + 0.09 + 1 = 1.9041
//   cos = 2.2 / (√1.9041 · √3) = 2.2 / (1.3798913 · 1.7320508) = 0.9204860
const W6 = [-0.9, -0.05, 0, 0.04, 0.3, 1.0];

const regGrad = (w: tf.Tensor, options: Parameters<typeof hlaRegularizer>[1]) =>
  tf.grad((x: tf.Tensor) => hlaRegularizer(x, options))(w);

describe.each(backends)('hlaRegularizer on %s', (backend) => {
  const run = (fn: () => void) => withBackend(backend, () => tf.tidy(fn));

  it('value R = λ·(1 − cos(W, T)), by hand', () =>
    run(() => {
      const r = hlaRegularizer(tf.tensor2d(W2, [2, 2]), { lambda: 0.5 });
      expect(r.shape).toEqual([]);
      expect(r.dataSync()[0]).toBeCloseTo(R_HAND, 6);
      // λ = 2 on the docs/algorithms.md kernel: 2 · (1 − 0.9204860) = 0.1590280
      expect(hlaRegularizer(tf.tensor1d(W6), { lambda: 2 }).dataSync()[0]).toBeCloseTo(0.159028, 5);
    }));

  it('gradient w.r.t. W by hand, T treated as a constant', () =>
    run(() => {
      const w = tf.tensor2d(W2, [2, 2]);
      const grad = regGrad(w, { lambda: 0.5 });
      expect(grad.shape).toEqual([2, 2]);
      expectClose(grad, GRAD_HAND, 1e-5);
      // Scale-free: the gradient is orthogonal to W (⟨dR/dW, W⟩ = 0) ...
      expect(Math.abs(tf.sum(tf.mul(grad, w)).dataSync()[0]!)).toBeLessThan(1e-6);
      // ... and scaling W by 10 scales it by 1/10 while R is unchanged.
      const w10 = tf.mul(w, 10);
      expect(hlaRegularizer(w10, { lambda: 0.5 }).dataSync()[0]).toBeCloseTo(R_HAND, 6);
      expectClose(
        regGrad(w10, { lambda: 0.5 }),
        GRAD_HAND.map((g) => g / 10),
        1e-5,
      );
    }));

  it('works on a 4-D conv kernel (one cosine over the whole layer)', () =>
    run(() => {
      const w = tf.tensor4d(W2, [1, 1, 2, 2]);
      expect(hlaRegularizer(w, { lambda: 0.5 }).dataSync()[0]).toBeCloseTo(R_HAND, 6);
      const grad = regGrad(w, { lambda: 0.5 });
      expect(grad.shape).toEqual([1, 1, 2, 2]);
      expectClose(grad, GRAD_HAND, 1e-5);
    }));

  it('λ = 0 gives R = 0 and a zero gradient', () =>
    run(() => {
      const w = tf.tensor2d(W2, [2, 2]);
      expect(hlaRegularizer(w, { lambda: 0 }).dataSync()[0]).toBe(0);
      expectClose(regGrad(w, { lambda: 0 }), [0, 0, 0, 0], 0);
    }));

  it('deltaFactor changes T: δ = 0.1 keeps all four weights', () =>
    run(() => {
      // Δ = 0.04: T = [[1, -1], [1, -1]], ⟨W,T⟩ = 0.5 + 0.1 + 0.2 + 0.8 = 1.6, ‖T‖ = 2
      // cos = 1.6 / (0.9695360 · 2) = 0.8251360, R = 1 · (1 − 0.8251360) = 0.1748640
      const r = hlaRegularizer(tf.tensor2d(W2, [2, 2]), { lambda: 1, deltaFactor: 0.1 });
      expect(r.dataSync()[0]).toBeCloseTo(0.174864, 5);
    }));

  it('all-zero kernel: R = λ and a zero gradient (no NaN)', () =>
    run(() => {
      // ⟨W,T⟩ = 0, ‖W‖·‖T‖ + ε = ε -> cos = 0, R = λ
      const w = tf.zeros([2, 2]);
      expect(hlaRegularizer(w, { lambda: 0.5 }).dataSync()[0]).toBe(0.5);
      expectClose(regGrad(w, { lambda: 0.5 }), [0, 0, 0, 0], 0);
    }));

  it('all weights inside the band (δ = 3): T = 0, R = λ, zero gradient', () =>
    run(() => {
      const w = tf.tensor1d(W6);
      expect(hlaRegularizer(w, { lambda: 0.5, deltaFactor: 3 }).dataSync()[0]).toBe(0.5);
      expectClose(regGrad(w, { lambda: 0.5, deltaFactor: 3 }), [0, 0, 0, 0, 0, 0], 0);
    }));

  it('one huge outlier: T = [0, 0, 0, 1], cos ≈ 1, R ≈ 0', () =>
    run(() => {
      // ‖W‖ = √(0.01 + 0.04 + 0.0225 + 10000) = 100.0003625, cos = 100 / 100.0003625 = 0.99999638
      // R = 1 · (1 − 100 / 100.0003625) = 3.625e-6 (float32 resolves it to ~1e-7)
      const r = hlaRegularizer(tf.tensor1d([0.1, -0.2, 0.15, 100]), { lambda: 1 });
      expect(r.dataSync()[0]).toBeCloseTo(3.625e-6, 6);
    }));

  it('NaN in the kernel: a clear error', () =>
    run(() => {
      expect(() => hlaRegularizer(tf.tensor1d([0.1, 0.2, Number.NaN]), { lambda: 1 })).toThrow(
        'hla: the kernel (shape [3]) contains NaN at flat index 2',
      );
    }));

  it('leaks no tensors over value + gradient', () =>
    withBackend(backend, () => {
      const w = tf.variable(tf.tensor2d(W2, [2, 2]));
      const growth = tensorGrowth(() => {
        tf.dispose(tf.grads((x: tf.Tensor) => hlaRegularizer(x, { lambda: 0.5 }))([w]));
        tf.dispose(hlaRegularizer(w, { lambda: 0.5 }));
      });
      w.dispose();
      expect(growth).toBe(0);
    }));
});

/**
 * The regularizer written as the plain formula, differentiated by autodiff: `T` is
 * built here independently (sign(W)·1[|W| > δ·mean|W|]) and enters as a constant.
 */
function plainRegularizer(w: tf.Tensor, lambda: number, deltaFactor: number, epsilon: number) {
  const t = tf.tidy(() => {
    const abs = tf.abs(w);
    return tf.mul(
      tf.sign(w),
      tf.cast(tf.greater(abs, tf.mul(deltaFactor, tf.mean(abs))), 'float32'),
    );
  });
  const f = (x: tf.Tensor) => {
    const dot = tf.sum(tf.mul(x, t));
    const norms = tf.mul(tf.sqrt(tf.sum(tf.square(x))), tf.sqrt(tf.sum(tf.square(t))));
    return tf.mul(lambda, tf.sub(1, tf.div(dot, tf.add(norms, epsilon)))) as tf.Scalar;
  };
  return { value: f(w), grad: tf.grad(f)(w) };
}

describe.each(backends)('hlaRegularizer closed-form gradient vs autodiff on %s', (backend) => {
  const run = (fn: () => void) => withBackend(backend, () => tf.tidy(fn));

  // Kernels with ‖W‖ > 0: random (per-layer statistics over every axis), exact zeros,
  // a huge outlier, a non-default δ and ε, a single weight.
  const cases: [string, () => tf.Tensor, number, number, number][] = [
    [
      'random 4-D conv kernel',
      () => tf.randomNormal([3, 3, 4, 8], 0, 0.1, 'float32', 21),
      0.7,
      0.7,
      1e-12,
    ],
    [
      'random 2-D kernel, λ = 3',
      () => tf.randomUniform([16, 10], -1, 1, 'float32', 22),
      3,
      0.7,
      1e-12,
    ],
    [
      'exact zeros in W',
      () => tf.tensor2d([0, 0.4, -0.3, 0, 0, -1.2, 0.05, 0], [4, 2]),
      1,
      0.7,
      1e-12,
    ],
    ['one huge outlier', () => tf.tensor1d([0.1, -0.2, 0.15, 100, 0.01]), 0.5, 0.7, 1e-12],
    ['δ = 0.1, ε = 0.5', () => tf.tensor1d(W6), 2, 0.1, 0.5],
    ['a single weight', () => tf.tensor1d([-0.4]), 1, 0.7, 1e-12],
  ];
  it.each(cases)('%s', (_name, make, lambda, deltaFactor, epsilon) =>
    run(() => {
      const w = make();
      const expected = plainRegularizer(w, lambda, deltaFactor, epsilon);
      const options = { lambda, deltaFactor, epsilon };
      const value = hlaRegularizer(w, options).dataSync()[0]!;
      expect(Math.abs(value - expected.value.dataSync()[0]!)).toBeLessThan(1e-6);
      const grad = regGrad(w, options);
      expect(grad.shape).toEqual(w.shape);
      // dR/dW is a difference of two terms of size λ/‖W‖ (which cancel exactly for a single
      // weight, or nearly for the outlier): compare to that size (float32 reordering).
      const scale = lambda / tf.norm(w).dataSync()[0]!;
      expect(maxAbsDiff(grad.dataSync(), expected.grad.dataSync()) / scale).toBeLessThan(1e-6);
    }),
  );

  it('empty codes (every weight inside the band): the same zero gradient as autodiff', () =>
    run(() => {
      const w = tf.tensor1d(W6);
      const expected = plainRegularizer(w, 0.5, 3, 1e-12);
      expectClose(expected.grad, [0, 0, 0, 0, 0, 0], 0); // autodiff: T = 0, ⟨W, T⟩ = 0
      expectClose(regGrad(w, { lambda: 0.5, deltaFactor: 3 }), [0, 0, 0, 0, 0, 0], 0);
    }));

  it('all-zero kernel: 0 where autodiff through √ gives NaN (0 · ∞)', () =>
    run(() => {
      const w = tf.zeros([3, 2]);
      expect(
        Array.from(plainRegularizer(w, 0.5, 0.7, 1e-12).grad.dataSync()).some(Number.isNaN),
      ).toBe(true);
      expectClose(regGrad(w, { lambda: 0.5 }), [0, 0, 0, 0, 0, 0], 0);
    }));

  it('an upstream gradient scales it: d(c·R)/dW = c·dR/dW', () =>
    run(() => {
      const w = tf.tensor2d(W2, [2, 2]);
      const grad = tf.grad((x: tf.Tensor) => tf.mul(-2.5, hlaRegularizer(x, { lambda: 0.5 })))(w);
      expectClose(
        grad,
        GRAD_HAND.map((g) => -2.5 * g),
        1e-5,
      );
    }));
});

describe('hlaRegularizer options', () => {
  it('rejects missing, unknown and out-of-range options', () => {
    const w = tf.tensor1d(W6);
    expect(() => hlaRegularizer(w, {} as never)).toThrow(
      'hlaRegularizer: option "lambda" is required',
    );
    expect(() => hlaRegularizer(w, { lambda: -0.1 })).toThrow(
      'hlaRegularizer: option "lambda" must be >= 0, got -0.1',
    );
    expect(() => hlaRegularizer(w, { lambda: 1, epsilon: 0 })).toThrow(
      'hlaRegularizer: option "epsilon" must be > 0, got 0',
    );
    expect(() => hlaRegularizer(w, { lambda: 1, deltaFactor: -1 })).toThrow(
      'hlaRegularizer: option "deltaFactor" must be > 0, got -1',
    );
    expect(() => hlaRegularizer(w, { lambda: 1, lamda: 2 } as never)).toThrow(
      'hlaRegularizer: unknown option "lamda"; valid options: lambda, deltaFactor, epsilon',
    );
    w.dispose();
  });
});

describe('backend parity', () => {
  it.runIf(backends.length > 1)('native and cpu agree on R and dR/dW', async () => {
    const wData = tf.tidy(() => tf.randomNormal([3, 3, 4, 8], 0, 0.1, 'float32', 11).dataSync());
    const results: number[][] = [];
    for (const backend of backends) {
      results.push(
        await withBackend(backend, () =>
          tf.tidy(() => {
            const w = tf.tensor(wData, [3, 3, 4, 8]);
            const r = hlaRegularizer(w, { lambda: 0.7 }).dataSync()[0]!;
            return [r, ...regGrad(w, { lambda: 0.7 }).dataSync()];
          }),
        ),
      );
    }
    expect(results[0]).toHaveLength(1 + 288);
    expect(maxAbsDiff(results[0]!, results[1]!)).toBeLessThan(1e-6);
  });
});
