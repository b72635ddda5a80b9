import * as tf from '@tensorflow/tfjs';
import {
  dequantizeExport,
  getQuantizer,
  listQuantizers,
  type QuantizerParams,
  quantizerInfo,
} from '@trit/quant-core';
import { maxAbsDiff, tensorGrowth, testBackends, withBackend } from '@trit/quant-core/testing';
import { describe, expect, it } from 'vitest';
import { TTQ_DEFAULTS, TTQQuantizer, ttqInitScales, ttqQuantize } from '../src/index.js';
import { expectClose, weightedSum } from './helpers.js';

const backends = await testBackends();

const W6 = [-0.9, -0.05, 0, 0.04, 0.3, 1.0];

function scalars(wp: number, wn: number): QuantizerParams {
  return { wp: tf.scalar(wp), wn: tf.scalar(wn) };
}

function initOf(q: TTQQuantizer, kernel: tf.Tensor): [number, number] {
  const specs = q.paramSpecs();
  return [specs[0]!.init(kernel), specs[1]!.init(kernel)];
}

describe('TTQQuantizer config', () => {
  it('has the documented defaults, name and precision', () => {
    const q = new TTQQuantizer();
    expect(q.name).toBe('ttq');
    expect(q.config).toEqual({ threshold: 0.05, init: 'one' });
    expect(q.getConfig()).toEqual({ threshold: 0.05, init: 'one' });
    expect(q.precision()).toBe(2);
    expect(q.precision(scalars(1, 1))).toBe(2);
    expect(Object.isFrozen(q.config)).toBe(true);
  });

  it('declares wp and wn, without clip ranges', () => {
    const specs = new TTQQuantizer().paramSpecs();
    expect(specs.map((s) => s.name)).toEqual(['wp', 'wn']);
    for (const s of specs) expect(s.clip).toBeUndefined();
  });

  it('has no schedule state', () => {
    const q = new TTQQuantizer();
    expect(q.getState()).toEqual({});
    q.setState({});
    q.onStep({ epoch: 1, epochs: 2, step: 0, stepsPerEpoch: 10 });
    expect(q.getState()).toEqual({});
    expect(q.regularizer(tf.tensor1d(W6), scalars(1, 1))).toBeNull();
  });

  it('rejects out-of-range thresholds, naming the field and the value', () => {
    expect(() => new TTQQuantizer({ threshold: 0 })).toThrow(
      'ttq: option "threshold" must be > 0, got 0',
    );
    expect(() => new TTQQuantizer({ threshold: 1 })).toThrow(
      'ttq: option "threshold" must be < 1, got 1',
    );
    expect(() => new TTQQuantizer({ threshold: -0.5 })).toThrow('must be > 0, got -0.5');
    expect(() => new TTQQuantizer({ threshold: Number.POSITIVE_INFINITY })).toThrow(
      'ttq: option "threshold" must be a finite number, got Infinity',
    );
  });

  it('rejects wrong types, unknown init modes and unknown keys', () => {
    expect(() => new TTQQuantizer({ threshold: '0.05' })).toThrow(
      'ttq: option "threshold" must be a number, got "0.05"',
    );
    expect(() => new TTQQuantizer({ init: 'zero' })).toThrow(
      'ttq: option "init" must be one of "one", "mean", got "zero"',
    );
    expect(() => new TTQQuantizer({ init: 1 })).toThrow(
      'ttq: option "init" must be a string, got 1',
    );
    expect(() => new TTQQuantizer({ perChannel: true })).toThrow(
      'ttq: unknown option "perChannel"; valid options: threshold, init',
    );
  });
});

describe('TTQQuantizer registry', () => {
  it('is registered as "ttq" with a description and the paper', () => {
    expect(listQuantizers()).toContain('ttq');
    const info = quantizerInfo('ttq');
    expect(info.name).toBe('ttq');
    expect(info.description).toMatch(/Trained Ternary Quantization/);
    expect(info.paper).toBe(
      'Zhu, Han, Mao, Dally, "Trained Ternary Quantization", ICLR 2017, arXiv:1612.01064',
    );
  });

  it('round-trips its config through the registry and JSON', () => {
    const q = getQuantizer('ttq', { threshold: 0.1, init: 'one' });
    expect(q).toBeInstanceOf(TTQQuantizer);
    expect(q.getConfig()).toEqual({ threshold: 0.1, init: 'one' });
    const again = getQuantizer('ttq', JSON.parse(JSON.stringify(q.getConfig())));
    expect(again.getConfig()).toEqual(q.getConfig());
    expect(again).not.toBe(q); // one instance per layer
    expect(getQuantizer('ttq').getConfig()).toEqual({ threshold: 0.05, init: 'one' });
    expect(() => getQuantizer('ttq', { threshold: 2 })).toThrow('must be < 1, got 2');
  });

  it('round-trips trained Wp, Wn: an export rebuilt from saved values matches', () => {
    const q = getQuantizer('ttq', { threshold: 0.1 });
    const w = tf.tensor1d(W6);
    const trained = scalars(1.25, 0.75);
    const saved = JSON.stringify({
      config: q.getConfig(),
      state: q.getState(),
      params: { wp: trained.wp!.dataSync()[0], wn: trained.wn!.dataSync()[0] },
    });
    const loaded = JSON.parse(saved);
    const q2 = getQuantizer('ttq', loaded.config);
    q2.setState(loaded.state);
    const params2 = scalars(loaded.params.wp, loaded.params.wn);
    expectClose(q2.quantize(w, params2), Array.from(q.quantize(w, trained).dataSync()), 1e-6);
  });
});

describe.each(backends)('TTQQuantizer init on %s', (backend) => {
  it("'one' initialises both scales to 1.0 (official code)", () =>
    withBackend(backend, () => {
      expect(initOf(new TTQQuantizer({ init: 'one' }), tf.tensor1d(W6))).toEqual([1, 1]);
      expect(initOf(new TTQQuantizer({ init: 'one' }), tf.zeros([3, 3]))).toEqual([1, 1]);
    }));

  it("'mean' uses the mean |W| of the kept positive / negative weights", () =>
    withBackend(backend, () => {
      // Δ = 0.05: positive kept {0.3, 1.0} -> (0.3 + 1.0) / 2 = 0.65
      // negative kept {-0.9} only (-0.05 is on the boundary, not kept) -> 0.9
      const [wp, wn] = initOf(new TTQQuantizer({ init: 'mean' }), tf.tensor1d(W6));
      expect(wp).toBeCloseTo(0.65, 6);
      expect(wn).toBeCloseTo(0.9, 6);
    }));

  it("'mean' uses the configured threshold", () =>
    withBackend(backend, () => {
      // t = 0.35, Δ = 0.35: positive kept {1.0} -> 1.0; negative kept {-0.9} -> 0.9
      const [wp, wn] = initOf(new TTQQuantizer({ threshold: 0.35, init: 'mean' }), tf.tensor1d(W6));
      expect(wp).toBeCloseTo(1.0, 6);
      expect(wn).toBeCloseTo(0.9, 6);
    }));

  it("'mean' on a 4-D kernel averages over the whole layer", () =>
    withBackend(backend, () => {
      // Δ = 0.04: positive kept {0.2, 0.8, 0.5} -> 1.5 / 3 = 0.5; negative kept {0.4, 0.6} -> 0.5
      const w = tf.tensor4d([0.2, -0.4, 0.01, -0.02, 0.8, -0.03, 0.5, -0.6], [1, 2, 2, 2]);
      const [wp, wn] = initOf(new TTQQuantizer({ init: 'mean' }), w);
      expect(wp).toBeCloseTo(0.5, 6);
      expect(wn).toBeCloseTo(0.5, 6);
    }));

  it("'mean' falls back to the mean of all kept weights when one side is empty", () =>
    withBackend(backend, () => {
      // [0.5, 0.2, 0.01, 0]: Δ = 0.025, positive kept {0.5, 0.2} -> 0.35; no negative kept -> 0.35
      const [wp, wn] = initOf(new TTQQuantizer({ init: 'mean' }), tf.tensor1d([0.5, 0.2, 0.01, 0]));
      expect(wp).toBeCloseTo(0.35, 6);
      expect(wn).toBeCloseTo(0.35, 6);
      // [-0.4, -0.2, 0.01]: Δ = 0.02, negative kept {0.4, 0.2} -> 0.3; 0.01 not kept -> 0.3
      const [wp2, wn2] = initOf(
        new TTQQuantizer({ init: 'mean' }),
        tf.tensor1d([-0.4, -0.2, 0.01]),
      );
      expect(wp2).toBeCloseTo(0.3, 6);
      expect(wn2).toBeCloseTo(0.3, 6);
    }));

  it("'mean' falls back to 1.0 for an all-zero kernel", () =>
    withBackend(backend, () => {
      expect(initOf(new TTQQuantizer({ init: 'mean' }), tf.zeros([2, 2]))).toEqual([1, 1]);
    }));

  it("ttqInitScales and the quantizer share one default init, the reference's 'one'", () =>
    withBackend(backend, () => {
      // docs/algorithms.md#ttq: Wp, Wn initialised to 1.0 (official code); 'mean' is an option.
      expect(TTQ_DEFAULTS.init).toBe('one');
      expect(ttqInitScales(tf.tensor1d(W6))).toEqual({ wp: 1, wn: 1 });
      expect(initOf(new TTQQuantizer(), tf.tensor1d(W6))).toEqual([1, 1]);
    }));

  it("'mean' rejects a NaN kernel; ttqInitScales validates its arguments", () =>
    withBackend(backend, () => {
      expect(() =>
        initOf(new TTQQuantizer({ init: 'mean' }), tf.tensor1d([0.1, Number.NaN])),
      ).toThrow(/ttq: the kernel .* contains NaN/);
      expect(() => ttqInitScales(tf.tensor1d(W6), 'max' as never)).toThrow(
        'ttq: option "init" must be one of "one", "mean", got "max"',
      );
      expect(() => ttqInitScales(tf.tensor1d(W6), 'mean', 0)).toThrow('must be > 0, got 0');
    }));
});

describe.each(backends)('TTQQuantizer quantize, stats, export on %s', (backend) => {
  it('quantize equals ttqQuantize with the configured threshold, gradients included', () =>
    withBackend(backend, () => {
      const q = new TTQQuantizer({ threshold: 0.35 });
      const w = tf.tensor1d(W6);
      const params = scalars(1.5, 0.5);
      // t = 0.35: [-0.5, 0, 0, 0, 0, 1.5]
      expectClose(q.quantize(w, params), [-0.5, 0, 0, 0, 0, 1.5], 1e-6);
      expectClose(
        q.quantize(w, params),
        Array.from(ttqQuantize(w, params.wp!, params.wn!, { threshold: 0.35 }).dataSync()),
        1e-6,
      );
      // G = [0.5, -1, 2, 3, -0.25, 4]: dWp = 4, dWn = -0.5 (see ttq-quantize.test.ts)
      const g = tf.tensor1d([0.5, -1, 2, 3, -0.25, 4]);
      const [, dwp, dwn] = tf.grads((x: tf.Tensor, p: tf.Tensor, n: tf.Tensor) =>
        weightedSum(g)(q.quantize(x, { wp: p, wn: n })),
      )([w, params.wp!, params.wn!]);
      expectClose(dwp!, [4], 1e-6);
      expectClose(dwn!, [-0.5], 1e-6);
    }));

  it('names a missing parameter', () =>
    withBackend(backend, () => {
      const q = new TTQQuantizer();
      const w = tf.tensor1d(W6);
      expect(() => q.quantize(w, { wp: tf.scalar(1) })).toThrow('ttq: missing parameter "wn"');
      expect(() => q.stats(w, { wn: tf.scalar(1) })).toThrow('ttq: missing parameter "wp"');
      expect(() => q.exportTernary(w, {})).toThrow('ttq: missing parameter "wp"');
    }));

  it('reports shares, scales and Δ', () =>
    withBackend(backend, () => {
      // codes [-1, 0, 0, 0, +1, +1]: 1/6 negative, 3/6 zero, 2/6 positive; Δ = 0.05
      const s = new TTQQuantizer().stats(tf.tensor1d(W6), scalars(1.5, 0.5));
      expect(s.quantizer).toBe('ttq');
      expect(s.bits).toBe(2);
      expect(s.numWeights).toBe(6);
      expect(s.share.negative).toBeCloseTo(1 / 6, 10);
      expect(s.share.zero).toBeCloseTo(3 / 6, 10);
      expect(s.share.positive).toBeCloseTo(2 / 6, 10);
      expect(s.scales).toEqual({ wp: 1.5, wn: 0.5 });
      expect(s.extra!.delta).toBeCloseTo(0.05, 7);
      expect(s.extra!.wpNegative).toBe(0);
      expect(s.extra!.wnNegative).toBe(0);
    }));

  it('flags a scale that went negative', () =>
    withBackend(backend, () => {
      const q = new TTQQuantizer();
      const w = tf.tensor1d(W6);
      const a = q.stats(w, scalars(1.5, -0.25));
      expect(a.scales).toEqual({ wp: 1.5, wn: -0.25 });
      expect(a.extra).toMatchObject({ wpNegative: 0, wnNegative: 1 });
      const b = q.stats(w, scalars(-0.5, 0.5));
      expect(b.extra).toMatchObject({ wpNegative: 1, wnNegative: 0 });
      // zero is not negative
      expect(q.stats(w, scalars(0, 0)).extra).toMatchObject({ wpNegative: 0, wnNegative: 0 });
    }));

  it('rejects a NaN kernel in stats and export', () =>
    withBackend(backend, () => {
      const q = new TTQQuantizer();
      const w = tf.tensor1d([0.1, Number.NaN]);
      expect(() => q.stats(w, scalars(1, 1))).toThrow(/ttq: the kernel .* contains NaN/);
      expect(() => q.exportTernary(w, scalars(1, 1))).toThrow(/ttq: the kernel .* contains NaN/);
    }));

  it('exports 2-bit codes with positive = Wp, negative = Wn', () =>
    withBackend(backend, () => {
      const e = new TTQQuantizer().exportTernary(tf.tensor1d(W6), scalars(1.5, 0.5));
      expect(e.bits).toBe(2);
      expect(e.shape).toEqual([6]);
      expect(Array.from(e.codes)).toEqual([-1, 0, 0, 0, 1, 1]);
      expect(Array.from(e.positive)).toEqual([1.5]);
      expect(Array.from(e.negative)).toEqual([0.5]);
    }));

  it('the export dequantizes to exactly the forward kernel (4-D, negative Wn too)', () =>
    withBackend(backend, () => {
      const q = new TTQQuantizer();
      const w = tf.tensor4d([0.2, -0.4, 0.01, -0.02, 0.8, -0.03, 0.5, -0.6], [1, 2, 2, 2]);
      for (const params of [scalars(2, 3), scalars(0.7, -0.2)]) {
        const e = q.exportTernary(w, params);
        expect(e.shape).toEqual([1, 2, 2, 2]);
        expect(Array.from(e.codes)).toEqual([1, -1, 0, 0, 1, 0, 1, -1]);
        expect(maxAbsDiff(dequantizeExport(e), q.quantize(w, params).dataSync())).toBe(0);
      }
    }));

  it('stats and export leave no tensors behind', () =>
    withBackend(backend, () => {
      const q = new TTQQuantizer();
      const w = tf.tensor2d([
        [0.2, -0.5],
        [-0.01, 0.6],
      ]);
      const params = scalars(1, 1);
      expect(tensorGrowth(() => q.stats(w, params))).toBe(0);
      expect(tensorGrowth(() => q.exportTernary(w, params))).toBe(0);
      expect(tensorGrowth(() => q.paramSpecs().map((s) => s.init(w)))).toBe(0);
    }));
});
