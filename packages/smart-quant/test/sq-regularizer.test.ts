import * as tf from '@tensorflow/tfjs';
import { stopGradient } from '@trit/quant-core';
import { maxAbsDiff, tensorGrowth, testBackends, withBackend } from '@trit/quant-core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { sqRegularizer } from '../src/index.js';
import { expectClose, nextDownF32, values, wavyKernel } from './helpers.js';

const backends = await testBackends();
const s = (v: number) => tf.scalar(v);

/** `[R, dR/dW, dR/dα, dR/dβ]`. */
function valueAndGrads(
  w: tf.Tensor,
  alpha: number,
  beta: number,
  lambda: number,
  gamma: number,
): [number, number[], number, number] {
  const a = s(alpha);
  const b = s(beta);
  const r = sqRegularizer(w, a, b, { lambda, gamma });
  expect(r.shape).toEqual([]);
  const [dw, da, db] = tf.grads((x, y, z) =>
    sqRegularizer(x, y as tf.Scalar, z as tf.Scalar, { lambda, gamma }),
  )([w, a, b]);
  const out: [number, number[], number, number] = [
    values(r)[0]!,
    values(dw!),
    values(da!)[0]!,
    values(db!)[0]!,
  ];
  tf.dispose([a, b, r, dw!, da!, db!]);
  return out;
}

// Hand kernel for the regularizer: W = [0.6, -0.1, 0.2, -0.45], α = 0.5
// u = W / α = [1.2, -0.2, 0.4, -0.9]
const WR = [0.6, -0.1, 0.2, -0.45];

describe.each(backends)('sqRegularizer on %s', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
  });

  it('value by hand at β = π/4 (tan = cot = 1), λ = 2, γ = 0.1', () => {
    // per element min((|u| − 1)², 1 · u²):
    //   u =  1.2: min(0.04, 1.44) = 0.04   (well branch)
    //   u = -0.2: min(0.64, 0.04) = 0.04   (tan branch)
    //   u =  0.4: min(0.36, 0.16) = 0.16   (tan branch)
    //   u = -0.9: min(0.01, 0.81) = 0.01   (well branch)
    // mean = 0.25 / 4 = 0.0625; γ·cot β = 0.1; R = 2 · (0.0625 + 0.1) = 0.325
    const [r] = valueAndGrads(tf.tensor1d(WR), 0.5, Math.PI / 4, 2, 0.1);
    expect(Math.abs(r - 0.325)).toBeLessThan(1e-6);
  });

  it('value and gradients by hand at β = π/3, λ = 2, γ = 0.1', () => {
    // tan(π/3) = √3 = 1.7320508; cot = 0.5773503; sec² = 1/cos² = 4; csc² = 1/sin² = 4/3
    // per element min((|u| − 1)², √3 · u²):
    //   u =  1.2: min(0.04, 2.4941532) = 0.04        (well)
    //   u = -0.2: min(0.64, 0.0692820) = 0.0692820   (tan)
    //   u =  0.4: min(0.36, 0.2771281) = 0.2771281   (tan)
    //   u = -0.9: min(0.01, 1.4029611) = 0.01        (well)
    // mean = 0.3964102 / 4 = 0.0991025; γ·cot β = 0.0577350
    // R = 2 · (0.0991025 + 0.0577350) = 0.3136751
    const [r, dw, da, db] = valueAndGrads(tf.tensor1d(WR), 0.5, Math.PI / 3, 2, 0.1);
    expect(Math.abs(r - 0.3136751)).toBeLessThan(1e-6);
    // dR/dβ = λ · [ (1/N) Σ_{tan branch} sec²β · u² − γ · csc²β ]
    //       = 2 · [ (4 · (0.04 + 0.16)) / 4 − 0.1 · 4/3 ] = 2 · [0.2 − 0.1333333] = 0.1333333
    expect(Math.abs(db - 0.1333333)).toBeLessThan(2e-6);
    // dR/dW_i = λ / (N · α) · d/du min(...) with λ / (N · α) = 2 / (4 · 0.5) = 1:
    //   u =  1.2 (well): 2 · (1.2 − 1) · (+1)  =  0.4
    //   u = -0.2 (tan):  2 · √3 · (−0.2)       = -0.6928203
    //   u =  0.4 (tan):  2 · √3 · 0.4          =  1.3856406
    //   u = -0.9 (well): 2 · (0.9 − 1) · (−1)  =  0.2
    expectClose(dw, [0.4, -0.6928203, 1.3856406, 0.2], 2e-6);
    // α enters through stop_gradient only
    expect(da).toBe(0);
  });

  it('dR/dβ with γ only (every weight on a well): −λ·γ·csc²β', () => {
    // W = ±α exactly: u = ±1 -> well branch 0, tan branch inactive
    // dR/dβ = −λ γ csc²(π/3) = −1 · 0.5 · 4/3 = −0.6666667; R = λ γ cot(π/3) = 0.5 · 0.5773503 = 0.2886751
    const [r, dw, da, db] = valueAndGrads(tf.tensor1d([0.5, -0.5, 0.5]), 0.5, Math.PI / 3, 1, 0.5);
    expect(Math.abs(r - 0.2886751)).toBeLessThan(1e-6);
    expect(Math.abs(db + 0.6666667)).toBeLessThan(2e-6);
    expectClose(dw, [0, 0, 0], 1e-7);
    expect(da).toBe(0);
  });

  it('the kernel shape does not matter (mean over the whole layer)', () => {
    const [r1, dw1, , db1] = valueAndGrads(tf.tensor1d(WR), 0.5, Math.PI / 3, 2, 0.1);
    const [r4, dw4, , db4] = valueAndGrads(tf.tensor4d(WR, [1, 2, 1, 2]), 0.5, Math.PI / 3, 2, 0.1);
    expect(Math.abs(r4 - r1)).toBeLessThan(1e-7);
    expect(Math.abs(db4 - db1)).toBeLessThan(1e-7);
    expectClose(dw4, dw1, 1e-7);
  });

  it('λ = 0 gives R = 0 and zero gradients', () => {
    const [r, dw, da, db] = valueAndGrads(tf.tensor1d(WR), 0.5, Math.PI / 3, 0, 0.1);
    expect(r).toBe(0);
    expectClose(dw, [0, 0, 0, 0], 0);
    expect(da).toBe(0);
    expect(db).toBe(0);
  });

  it('all-zero kernel: R = λ·γ·cot β, no pull on W', () => {
    // u = 0 everywhere: min(1, 0) = 0; R = 2 · 0.1 · cot(π/4) = 0.2; dR/dβ = −2 · 0.1 · csc²(π/4) = −0.4
    const [r, dw, da, db] = valueAndGrads(tf.zeros([2, 2]), 1e-8, Math.PI / 4, 2, 0.1);
    expect(Math.abs(r - 0.2)).toBeLessThan(1e-6);
    expect(Math.abs(db + 0.4)).toBeLessThan(1e-6);
    expectClose(dw, [0, 0, 0, 0], 0);
    expect(da).toBe(0);
  });

  it('one huge outlier: finite value and gradients, by hand', () => {
    // W = [1000, 0.3, -0.1, 0.2], α = 0.5 -> u = [2000, 0.6, -0.2, 0.4]; β = π/4, λ = 1, γ = 0
    //   u = 2000: min(1999², 2000²) = 3996001 (well)
    //   u =  0.6: min(0.16, 0.36) = 0.16 (well)
    //   u = -0.2: min(0.64, 0.04) = 0.04 (tan)
    //   u =  0.4: min(0.36, 0.16) = 0.16 (tan)
    // R = (3996001 + 0.36) / 4 = 999000.09
    // dR/dW_i = λ / (N · α) · d/du min(...), λ / (N · α) = 1 / (4 · 0.5) = 0.5:
    //   u = 2000 (well): 0.5 · 2 · (2000 − 1) · (+1) = 1999
    //   u =  0.6 (well): 0.5 · 2 · (0.6 − 1) · (+1)  = −0.4
    //   u = -0.2 (tan):  0.5 · 2 · 1 · (−0.2)        = −0.2
    //   u =  0.4 (tan):  0.5 · 2 · 1 · 0.4           =  0.4
    const [r, dw, , db] = valueAndGrads(
      tf.tensor1d([1000, 0.3, -0.1, 0.2]),
      0.5,
      Math.PI / 4,
      1,
      0,
    );
    expect(Math.abs(r - 999000.09) / 999000.09).toBeLessThan(1e-6);
    expectClose(dw, [1999, -0.4, -0.2, 0.4], 2e-4);
    // dR/dβ = sec²(π/4) · (0.04 + 0.16) / 4 = 2 · 0.05 = 0.1
    expect(Math.abs(db - 0.1)).toBeLessThan(1e-6);
  });

  it('rejects bad options and inputs with clear errors', () => {
    const w = tf.tensor1d(WR);
    expect(() => sqRegularizer(w, s(0.5), s(1), { lambda: -1, gamma: 0 })).toThrow(
      'sq: option "lambda" must be >= 0, got -1',
    );
    expect(() => sqRegularizer(w, s(0.5), s(1), { lambda: 1, gamma: -0.01 })).toThrow(
      'sq: option "gamma" must be >= 0, got -0.01',
    );
    expect(() => sqRegularizer(w, s(0.5), s(1), { lambda: Number.NaN, gamma: 0 })).toThrow(
      'sq: option "lambda" must be a finite number, got NaN',
    );
    expect(() =>
      sqRegularizer(w, s(0.5), s(1), { lambda: 1, gamma: '0.1' as unknown as number }),
    ).toThrow(/option "gamma" must be a finite number/);
    expect(() =>
      sqRegularizer(tf.tensor1d([Number.NaN]), s(0.5), s(1), { lambda: 1, gamma: 0 }),
    ).toThrow(/sq: the kernel .* contains NaN/);
    expect(() => sqRegularizer(w, s(0), s(1), { lambda: 1, gamma: 0 })).toThrow(
      /alpha must be a finite number > 0/,
    );
    expect(() => sqRegularizer(w, s(0.5), s(2), { lambda: 1, gamma: 0 })).toThrow(/beta must be/);
  });

  it('does not leak tensors over value + gradient', () => {
    const w = tf.variable(wavyKernel([3, 3, 4, 5]));
    const a = tf.variable(tf.scalar(0.2));
    const b = tf.variable(tf.scalar(1.2));
    const growth = tensorGrowth(() => {
      tf.dispose(sqRegularizer(w, a, b, { lambda: 1, gamma: 0.01 }));
      tf.dispose(
        tf.grads((x, y, z) =>
          sqRegularizer(x, y as tf.Scalar, z as tf.Scalar, { lambda: 1, gamma: 0.01 }),
        )([w, a, b]),
      );
    });
    expect(growth).toBe(0);
    tf.dispose([w, a, b]);
  });
});

/**
 * The regularizer exactly as docs/algorithms.md#sq writes it, as plain tf ops
 * differentiated by autodiff (the implementation before the closed-form
 * gradient): the reference the custom gradient must reproduce.
 */
function plainRegularizer(
  w: tf.Tensor,
  alpha: tf.Tensor,
  beta: tf.Tensor,
  lambda: number,
  gamma: number,
): tf.Scalar {
  const u = tf.div(w, stopGradient(alpha));
  const tanBeta = tf.tan(beta);
  const well = tf.square(tf.sub(tf.abs(u), 1));
  const zero = tf.mul(tanBeta, tf.square(u));
  const fit = tf.mean(tf.minimum(well, zero));
  return tf.reshape(
    tf.mul(lambda, tf.add(fit, tf.mul(gamma, tf.reciprocal(tanBeta)))),
    [],
  ) as tf.Scalar;
}

/** `[R, dW, dα, dβ]` of `c · R` (a non-unit upstream gradient `c`) through `f`. */
function gradsOf(
  f: (w: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => tf.Scalar,
  w: tf.Tensor,
  alpha: number,
  beta: number,
): [number, number[], number, number] {
  const a = s(alpha);
  const b = s(beta);
  const r = f(w, a, b);
  const [dw, da, db] = tf.grads((x, y, z) => tf.mul(f(x, y, z), -1.7))([w, a, b]);
  const out: [number, number[], number, number] = [
    values(r)[0]!,
    values(dw!),
    values(da!)[0]!,
    values(db!)[0]!,
  ];
  tf.dispose([a, b, r, dw!, da!, db!]);
  return out;
}

/** Relative closeness: `|x − y| ≤ tol · max(1, |y|)`, element by element. */
function expectRelClose(actual: readonly number[], expected: readonly number[], tol: number): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => {
    const a = actual[i]!;
    if (!(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e)))) {
      throw new Error(`element ${i}: ${a} vs ${e} (tol ${tol})`);
    }
  });
}

describe.each(backends)('sqRegularizer closed-form gradient vs autodiff on %s', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
  });

  const upper = Math.PI / 2 - 1e-4;
  const cases: [string, () => tf.Tensor, number, number, number, number][] = [
    ['4-D conv kernel, β = 3π/8', () => wavyKernel([3, 3, 4, 8]), 0.2, (3 * Math.PI) / 8, 1, 0.01],
    ['2-D dense kernel, β = 1.1', () => wavyKernel([16, 10]), 0.15, 1.1, 0.3, 0.05],
    ['β at the lower clip π/4', () => wavyKernel([3, 3, 4, 8]), 0.2, Math.PI / 4, 1, 0.001],
    ['β at the upper clip π/2 − 1e-4', () => wavyKernel([3, 3, 4, 8]), 0.2, upper, 1, 0.001],
    ['β below π/4 (tan β < 1: two crossings)', () => wavyKernel([6, 7]), 0.1, 0.3, 2, 0.1],
    [
      'zeros, ±α and an outlier',
      () => tf.tensor1d([0, -0, 0.5, -0.5, 0.25, 300, -0.01]),
      0.5,
      1.2,
      1,
      0.02,
    ],
    ['all-zero kernel', () => tf.zeros([3, 4]), 1e-8, 1.3, 1, 0.1],
    ['λ = 0', () => wavyKernel([5, 4]), 0.2, 1.0, 0, 0.1],
    ['γ = 0, tiny α', () => wavyKernel([5, 4]), 1e-8, 0.9, 0.5, 0],
  ];

  it.each(cases)('%s', (_name, kernel, alpha, beta, lambda, gamma) => {
    const w = kernel();
    const plain = gradsOf((x, a, b) => plainRegularizer(x, a, b, lambda, gamma), w, alpha, beta);
    const closed = gradsOf(
      (x, a, b) => sqRegularizer(x, a as tf.Scalar, b as tf.Scalar, { lambda, gamma }),
      w,
      alpha,
      beta,
    );
    expectRelClose([closed[0]], [plain[0]], 2e-6);
    // dW: the same elementwise formula up to float32 rounding, relative to the largest entry.
    const scale = Math.max(1e-30, ...plain[1].map(Math.abs));
    expect(maxAbsDiff(closed[1], plain[1]) / scale).toBeLessThan(2e-6);
    expect(closed[2]).toBe(0);
    expect(plain[2]).toBe(0);
    expectRelClose([closed[3]], [plain[3]], 1e-4);
    w.dispose();
  });

  it('ties in min(): the well branch gets the gradient, as with tfjs minimum', () => {
    // β = π/4 in float32: tan β = 1 in float32 on both backends, so at |u| = 0.5
    // (|u| − 1)² = 0.25 = 1 · u²: a tie, where the well branch is differentiated:
    // d/du = 2(|u| − 1)·sign(u) = ∓1 (the tan branch would give 2u = ±1).
    const beta = s(Math.PI / 4);
    const t = tf.tan(beta).dataSync()[0]!;
    beta.dispose();
    expect(t).toBe(1);
    // W = [0.25, -0.25, 0.1], α = 0.5 -> u = [0.5, -0.5, 0.2]; λ = 3, γ = 0; λ/(N·α) = 2
    //   u =  0.5 (tie -> well): 2 · 2 · (0.5 − 1) · (+1) = −2
    //   u = -0.5 (tie -> well): 2 · 2 · (0.5 − 1) · (−1) = +2
    //   u =  0.2 (tan):         2 · 2 · 1 · 0.2         = 0.8
    // dR/dβ = λ · sec²β · (0.2²) / 3 = 3 · 2 · 0.04 / 3 = 0.08 (the ties add nothing)
    const w = tf.tensor1d([0.25, -0.25, 0.1]);
    const [, dw, , db] = valueAndGrads(w, 0.5, Math.PI / 4, 3, 0);
    expectClose(dw, [-2, 2, 0.8], 1e-6);
    expect(Math.abs(db - 0.08)).toBeLessThan(1e-6);
    const plain = gradsOf((x, a, b) => plainRegularizer(x, a, b, 3, 0), w, 0.5, Math.PI / 4);
    expectClose(plain[1], [2 * 1.7, -2 * 1.7, -0.8 * 1.7], 1e-6); // c = −1.7
    w.dispose();
  });

  it('β just below the largest valid float32 (tan β ≈ 1.3e7) stays finite', () => {
    const beta = nextDownF32(Math.fround(Math.PI / 2));
    const w = wavyKernel([4, 6]);
    const plain = gradsOf((x, a, b) => plainRegularizer(x, a, b, 1, 0.001), w, 0.2, beta);
    const closed = gradsOf(
      (x, a, b) => sqRegularizer(x, a as tf.Scalar, b as tf.Scalar, { lambda: 1, gamma: 0.001 }),
      w,
      0.2,
      beta,
    );
    for (const v of [closed[0], closed[3], ...closed[1]]) expect(Number.isFinite(v)).toBe(true);
    expectRelClose([closed[0]], [plain[0]], 2e-6);
    expectRelClose([closed[3]], [plain[3]], 1e-3);
    w.dispose();
  });

  it('α = 0 and β outside (0, π/2) throw as before, a NaN kernel first', () => {
    const bad = tf.tensor1d([0.1, Number.NaN]);
    expect(() => sqRegularizer(bad, s(0), s(1), { lambda: 1, gamma: 0 })).toThrow(
      /sq: the kernel .* contains NaN/,
    );
    expect(() => sqRegularizer(tf.tensor1d([0.1]), s(0), s(1), { lambda: 1, gamma: 0 })).toThrow(
      'sq: alpha must be a finite number > 0, got 0',
    );
    expect(() =>
      sqRegularizer(tf.tensor1d([0.1]), s(0.5), s(Math.PI / 2), { lambda: 1, gamma: 0 }),
    ).toThrow(/beta must be a finite number in \(0, π\/2\)/);
    bad.dispose();
  });

  it('an Infinity in the kernel is a clear error, and so is an R that overflows float32', () => {
    expect(() =>
      sqRegularizer(tf.tensor1d([1, Number.POSITIVE_INFINITY]), s(0.5), s(1), {
        lambda: 1,
        gamma: 0,
      }),
    ).toThrow(/sq: the kernel .* contains Infinity/);
    // u = W/α = 3e46: u² and so R (~1e93) are beyond float32. Not a silent Infinity.
    expect(() =>
      sqRegularizer(tf.tensor1d([3e38, 0.1]), s(1e-8), s(1), { lambda: 1, gamma: 0 }),
    ).toThrow(/sq: the regularizer overflows float32: .* is Infinity with α = 9.99\d*e-9/);
    // A huge kernel with a matching α is fine: u stays small.
    const r = sqRegularizer(tf.tensor1d([3e38, -3e38, 1e38]), s(2e38), s(1), {
      lambda: 1,
      gamma: 0,
    });
    expect(Number.isFinite(values(r)[0]!)).toBe(true);
  });
});

describe('sqRegularizer backend parity', () => {
  it.skipIf(backends.length < 2)('native and cpu agree on value and gradients', async () => {
    const run = () => {
      const w = wavyKernel([5, 5, 8, 6]);
      const out = valueAndGrads(w, 0.2, 1.1, 1, 0.01);
      w.dispose();
      return out;
    };
    const [x, y] = [await withBackend('tensorflow', run), await withBackend('cpu', run)];
    expect(Math.abs(x[0] - y[0])).toBeLessThan(1e-6);
    expect(maxAbsDiff(x[1], y[1])).toBeLessThan(1e-7);
    expect(x[2]).toBe(0);
    expect(y[2]).toBe(0);
    expect(Math.abs(x[3] - y[3])).toBeLessThan(1e-5);
  });
});
