import * as tf from '@tensorflow/tfjs';
import { maxAbsDiff, tensorGrowth, testBackends, withBackend } from '@trit/quant-core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { sqDelta, sqIsBinary, sqQuantize, sqRegularizer } from '../src/index.js';
import { sqScalars } from '../src/sq-quantize.js';
import { expectClose, G6, nextDownF32, nextUpF32, values, W6, wavyKernel } from './helpers.js';

const backends = await testBackends();
const s = (v: number) => tf.scalar(v);

/** `[Q, dL/dW, dL/dα, dL/dβ]` for `L = sum(Q · G)`. */
function forwardAndGrads(
  w: tf.Tensor,
  alpha: number,
  beta: number,
  g: tf.Tensor,
  binaryMargin?: number,
): [number[], number[], number[], number[]] {
  const a = s(alpha);
  const b = s(beta);
  const opts = binaryMargin === undefined ? {} : { binaryMargin };
  const q = sqQuantize(w, a, b, opts);
  const [dw, da, db] = tf.grads((x, y, z) =>
    tf.sum(tf.mul(sqQuantize(x, y as tf.Scalar, z as tf.Scalar, opts), g)),
  )([w, a, b]);
  const out: [number[], number[], number[], number[]] = [
    values(q),
    values(dw!),
    values(da!),
    values(db!),
  ];
  expect(da!.shape).toEqual([]);
  expect(db!.shape).toEqual([]);
  tf.dispose([a, b, q, dw!, da!, db!]);
  return out;
}

describe.each(backends)('sqQuantize on %s', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
  });

  it('Δ at β = π/4 is α/2', () => {
    // Δ = α / (1 + sqrt(tan π/4)) = 0.5 / (1 + 1) = 0.25
    const d = sqDelta(s(0.5), s(Math.PI / 4));
    expectClose(values(d), [0.25], 1e-6);
    // thresholds on both sides of 0.25: |W| > 0.25 keeps the weight
    const q = sqQuantize(tf.tensor1d([0.2499, 0.2501, -0.2499, -0.2501]), s(0.5), s(Math.PI / 4));
    expectClose(values(q), [0, 0.5, 0, -0.5], 0);
  });

  it('Δ near π/2 shrinks towards 0 (β = π/2 − 0.005, binaryMargin 0.001 keeps it ternary)', () => {
    // tan(π/2 − 0.005) = cot(0.005) = 199.998; sqrt = 14.14208
    // Δ = 0.5 / (1 + 14.14208) = 0.5 / 15.14208 = 0.0330206
    const beta = Math.PI / 2 - 0.005;
    const d = sqDelta(s(0.5), s(beta));
    expect(Math.abs(values(d)[0]! - 0.0330206)).toBeLessThan(2e-6);
    const q = sqQuantize(tf.tensor1d([0.0329, 0.0332, -0.0329, -0.0332]), s(0.5), s(beta), {
      binaryMargin: 0.001,
    });
    expectClose(values(q), [0, 0.5, 0, -0.5], 0);
    // on the hand kernel: only the exact 0 stays inside the band
    // |W| > 0.033: -0.9 -> -α, -0.05 -> -α, 0 -> 0, 0.04 -> +α, 0.3 -> +α, 1.0 -> +α
    const q6 = sqQuantize(tf.tensor1d(W6), s(0.5), s(beta), { binaryMargin: 0.001 });
    expectClose(values(q6), [-0.5, -0.5, 0, 0.5, 0.5, 0.5], 0);
  });

  it('Δ at the upper clip π/2 − 1e-4 is about α/101', () => {
    // tan(π/2 − 1e-4) = cot(1e-4) ≈ 1e4; sqrt = 100; Δ = α / 101 = 0.5 / 101 = 0.0049505
    const d = sqDelta(s(0.5), s(Math.PI / 2 - 1e-4));
    // β is float32 here (ulp 1.2e-7 against a distance of 1e-4 to π/2): ~1e-3 relative
    expect(Math.abs(values(d)[0]! - 0.0049505)).toBeLessThan(5e-6);
  });

  it('ternary forward on [-0.9, -0.05, 0, 0.04, 0.3, 1.0], α = 0.5, β = π/4', () => {
    // Δ = 0.25. |W| > 0.25: -0.9 yes, -0.05 no, 0 no, 0.04 no, 0.3 yes, 1.0 yes
    // Q = 0.5 · sign(W) · 1[|W| > 0.25] = [-0.5, 0, 0, 0, 0.5, 0.5]
    const q = sqQuantize(tf.tensor1d(W6), s(0.5), s(Math.PI / 4));
    expectClose(values(q), [-0.5, 0, 0, 0, 0.5, 0.5], 0);
  });

  it('ternary forward at the default init β = 3π/8', () => {
    // tan(3π/8) = 1 + √2 = 2.41421; sqrt = 1.55377; Δ = 0.5 / 2.55377 = 0.195789
    // |W| > 0.1958: -0.9, 0.3, 1.0 -> Q = [-0.5, 0, 0, 0, 0.5, 0.5]
    const q = sqQuantize(tf.tensor1d(W6), s(0.5), s((3 * Math.PI) / 8));
    expectClose(values(q), [-0.5, 0, 0, 0, 0.5, 0.5], 0);
    expectClose(values(sqDelta(s(0.5), s((3 * Math.PI) / 8))), [0.195789], 1e-6);
  });

  it('binary forward: Q = α · sign(W) with sign(0) = +1', () => {
    // β = π/2 − 1e-4 (upper clip) ≥ π/2 − 0.01: binary
    // Q = 0.5 · [-1, -1, +1 (sign 0 = +1), +1, +1, +1]
    const q = sqQuantize(tf.tensor1d(W6), s(0.5), s(Math.PI / 2 - 1e-4));
    expectClose(values(q), [-0.5, -0.5, 0.5, 0.5, 0.5, 0.5], 0);
  });

  it('switches exactly at β = π/2 − binaryMargin (float32)', () => {
    const w = tf.tensor1d(W6);
    const edge = Math.fround(Math.PI / 2 - 0.01);
    const below = nextDownF32(edge);
    expect(sqIsBinary(edge)).toBe(true);
    expect(sqIsBinary(below)).toBe(false);
    // on the boundary: binary, the 0 weight gets +α
    expectClose(values(sqQuantize(w, s(0.5), s(edge))), [-0.5, -0.5, 0.5, 0.5, 0.5, 0.5], 0);
    // one float32 below: ternary with Δ = 0.5 / (1 + sqrt(cot 0.01)) = 0.5 / 10.99983 = 0.045455
    // |W| > 0.045455: -0.9, -0.05, 0.3, 1.0 -> Q = [-0.5, -0.5, 0, 0, 0.5, 0.5]
    expectClose(values(sqQuantize(w, s(0.5), s(below))), [-0.5, -0.5, 0, 0, 0.5, 0.5], 0);
    // a configurable margin moves the boundary: π/2 − 0.2 = 1.3708
    const edge2 = Math.fround(Math.PI / 2 - 0.2);
    // Δ one ulp below = 0.5 / (1 + sqrt(tan 1.3708)) = 0.5 / (1 + sqrt(4.9332)) = 0.5 / 3.22108 = 0.15523
    // |W| > 0.155: -0.9, 0.3, 1.0
    expectClose(
      values(sqQuantize(w, s(0.5), s(nextDownF32(edge2)), { binaryMargin: 0.2 })),
      [-0.5, 0, 0, 0, 0.5, 0.5],
      0,
    );
    expectClose(
      values(sqQuantize(w, s(0.5), s(edge2), { binaryMargin: 0.2 })),
      [-0.5, -0.5, 0.5, 0.5, 0.5, 0.5],
      0,
    );
  });

  it('binaryMargin 0 never switches: the upper clip stays ternary', () => {
    // β = π/2 − 1e-4 < π/2 − 0: ternary with Δ = 0.5/101 = 0.00495: only the 0 weight is zeroed
    const q = sqQuantize(tf.tensor1d(W6), s(0.5), s(Math.PI / 2 - 1e-4), { binaryMargin: 0 });
    expectClose(values(q), [-0.5, -0.5, 0, 0.5, 0.5, 0.5], 0);
  });

  it('ternary gradients: dW = G, dα = Σ_{Q≠0} sign(Q)·g, dβ = 0', () => {
    // G = [0.3, -0.7, 1.1, 0.2, -0.4, 0.9]; codes at β = π/4: [-1, 0, 0, 0, 1, 1]
    // dα = (-1)(0.3) + (1)(-0.4) + (1)(0.9) = -0.3 - 0.4 + 0.9 = 0.2
    const [q, dw, da, db] = forwardAndGrads(tf.tensor1d(W6), 0.5, Math.PI / 4, tf.tensor1d(G6));
    expectClose(q, [-0.5, 0, 0, 0, 0.5, 0.5], 0);
    expectClose(dw, [0.3, -0.7, 1.1, 0.2, -0.4, 0.9], 1e-7);
    expectClose(da, [0.2], 1e-6);
    expectClose(db, [0], 0);
  });

  it('ternary gradients with a narrow band (β = π/2 − 0.005, margin 0.001)', () => {
    // codes [-1, -1, 0, 1, 1, 1]; dα = -0.3 + 0.7 + 0.2 - 0.4 + 0.9 = 1.1
    const [, dw, da, db] = forwardAndGrads(
      tf.tensor1d(W6),
      0.5,
      Math.PI / 2 - 0.005,
      tf.tensor1d(G6),
      0.001,
    );
    expectClose(dw, [0.3, -0.7, 1.1, 0.2, -0.4, 0.9], 1e-7);
    expectClose(da, [1.1], 1e-6);
    expectClose(db, [0], 0);
  });

  it('binary gradients: dα sums over every weight with sign(0) = +1', () => {
    // codes [-1, -1, 1, 1, 1, 1]; dα = -0.3 + 0.7 + 1.1 + 0.2 - 0.4 + 0.9 = 2.2
    const [, dw, da, db] = forwardAndGrads(
      tf.tensor1d(W6),
      0.5,
      Math.PI / 2 - 1e-4,
      tf.tensor1d(G6),
    );
    expectClose(dw, [0.3, -0.7, 1.1, 0.2, -0.4, 0.9], 1e-7);
    expectClose(da, [2.2], 1e-6);
    expectClose(db, [0], 0);
  });

  it('one α for the whole layer: 2-D [in, out] and 4-D conv kernels', () => {
    // SQ has no per-channel mode: the same values in any shape give the same codes and dα.
    // 2-D [3, 2] = [[-0.9, -0.05], [0, 0.04], [0.3, 1.0]], β = π/4 -> Δ = 0.25
    const w2 = tf.tensor2d(W6, [3, 2]);
    const g2 = tf.tensor2d(G6, [3, 2]);
    const [q2, dw2, da2] = forwardAndGrads(w2, 0.5, Math.PI / 4, g2);
    expectClose(q2, [-0.5, 0, 0, 0, 0.5, 0.5], 0);
    expectClose(dw2, G6, 1e-7);
    expectClose(da2, [0.2], 1e-6); // as in the 1-D case: -0.3 - 0.4 + 0.9
    // 4-D [1, 1, 2, 3] conv kernel, binary: codes [-1, -1, 1, 1, 1, 1], dα = 2.2
    const w4 = tf.tensor4d(W6, [1, 1, 2, 3]);
    const g4 = tf.tensor4d(G6, [1, 1, 2, 3]);
    const [q4, dw4, da4] = forwardAndGrads(w4, 0.5, Math.PI / 2 - 1e-4, g4);
    expectClose(q4, [-0.5, -0.5, 0.5, 0.5, 0.5, 0.5], 0);
    expectClose(dw4, G6, 1e-7);
    expectClose(da4, [2.2], 1e-6);
    expect(sqQuantize(w4, s(0.5), s(1)).shape).toEqual([1, 1, 2, 3]);
  });

  it('all-zero kernel: all zeros when ternary, all +α when binary', () => {
    const z = tf.zeros([2, 3]);
    const g = tf.tensor2d(G6, [2, 3]);
    const [qt, dwt, dat] = forwardAndGrads(z, 0.5, Math.PI / 4, g);
    expectClose(qt, [0, 0, 0, 0, 0, 0], 0);
    expectClose(dwt, G6, 1e-7);
    expectClose(dat, [0], 0); // no Q ≠ 0
    // binary: sign(0) = +1 -> Q = +0.5 everywhere, dα = Σ g = 0.3-0.7+1.1+0.2-0.4+0.9 = 1.4
    const [qb, , dab] = forwardAndGrads(z, 0.5, Math.PI / 2 - 1e-4, g);
    expectClose(qb, [0.5, 0.5, 0.5, 0.5, 0.5, 0.5], 0);
    expectClose(dab, [1.4], 1e-6);
  });

  it('all weights inside the band: Q = 0, dα = 0, dW = G', () => {
    // β = π/4 -> Δ = 0.25; every |W| ≤ 0.25
    const w = tf.tensor1d([0.1, -0.2, 0.25, -0.05]);
    const g = tf.tensor1d([1, -2, 3, 0.5]);
    const [q, dw, da, db] = forwardAndGrads(w, 0.5, Math.PI / 4, g);
    expectClose(q, [0, 0, 0, 0], 0);
    expectClose(dw, [1, -2, 3, 0.5], 0);
    expectClose(da, [0], 0);
    expectClose(db, [0], 0);
  });

  it('one huge outlier maps to α and leaves the other codes alone', () => {
    // α is a trained parameter, not max|W|: W = [1000, 0.3, -0.1, 0.2], α = 0.5, β = π/4, Δ = 0.25
    // codes [1, 1, 0, 0] -> Q = [0.5, 0.5, 0, 0]; G = [2, -1, 5, 7] -> dα = 2 - 1 = 1
    const [q, dw, da] = forwardAndGrads(
      tf.tensor1d([1000, 0.3, -0.1, 0.2]),
      0.5,
      Math.PI / 4,
      tf.tensor1d([2, -1, 5, 7]),
    );
    expectClose(q, [0.5, 0.5, 0, 0], 0);
    expectClose(dw, [2, -1, 5, 7], 0);
    expectClose(da, [1], 1e-6);
  });

  it('NaN or Infinity in the kernel is a clear error', () => {
    expect(() => sqQuantize(tf.tensor1d([0.1, Number.NaN, 0.3]), s(0.5), s(1))).toThrow(
      /sq: the kernel \(shape \[3\]\) contains NaN at flat index 1/,
    );
    expect(() => sqQuantize(tf.tensor1d([Number.POSITIVE_INFINITY]), s(0.5), s(1))).toThrow(
      /sq: the kernel .* contains Infinity/,
    );
  });

  it('rejects bad α, β and binaryMargin with clear errors', () => {
    const w = tf.tensor1d(W6);
    expect(() => sqQuantize(w, s(Number.NaN), s(1))).toThrow(
      'sq: alpha must be a finite number > 0, got NaN',
    );
    expect(() => sqQuantize(w, s(0), s(1))).toThrow('sq: alpha must be a finite number > 0, got 0');
    expect(() => sqQuantize(w, s(-0.5), s(1))).toThrow(
      /alpha must be a finite number > 0, got -0.5/,
    );
    expect(() => sqQuantize(w, s(0.5), s(Number.NaN))).toThrow(
      /sq: beta must be a finite number in \(0, π\/2\)/,
    );
    expect(() => sqQuantize(w, s(0.5), s(Math.PI / 2))).toThrow(/beta must be .* got 1.57079/);
    expect(() => sqQuantize(w, s(0.5), s(0))).toThrow(/beta must be/);
    expect(() => sqQuantize(w, tf.tensor1d([0.5, 0.5]) as unknown as tf.Scalar, s(1))).toThrow(
      'sq: alpha must be a scalar tensor, got shape [2]',
    );
    expect(() => sqQuantize(w, s(0.5), s(1), { binaryMargin: -0.1 })).toThrow(
      'sq: option "binaryMargin" must be >= 0, got -0.1',
    );
    expect(() => sqQuantize(w, s(0.5), s(1), { binaryMargin: 1 })).toThrow(
      /sq: option "binaryMargin" must be <= 0.785/,
    );
    expect(() => sqIsBinary(1, Number.NaN)).toThrow(/binaryMargin" must be a finite number/);
  });

  it('the host Δ used by the forward is bit-identical to sqDelta on the backend', () => {
    // Δ is formed on the host from the backend's tan β (float32 sqrt, add, div
    // emulated in float64, each rounded to float32); sqDelta computes it on the device.
    const betas = [Math.PI / 4, (3 * Math.PI) / 8, Math.PI / 2 - 1e-4, Math.PI / 2 - 0.01, 1e-6];
    for (let i = 0; i < 400; i++)
      betas.push(1e-6 + ((i * 0.6180339887) % 1) * (Math.PI / 2 - 2e-6));
    betas.forEach((beta, i) => {
      const alpha = Math.exp(((i * 0.7548776662) % 1) * 30 - 20); // 2e-9 .. 2e4
      const a = s(alpha);
      const b = s(beta);
      const d = sqDelta(a, b);
      expect(sqScalars(a, b).delta).toBe(d.dataSync()[0]);
      tf.dispose([a, b, d]);
    });
  });

  it('weights exactly at ±Δ stay 0 (|W| > Δ is strict)', () => {
    const a = s(0.5);
    const b = s(1.2);
    const delta = sqDelta(a, b).dataSync()[0]!;
    const up = nextUpF32(delta);
    const q = sqQuantize(tf.tensor1d([delta, -delta, up, -up]), a, b);
    // Q = 0.5 · [0, 0, +1, −1]
    expectClose(values(q), [0, 0, 0.5, -0.5], 0);
  });

  it('binary forward maps −0 to +α, as sign(0) = +1', () => {
    const q = sqQuantize(tf.tensor1d([-0, 0, -1e-30, 1e-30]), s(0.5), s(Math.PI / 2 - 1e-4));
    expectClose(values(q), [0.5, 0.5, -0.5, 0.5], 0);
  });

  it('follows α and β variables as they are assigned (no stale scalars)', () => {
    const w = tf.tensor1d(W6);
    const a = tf.variable(tf.scalar(0.5));
    const b = tf.variable(tf.scalar(Math.PI / 4));
    // β = π/4, α = 0.5: Δ = 0.25 -> [-0.5, 0, 0, 0, 0.5, 0.5]
    expectClose(values(sqQuantize(w, a, b)), [-0.5, 0, 0, 0, 0.5, 0.5], 0);
    // α = 0.1: Δ = 0.05 (-0.05 is not beyond it) -> [-0.1, 0, 0, 0, 0.1, 0.1]
    a.assign(tf.scalar(0.1));
    expectClose(values(sqQuantize(w, a, b)), [-0.1, 0, 0, 0, 0.1, 0.1], 1e-8);
    // β at the upper clip: binary -> 0.1 · [-1, -1, 1, 1, 1, 1]
    b.assign(tf.scalar(Math.PI / 2 - 1e-4));
    expectClose(values(sqQuantize(w, a, b)), [-0.1, -0.1, 0.1, 0.1, 0.1, 0.1], 1e-8);
    // back to ternary at π/4
    b.assign(tf.scalar(Math.PI / 4));
    expectClose(values(sqQuantize(w, a, b)), [-0.1, 0, 0, 0, 0.1, 0.1], 1e-8);
    tf.dispose([w, a, b]);
  });

  it('a training step of one layer (forward, regularizer, gradients) launches few kernels', async () => {
    const w = tf.variable(wavyKernel([3, 3, 16, 16]));
    const a = tf.variable(tf.scalar(0.2));
    const b = tf.variable(tf.scalar(1.2));
    const g = wavyKernel([3, 3, 16, 16]).reverse(3);
    const step = () =>
      tf.tidy(() => {
        // new α and β values each step, as after an optimizer update
        a.assign(tf.scalar(0.2));
        b.assign(tf.scalar(1.2));
        const { value, grads } = tf.variableGrads(() =>
          tf.add(
            tf.sum(tf.mul(sqQuantize(w, a, b), g)),
            sqRegularizer(w, a, b, { lambda: 1, gamma: 0.01 }),
          ),
        );
        value.dataSync();
        return grads;
      });
    tf.dispose(step());
    const profile = await tf.profile(() => {
      tf.dispose(step());
    });
    // The plain implementation launched about 160 kernels here; the closed form ~50
    // (cheap Identity clones included).
    expect(profile.kernels.length).toBeLessThan(70);
    tf.dispose([w, a, b, g]);
  });

  it('does not leak tensors over forward + backward', () => {
    const w = tf.variable(wavyKernel([3, 3, 4, 5]));
    const a = tf.variable(tf.scalar(0.2));
    const g = wavyKernel([3, 3, 4, 5]).reverse(0);
    for (const beta of [1.1, Math.PI / 2 - 1e-4]) {
      const b = tf.variable(tf.scalar(beta));
      const growth = tensorGrowth(() => {
        tf.dispose(sqQuantize(w, a, b));
        const grads = tf.grads((x, y, z) =>
          tf.sum(tf.mul(sqQuantize(x, y as tf.Scalar, z as tf.Scalar), g)),
        )([w, a, b]);
        tf.dispose(grads);
      });
      expect(growth).toBe(0);
      b.dispose();
    }
    tf.dispose([w, a, g]);
  });
});

describe('sqQuantize backend parity', () => {
  it.skipIf(backends.length < 2)('native and cpu agree on forward and gradients', async () => {
    const shape = [5, 5, 8, 6];
    const run = (beta: number) => {
      const w = wavyKernel(shape);
      const g = wavyKernel(shape).reverse(3);
      const [q, dw, da, db] = forwardAndGrads(w, 0.2, beta, g);
      tf.dispose([w, g]);
      return { q, dw, da, db };
    };
    // no weight within 1e-4 of Δ, so float32 differences in tan cannot flip a code
    const w = wavyKernel(shape);
    const abs = values(tf.abs(w));
    const delta = 0.2 / (1 + Math.sqrt(Math.tan(1.1)));
    expect(Math.min(...abs.map((v) => Math.abs(v - delta)))).toBeGreaterThan(1e-4);
    for (const beta of [1.1, Math.PI / 2 - 1e-4]) {
      const [x, y] = [
        await withBackend('tensorflow', () => run(beta)),
        await withBackend('cpu', () => run(beta)),
      ];
      expect(maxAbsDiff(x.q, y.q)).toBe(0);
      expect(maxAbsDiff(x.dw, y.dw)).toBe(0);
      expect(maxAbsDiff(x.da, y.da)).toBeLessThan(1e-4);
      expect(x.db).toEqual([0]);
      expect(y.db).toEqual([0]);
      // a real split: both codes present in the ternary case
      if (beta === 1.1) expect(x.q.filter((v) => v === 0).length).toBeGreaterThan(0);
    }
  });
});
