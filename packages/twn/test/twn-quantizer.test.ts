import * as tf from '@tensorflow/tfjs';
import {
  dequantizeExport,
  getQuantizer,
  listQuantizers,
  Quantizer,
  quantizerInfo,
} from '@trit/quant-core';
import { maxAbsDiff, tensorGrowth, testBackends, withBackend } from '@trit/quant-core/testing';
import { describe, expect, it } from 'vitest';
import { TWN_PRESETS, TWNQuantizer, twnQuantize } from '../src/index.js';
import { TWN_NAME } from '../src/twn-quantizer.js';
import { expectClose, pseudoNormal, rel } from './helpers.js';

const backends = await testBackends();

const A = [-0.9, -0.05, 0, 0.04, 0.3, 1.0];
// [in = 3, out = 2]: column 0 = [0.6, -0.1, 0.2], column 1 = [-2, 1, 0.5].
const C = [
  [0.6, -2],
  [-0.1, 1],
  [0.2, 0.5],
];
const E = [1, 0.3, -1, 0.3, 0.1, -0.3, 0.2, 0.01];
const E_SHAPE = [1, 2, 2, 2];

describe('registry', () => {
  it('importing the package registers "twn" with a description and the paper', () => {
    expect(listQuantizers()).toContain('twn');
    expect(TWN_NAME).toBe('twn');
    const info = quantizerInfo('twn');
    expect(info.name).toBe('twn');
    expect(info.description).toMatch(/Ternary Weight Networks/);
    expect(info.paper).toBe(
      'Li, Zhang, Liu, "Ternary Weight Networks", arXiv:1605.04711, 2016; 2022 revision (Li, Liu, Wang, Zhang, Yan)',
    );
  });

  it('getQuantizer("twn") returns a TWNQuantizer with the 2016 defaults', () => {
    const q = getQuantizer('twn');
    expect(q).toBeInstanceOf(TWNQuantizer);
    expect(q).toBeInstanceOf(Quantizer);
    expect(q.name).toBe('twn');
    expect(q.getConfig()).toEqual({ deltaFactor: 0.7, perChannel: false });
  });

  it('getQuantizer("twn", config) returns a configured instance; getConfig round-trips', () => {
    const q = getQuantizer('twn', { deltaFactor: 0.75, perChannel: true });
    expect(q.config).toEqual({ deltaFactor: 0.75, perChannel: true });
    const again = getQuantizer('twn', q.getConfig());
    expect(again.getConfig()).toEqual(q.getConfig());
    expect(JSON.parse(JSON.stringify(q.getConfig()))).toEqual({
      deltaFactor: 0.75,
      perChannel: true,
    });
    // partial configs fill the defaults
    expect(getQuantizer('twn', { perChannel: true }).getConfig()).toEqual({
      deltaFactor: 0.7,
      perChannel: true,
    });
    expect(getQuantizer('twn', TWN_PRESETS.revision2022).getConfig()).toEqual({
      deltaFactor: 0.75,
      perChannel: true,
    });
  });

  it('the config is frozen and getConfig returns a copy', () => {
    const q = new TWNQuantizer({ deltaFactor: 0.8 });
    const c = q.getConfig();
    c.deltaFactor = 3;
    expect(q.config.deltaFactor).toBe(0.8);
    expect(Object.isFrozen(q.config)).toBe(true);
  });

  it.each([
    [{ deltaFactor: 0 }, 'twn: option "deltaFactor" must be > 0, got 0'],
    [{ deltaFactor: -1 }, 'twn: option "deltaFactor" must be > 0, got -1'],
    [{ deltaFactor: Number.NaN }, 'twn: option "deltaFactor" must be a finite number, got NaN'],
    [
      { deltaFactor: Number.POSITIVE_INFINITY },
      'twn: option "deltaFactor" must be a finite number, got Infinity',
    ],
    [{ deltaFactor: '0.7' }, 'twn: option "deltaFactor" must be a number, got "0.7"'],
    [{ perChannel: 1 }, 'twn: option "perChannel" must be a boolean, got 1'],
    [{ threshold: 0.7 }, 'twn: unknown option "threshold"; valid options: deltaFactor, perChannel'],
  ])('getQuantizer rejects %o', (config, message) => {
    expect(() => getQuantizer('twn', config)).toThrow(message);
    expect(() => new TWNQuantizer(config)).toThrow(message);
  });

  it('is 2-bit, with no trainable parameters, regularizer or schedule state', () => {
    const q = getQuantizer('twn');
    expect(q.precision()).toBe(2);
    expect(q.paramSpecs()).toEqual([]);
    const w = tf.tensor1d(A);
    expect(q.regularizer(w, {})).toBeNull();
    w.dispose();
    expect(q.getState()).toEqual({});
  });
});

describe.each(backends)('TWNQuantizer on the %s backend', (backend) => {
  const run = (fn: () => void) => () => withBackend(backend, () => tf.tidy(fn));

  it(
    'quantize() applies its config (per layer default, per channel when set)',
    run(() => {
      // per layer: α = 1.2 (see twn-quantize.test.ts: mean|W| = 4.4 / 6, Δ = 0.51333333)
      expectClose(
        getQuantizer('twn').quantize(tf.tensor2d(C), {}),
        [1.2, -1.2, 0, 1.2, 0, 0],
        rel(1e-6),
      );
      // per channel: α = [0.6, 1.5]
      const perChannel = getQuantizer('twn', { perChannel: true });
      expectClose(perChannel.quantize(tf.tensor2d(C), {}), [0.6, -1.5, 0, 1.5, 0, 0], rel(1e-6));
      // its gradient is the identity STE
      const g = tf.grad((w: tf.Tensor) =>
        tf.sum(
          tf.mul(
            perChannel.quantize(w, {}),
            tf.tensor2d([
              [1, 2],
              [3, 4],
              [5, 6],
            ]),
          ),
        ),
      )(tf.tensor2d(C));
      expectClose(g, [1, 2, 3, 4, 5, 6], rel(0));
    }),
  );

  it(
    'stats: code shares, α and Δ per layer',
    run(() => {
      // A: T = [-1, 0, 0, 0, 1, 1] -> shares 1/6, 3/6, 2/6
      // mean|W| = 2.29 / 6; Δ = 0.7 · 2.29 / 6 = 1.603 / 6 = 0.26716667; α = 2.2 / 3
      const s = getQuantizer('twn').stats(tf.tensor1d(A), {});
      expect(s.quantizer).toBe('twn');
      expect(s.bits).toBe(2);
      expect(s.numWeights).toBe(6);
      expectClose(
        [s.share.negative, s.share.zero, s.share.positive],
        [0.16666667, 0.5, 0.33333333],
        rel(1e-6),
      );
      expect(typeof s.scales.alpha).toBe('number');
      expectClose(
        [s.scales.alpha as number, s.scales.delta as number],
        [0.73333333, 0.26716667],
        rel(1e-6),
      );
      expect(s.extra).toEqual({ deltaFactor: 0.7 });
    }),
  );

  it(
    'stats: α and Δ per output channel (arrays), dense and conv',
    run(() => {
      // C, δ = 0.75 per channel: column 0: mean|W| = 0.3, Δ0 = 0.225 -> kept 0.6 -> α0 = 0.6
      //                          column 1: mean|W| = 3.5 / 3, Δ1 = 0.875 -> kept -2, 1 -> α1 = 1.5
      // T = [1, -1, 0, 1, 0, 0] -> shares 1/6, 3/6, 2/6
      const q = getQuantizer('twn', TWN_PRESETS.revision2022);
      const s = q.stats(tf.tensor2d(C), {});
      expect(Array.isArray(s.scales.alpha)).toBe(true);
      expectClose(s.scales.alpha as number[], [0.6, 1.5], rel(1e-6));
      expectClose(s.scales.delta as number[], [0.225, 0.875], rel(1e-6));
      expectClose(
        [s.share.negative, s.share.zero, s.share.positive],
        [0.16666667, 0.5, 0.33333333],
        rel(1e-6),
      );
      expect(s.extra).toEqual({ deltaFactor: 0.75 });
      // E, δ = 0.7 per channel: α = [1, 0.3], Δ = [0.4025, 0.15925]
      // T = [1, 1, -1, 1, 0, -1, 0, 0] -> shares 2/8, 3/8, 3/8
      const e = getQuantizer('twn', { perChannel: true }).stats(
        tf.tensor4d(E, E_SHAPE as never),
        {},
      );
      expectClose(e.scales.alpha as number[], [1, 0.3], rel(1e-6));
      expectClose(e.scales.delta as number[], [0.4025, 0.15925], rel(1e-6));
      expectClose(
        [e.share.negative, e.share.zero, e.share.positive],
        [0.25, 0.375, 0.375],
        rel(1e-6),
      );
      expect(e.numWeights).toBe(8);
    }),
  );

  it(
    'stats on an all-zero kernel: every code zero, α = 0, Δ = 0',
    run(() => {
      const s = getQuantizer('twn', { perChannel: true }).stats(tf.zeros([3, 2]), {});
      expect(s.share).toEqual({ negative: 0, zero: 1, positive: 0 });
      expect(s.scales).toEqual({ alpha: [0, 0], delta: [0, 0] });
    }),
  );

  it(
    'exportTernary: codes and α per layer; dequantizeExport equals quantize()',
    run(() => {
      const q = getQuantizer('twn');
      const w = tf.tensor1d(A);
      const e = q.exportTernary(w, {})!;
      expect(e.bits).toBe(2);
      expect(e.shape).toEqual([6]);
      expect(Array.from(e.codes)).toEqual([-1, 0, 0, 0, 1, 1]);
      expect(e.positive).toHaveLength(1);
      expectClose(e.positive, [0.73333333], rel(1e-6));
      expect(Array.from(e.negative)).toEqual(Array.from(e.positive));
      expect(maxAbsDiff(dequantizeExport(e), q.quantize(w, {}).dataSync())).toBe(0);
    }),
  );

  it(
    'exportTernary: per-channel scales, dense and conv; dequantizeExport equals quantize()',
    run(() => {
      const q = getQuantizer('twn', { perChannel: true });
      const dense = tf.tensor2d(C);
      const e = q.exportTernary(dense, {})!;
      expect(e.shape).toEqual([3, 2]);
      expect(Array.from(e.codes)).toEqual([1, -1, 0, 1, 0, 0]);
      expectClose(e.positive, [0.6, 1.5], rel(1e-6));
      expectClose(e.negative, [0.6, 1.5], rel(1e-6));
      expect(maxAbsDiff(dequantizeExport(e), q.quantize(dense, {}).dataSync())).toBe(0);

      const conv = tf.tensor4d(E, E_SHAPE as [number, number, number, number]);
      const ec = q.exportTernary(conv, {})!;
      expect(ec.shape).toEqual(E_SHAPE);
      expect(Array.from(ec.codes)).toEqual([1, 1, -1, 1, 0, -1, 0, 0]);
      expectClose(ec.positive, [1, 0.3], rel(1e-6));
      expect(maxAbsDiff(dequantizeExport(ec), q.quantize(conv, {}).dataSync())).toBe(0);

      // and on a larger pseudo-random conv kernel, per layer and per channel
      const big = tf.tensor4d(pseudoNormal(3 * 3 * 4 * 8, 7), [3, 3, 4, 8]);
      for (const config of [TWN_PRESETS.paper2016, TWN_PRESETS.revision2022]) {
        const quantizer = getQuantizer('twn', config);
        const exported = quantizer.exportTernary(big, {})!;
        expect(exported.positive).toHaveLength(config.perChannel ? 8 : 1);
        expect(maxAbsDiff(dequantizeExport(exported), quantizer.quantize(big, {}).dataSync())).toBe(
          0,
        );
      }
    }),
  );

  it(
    'stats and exportTernary reject a NaN kernel with a clear error',
    run(() => {
      const q = getQuantizer('twn');
      const bad = tf.tensor2d([[0.1, Number.NaN]]);
      const message = 'twn: the kernel (shape [1, 2]) contains NaN at flat index 1';
      expect(() => q.quantize(bad, {})).toThrow(message);
      expect(() => q.stats(bad, {})).toThrow(message);
      expect(() => q.exportTernary(bad, {})).toThrow(message);
    }),
  );

  it(
    'quantize, stats and exportTernary leak no tensors',
    run(() => {
      const w = tf.tensor4d(pseudoNormal(3 * 3 * 4 * 8, 11), [3, 3, 4, 8]);
      const upstream = tf.tensor4d(pseudoNormal(3 * 3 * 4 * 8, 12), [3, 3, 4, 8]);
      for (const config of [TWN_PRESETS.paper2016, TWN_PRESETS.revision2022]) {
        const q = getQuantizer('twn', config);
        const growth = tensorGrowth(() => {
          const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(q.quantize(x, {}), upstream)))(w);
          g.dispose();
          q.stats(w, {});
          q.exportTernary(w, {});
        });
        expect(growth).toBe(0);
      }
    }),
  );
});

describe('native (tensorflow) vs cpu parity', () => {
  it.skipIf(backends.length < 2)(
    'forward, gradient, stats and export agree between the backends',
    async () => {
      const cases = [
        { shape: [3, 3, 16, 32], seed: 21 },
        { shape: [64, 10], seed: 22 },
      ];
      for (const { shape, seed } of cases) {
        const n = shape.reduce((a, b) => a * b, 1);
        const values = pseudoNormal(n, seed);
        const upstream = pseudoNormal(n, seed + 100);
        for (const config of [TWN_PRESETS.paper2016, TWN_PRESETS.revision2022]) {
          const results = [];
          for (const backend of backends) {
            results.push(
              await withBackend(backend, () => {
                const q = getQuantizer('twn', config);
                const w = tf.tensor(values, shape);
                const g = tf.tensor(upstream, shape);
                const qT = q.quantize(w, {});
                const gradT = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(twnQuantize(x, config), g)))(
                  w,
                );
                const out = {
                  q: Float32Array.from(qT.dataSync()),
                  grad: Float32Array.from(gradT.dataSync()),
                  stats: q.stats(w, {}),
                  codes: q.exportTernary(w, {})!.codes,
                };
                tf.dispose([w, g, qT, gradT]);
                return out;
              }),
            );
          }
          const [native, cpu] = results as [(typeof results)[0], (typeof results)[0]];
          const label = `${shape} ${JSON.stringify(config)}`;
          expect(Array.from(native.codes), label).toEqual(Array.from(cpu.codes));
          expect(maxAbsDiff(native.q, cpu.q), label).toBeLessThan(1e-6);
          expect(maxAbsDiff(native.grad, cpu.grad), label).toBe(0);
          expect(native.stats.share, label).toEqual(cpu.stats.share);
          const alphaN = [native.stats.scales.alpha].flat() as number[];
          const alphaC = [cpu.stats.scales.alpha].flat() as number[];
          expect(maxAbsDiff(alphaN, alphaC), label).toBeLessThan(1e-6);
          // a real kernel has all three codes
          expect(native.stats.share.zero, label).toBeGreaterThan(0.2);
          expect(native.stats.share.zero, label).toBeLessThan(0.7);
        }
      }
    },
  );
});
