import * as tf from '@tensorflow/tfjs';
import { maxAbsDiff, tensorGrowth, testBackends, withBackend } from '@trit/quant-core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { sqRegularizer } from '../src/index.js';
import { expectClose, values, wavyKernel } from './helpers.js';

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
