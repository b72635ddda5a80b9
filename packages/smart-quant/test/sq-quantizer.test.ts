import * as tf from '@tensorflow/tfjs';
import {
  dequantizeExport,
  getQuantizer,
  listQuantizers,
  type QuantizerParams,
  quantizerInfo,
} from '@trit/quant-core';
import { tensorGrowth, testBackends, withBackend } from '@trit/quant-core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  SQ_ALPHA_MIN,
  SQ_BETA_MAX,
  SQ_BETA_MIN,
  SQQuantizer,
  sqMemoryReport,
  sqQuantize,
  sqRegularizer,
} from '../src/index.js';
import { expectClose, values, W6, wavyKernel } from './helpers.js';

const backends = await testBackends();

function params(alpha: number, beta: number): QuantizerParams {
  return { alpha: tf.scalar(alpha), beta: tf.scalar(beta) };
}

describe('SQQuantizer config', () => {
  it('has the documented defaults', () => {
    const q = new SQQuantizer();
    expect(q.name).toBe('sq');
    expect(q.getConfig()).toEqual({
      lambda: 1e-3,
      gamma: 1e-3,
      binaryMargin: 0.01,
      betaInit: (3 * Math.PI) / 8,
    });
  });

  it('rejects unknown keys, wrong types and out-of-range values, naming the field', () => {
    expect(() => new SQQuantizer({ lamda: 1 })).toThrow(
      'sq: unknown option "lamda"; valid options: lambda, gamma, binaryMargin, betaInit',
    );
    expect(() => new SQQuantizer({ lambda: -1 })).toThrow(
      'sq: option "lambda" must be >= 0, got -1',
    );
    expect(() => new SQQuantizer({ gamma: -1e-3 })).toThrow(
      'sq: option "gamma" must be >= 0, got -0.001',
    );
    expect(() => new SQQuantizer({ gamma: '0.01' })).toThrow(
      'sq: option "gamma" must be a number, got "0.01"',
    );
    expect(() => new SQQuantizer({ lambda: Number.POSITIVE_INFINITY })).toThrow(
      'sq: option "lambda" must be a finite number, got Infinity',
    );
    expect(() => new SQQuantizer({ binaryMargin: -0.01 })).toThrow(
      'option "binaryMargin" must be >= 0',
    );
    expect(() => new SQQuantizer({ binaryMargin: 1 })).toThrow(
      /option "binaryMargin" must be <= 0.785/,
    );
    expect(() => new SQQuantizer({ betaInit: 0.5 })).toThrow(/option "betaInit" must be >= 0.785/);
    expect(() => new SQQuantizer({ betaInit: Math.PI / 2 })).toThrow(
      /option "betaInit" must be <= 1.5706/,
    );
    // the bounds themselves are valid
    expect(new SQQuantizer({ betaInit: SQ_BETA_MIN, binaryMargin: 0 }).config.betaInit).toBe(
      SQ_BETA_MIN,
    );
    expect(new SQQuantizer({ betaInit: SQ_BETA_MAX, lambda: 0, gamma: 0 }).config.betaInit).toBe(
      SQ_BETA_MAX,
    );
  });

  it('is registered as "sq" with description and paper, and round-trips its config', () => {
    expect(listQuantizers()).toContain('sq');
    const info = quantizerInfo('sq');
    expect(info.description).toMatch(/binary or ternary/);
    expect(info.paper).toMatch(/Razani, Morin, Sari, Partovi Nia/);
    expect(info.paper).toMatch(/Adaptive Binary-Ternary Quantization/);
    expect(info.paper).toMatch(/CVPR Workshops 2021/);
    expect(info.paper).toMatch(/arXiv:1909\.12205/);
    expect(info.paper).toMatch(/reconstructed/);
    const q = getQuantizer('sq', { gamma: 1e-2, binaryMargin: 0.05 });
    expect(q).toBeInstanceOf(SQQuantizer);
    const json = JSON.stringify(q.getConfig());
    const back = getQuantizer('sq', JSON.parse(json));
    expect(back.getConfig()).toEqual(q.getConfig());
    expect(back.getConfig()).toEqual({
      lambda: 1e-3,
      gamma: 1e-2,
      binaryMargin: 0.05,
      betaInit: (3 * Math.PI) / 8,
    });
    expect(() => getQuantizer('sq', { delta: 1 })).toThrow('sq: unknown option "delta"');
  });
});

describe.each(backends)('SQQuantizer on %s', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
  });

  it('declares alpha (init mean|W|, clip [1e-8, ∞)) and beta (init 3π/8, clip [π/4, π/2 − 1e-4])', () => {
    const q = new SQQuantizer();
    const [alpha, beta] = q.paramSpecs();
    expect(alpha!.name).toBe('alpha');
    expect(beta!.name).toBe('beta');
    // mean|W| = (0.9 + 0.05 + 0 + 0.04 + 0.3 + 1.0) / 6 = 2.29 / 6 = 0.3816667
    expect(Math.abs(alpha!.init(tf.tensor1d(W6)) - 0.3816667)).toBeLessThan(1e-6);
    // all-zero kernel: mean|W| = 0 -> the floor 1e-8, so α > 0 from the start
    expect(alpha!.init(tf.zeros([3, 3]))).toBe(SQ_ALPHA_MIN);
    expect(alpha!.clip).toEqual([1e-8, Number.POSITIVE_INFINITY]);
    expect(() => alpha!.init(tf.tensor1d([1, Number.NaN]))).toThrow(
      /sq: the kernel .* contains NaN/,
    );
    expect(beta!.init(tf.tensor1d(W6))).toBe((3 * Math.PI) / 8);
    expect(beta!.clip).toEqual([Math.PI / 4, Math.PI / 2 - 1e-4]);
    // β is a shape parameter: never weight-decayed; α keeps the default
    expect((beta as { weightDecay?: boolean }).weightDecay).toBe(false);
    expect((alpha as { weightDecay?: boolean }).weightDecay).toBeUndefined();
    expect(new SQQuantizer({ betaInit: 1.2 }).paramSpecs()[1]!.init(tf.zeros([1]))).toBe(1.2);
  });

  it('precision: 2 without params, 1 when β is past the switch, 2 otherwise', () => {
    const q = new SQQuantizer();
    expect(q.precision()).toBe(2);
    expect(q.precision(params(0.5, (3 * Math.PI) / 8))).toBe(2);
    expect(q.precision(params(0.5, Math.fround(Math.PI / 2 - 0.01)))).toBe(1);
    expect(q.precision(params(0.5, Math.PI / 2 - 0.011))).toBe(2);
    expect(q.precision(params(0.5, SQ_BETA_MAX))).toBe(1);
    // the class-level margin moves the switch
    const narrow = new SQQuantizer({ binaryMargin: 0.001 });
    expect(narrow.precision(params(0.5, Math.PI / 2 - 0.005))).toBe(2);
    expect(narrow.precision(params(0.5, SQ_BETA_MAX))).toBe(1);
    expect(new SQQuantizer({ binaryMargin: 0 }).precision(params(0.5, SQ_BETA_MAX))).toBe(2);
    expect(() => q.precision({ alpha: tf.scalar(0.5) })).toThrow(
      'sq: missing per-layer parameter "beta"',
    );
  });

  it('quantize and regularizer use the config', () => {
    const w = tf.tensor1d(W6);
    const q = new SQQuantizer({ lambda: 2, gamma: 0.1, binaryMargin: 0.001 });
    const p = params(0.5, Math.PI / 2 - 0.005);
    // margin 0.001 keeps β = π/2 − 0.005 ternary: Δ = 0.033 -> [-α, -α, 0, α, α, α]
    expectClose(values(q.quantize(w, p)), [-0.5, -0.5, 0, 0.5, 0.5, 0.5], 0);
    // default margin 0.01: binary
    expectClose(values(new SQQuantizer().quantize(w, p)), [-0.5, -0.5, 0.5, 0.5, 0.5, 0.5], 0);
    const r = q.regularizer(w, p);
    const ref = sqRegularizer(w, p.alpha as tf.Scalar, p.beta as tf.Scalar, {
      lambda: 2,
      gamma: 0.1,
    });
    expect(values(r)).toEqual(values(ref));
    expect(() => q.quantize(w, { beta: tf.scalar(1) })).toThrow(
      'sq: missing per-layer parameter "alpha"; create "alpha" and "beta" from paramSpecs()',
    );
  });

  it('stats of a ternary layer', () => {
    // β = π/4: Δ/α = 1/(1 + 1) = 0.5, Δ = 0.25; codes [-1, 0, 0, 0, 1, 1]
    const st = new SQQuantizer().stats(tf.tensor1d(W6), params(0.5, Math.PI / 4));
    expect(st.quantizer).toBe('sq');
    expect(st.bits).toBe(2);
    expect(st.numWeights).toBe(6);
    expect(st.share).toEqual({ negative: 1 / 6, zero: 3 / 6, positive: 2 / 6 });
    expect(st.scales).toEqual({ alpha: 0.5 });
    expect(Math.abs(st.extra!.beta! - Math.PI / 4)).toBeLessThan(1e-7);
    expect(Math.abs(st.extra!.deltaOverAlpha! - 0.5)).toBeLessThan(1e-6);
    expect(st.extra!.zeroBandShare).toBeCloseTo(3 / 6, 6); // -0.05, 0, 0.04
    expect(st.extra!.bits).toBe(2);
  });

  it('stats of a binary layer report the band occupancy the switch ignores', () => {
    // β = π/2 − 0.01 (binary): Δ/α = 1/(1 + sqrt(cot 0.01)) = 1/(1 + 9.99983) = 0.0909105
    // Δ = 0.0454552: |W| ≤ Δ for 0 and 0.04 -> zeroBandShare = 2/6, but no zero codes
    const st = new SQQuantizer().stats(
      tf.tensor1d(W6),
      params(0.5, Math.fround(Math.PI / 2 - 0.01)),
    );
    expect(st.bits).toBe(1);
    expect(st.share).toEqual({ negative: 2 / 6, zero: 0, positive: 4 / 6 });
    expect(Math.abs(st.extra!.deltaOverAlpha! - 0.0909105)).toBeLessThan(1e-5);
    expect(st.extra!.zeroBandShare).toBeCloseTo(2 / 6, 6);
    expect(st.extra!.bits).toBe(1);
  });

  it('exports 2-bit codes for a ternary layer, matching quantize', () => {
    const q = new SQQuantizer();
    const w = tf.tensor2d(W6, [3, 2]);
    const p = params(0.5, Math.PI / 4);
    const e = q.exportTernary(w, p);
    expect(e.bits).toBe(2);
    expect(e.shape).toEqual([3, 2]);
    expect(Array.from(e.codes)).toEqual([-1, 0, 0, 0, 1, 1]);
    expect(Array.from(e.positive)).toEqual([0.5]);
    expect(Array.from(e.negative)).toEqual([0.5]);
    expect(Array.from(dequantizeExport(e))).toEqual(values(q.quantize(w, p)));
  });

  it('exports 1-bit codes ±1 (sign(0) = +1) for a binary layer, matching quantize', () => {
    const q = new SQQuantizer();
    const w = tf.tensor4d(W6, [1, 1, 2, 3]);
    const p = params(0.3, SQ_BETA_MAX);
    const e = q.exportTernary(w, p);
    expect(e.bits).toBe(1);
    expect(Array.from(e.codes)).toEqual([-1, -1, 1, 1, 1, 1]);
    expect(Array.from(e.positive)).toEqual([Math.fround(0.3)]);
    expect(Array.from(e.negative)).toEqual([Math.fround(0.3)]);
    expect(Array.from(dequantizeExport(e))).toEqual(values(q.quantize(w, p)));
  });

  it('export matches quantize on a larger random-looking kernel in both modes', () => {
    const q = new SQQuantizer();
    const w = wavyKernel([3, 3, 4, 8]);
    for (const beta of [1.0, 1.3, SQ_BETA_MAX]) {
      const p = params(0.17, beta);
      const e = q.exportTernary(w, p);
      expect(e.bits).toBe(q.precision(p));
      expect(Array.from(dequantizeExport(e))).toEqual(values(q.quantize(w, p)));
    }
  });

  it('a quantizer rebuilt from its config with the same α, β reproduces stats and export', () => {
    const q = new SQQuantizer({ gamma: 0.02, binaryMargin: 0.02 });
    const back = getQuantizer('sq', JSON.parse(JSON.stringify(q.getConfig())));
    expect(q.getState()).toEqual({});
    back.setState(q.getState());
    const w = wavyKernel([4, 6]);
    const p = params(0.2, 1.3);
    expect(back.stats(w, p)).toEqual(q.stats(w, p));
    expect(back.exportTernary(w, p)).toEqual(q.exportTernary(w, p));
  });

  it('NaN kernel is a clear error in stats and export too', () => {
    const q = new SQQuantizer();
    const bad = tf.tensor1d([0.1, Number.NaN]);
    expect(() => q.stats(bad, params(0.5, 1))).toThrow(/sq: the kernel .* contains NaN/);
    expect(() => q.exportTernary(bad, params(0.5, 1))).toThrow(/sq: the kernel .* contains NaN/);
    expect(() => q.quantize(bad, params(0.5, 1))).toThrow(/sq: the kernel .* contains NaN/);
    expect(() => q.regularizer(bad, params(0.5, 1))).toThrow(/sq: the kernel .* contains NaN/);
  });

  it('training β from the regularizer alone: γ = 0 drives it to π/4, a large γ to binary', () => {
    // The kernel and α are fixed; only β trains, from R (the task gives β no gradient).
    // W = [-0.9, -0.05, 0, 0.04, 0.3, 1.0], α = 0.5: the tan-branch weights (u = -0.1, 0, 0.08)
    // give dR/dβ = λ [sec²β · 0.0164/6 − γ csc²β]: > 0 for γ = 0, < 0 for γ = 1.
    const run = (gamma: number) => {
      const q = new SQQuantizer({ lambda: 1, gamma });
      const kernel = tf.tensor1d(W6);
      const alpha = tf.variable(tf.scalar(0.5), false);
      const specs = q.paramSpecs();
      const beta = tf.variable(tf.scalar(specs[1]!.init(kernel)));
      const [lo, hi] = specs[1]!.clip!;
      const opt = tf.train.adam(0.05);
      for (let i = 0; i < 60; i++) {
        opt.minimize(() => q.regularizer(kernel, { alpha, beta }), false, [beta]);
        beta.assign(tf.clipByValue(beta, lo, hi));
      }
      const out = { beta: beta.dataSync()[0]!, bits: q.precision({ alpha, beta }) };
      tf.dispose([kernel, alpha, beta]);
      opt.dispose();
      return out;
    };
    const ternary = run(0);
    expect(ternary.beta).toBeCloseTo(Math.PI / 4, 6);
    expect(ternary.bits).toBe(2);
    const binary = run(1);
    expect(binary.beta).toBeCloseTo(Math.PI / 2 - 1e-4, 6);
    expect(binary.bits).toBe(1);
  });

  it('does not leak tensors across quantize, regularizer, stats, export and precision', () => {
    const q = new SQQuantizer();
    const w = tf.variable(wavyKernel([3, 3, 4, 5]));
    for (const beta of [1.1, SQ_BETA_MAX]) {
      const p = { alpha: tf.variable(tf.scalar(0.2)), beta: tf.variable(tf.scalar(beta)) };
      const growth = tensorGrowth(() => {
        const grads = tf.variableGrads(
          () => tf.add(tf.sum(sqQuantize(w, p.alpha, p.beta)), q.regularizer(w, p)) as tf.Scalar,
        );
        tf.dispose([grads.value, ...Object.values(grads.grads)]);
        q.stats(w, p);
        q.exportTernary(w, p);
        q.precision(p);
      });
      expect(growth).toBe(0);
      tf.dispose([p.alpha, p.beta]);
    }
    w.dispose();
  });
});

describe('sqMemoryReport', () => {
  it('sums N_l · b_l against an all-ternary model, by hand', () => {
    // binary 100 weights (100 bits), ternary 300 (600 bits), full-precision 50 (1600 bits)
    // bits = 100 + 600 + 1600 = 2300; all-ternary = 200 + 600 + 1600 = 2400; ratio = 2300/2400
    const r = sqMemoryReport([
      { numWeights: 100, bits: 1 },
      { numWeights: 300, bits: 2 },
      { numWeights: 50, bits: 32 },
    ]);
    expect(r).toEqual({
      layers: 3,
      binaryLayers: 1,
      ternaryLayers: 1,
      otherLayers: 1,
      weights: 450,
      bits: 2300,
      allTernaryBits: 2400,
      savedBits: 100,
      ratio: 2300 / 2400,
    });
    // quantized layers only: 700 vs 800 bits
    expect(
      sqMemoryReport([
        { numWeights: 100, bits: 1 },
        { numWeights: 300, bits: 2 },
      ]).ratio,
    ).toBe(0.875);
    expect(sqMemoryReport([]).ratio).toBe(1);
  });

  it('accepts SQQuantizer stats directly', () => {
    const q = new SQQuantizer();
    const layers = [
      q.stats(wavyKernel([3, 3, 4, 8]), params(0.2, SQ_BETA_MAX)), // 288 weights, binary
      q.stats(wavyKernel([3, 3, 8, 8]), params(0.2, 1.2)), // 576 weights, ternary
    ];
    const r = sqMemoryReport(layers);
    // 288 · 1 + 576 · 2 = 1440 bits against (288 + 576) · 2 = 1728
    expect(r.bits).toBe(1440);
    expect(r.allTernaryBits).toBe(1728);
    expect(r.binaryLayers).toBe(1);
    expect(r.ternaryLayers).toBe(1);
  });

  it('rejects malformed layers', () => {
    expect(() => sqMemoryReport([{ numWeights: 1.5, bits: 2 }])).toThrow(
      'sqMemoryReport: layer 0: numWeights must be a non-negative integer, got 1.5',
    );
    expect(() =>
      sqMemoryReport([
        { numWeights: 4, bits: 2 },
        { numWeights: 4, bits: 0 },
      ]),
    ).toThrow('sqMemoryReport: layer 1: bits must be a positive finite number, got 0');
  });
});

describe.each(backends)('kernels at the edges of float32, on %s', (backend) => {
  const run = (fn: () => void) => () => withBackend(backend, () => tf.tidy(fn));
  // Every weight is finite, but Σ|W| = 9e38 is not.
  const HUGE = [3e38, -3e38, 2e38, -1e38, 1, 0];

  it(
    'alpha is initialised to the true mean|W| of a kernel near float32 max, not Infinity',
    run(() => {
      const q = new SQQuantizer();
      const alpha = q
        .paramSpecs()
        .find((p) => p.name === 'alpha')!
        .init(tf.tensor1d(HUGE));
      // mean|W| = 9e38 / 6 = 1.5e38
      expect(Math.abs(alpha / 1.5e38 - 1)).toBeLessThan(1e-6);
      // ... and the forward with it is finite: Δ = α/(1 + sqrt(tan β)), codes times α.
      const p = params(alpha, (3 * Math.PI) / 8);
      expect(values(q.quantize(tf.tensor1d(HUGE), p)).every(Number.isFinite)).toBe(true);
    }),
  );

  it(
    'a kernel that is not float32 is a clear error',
    run(() => {
      const q = new SQQuantizer();
      const w = tf.tensor1d([1, -2], 'int32');
      const message =
        "sq: the kernel must be a float32 tensor, got int32 (shape [2]); cast it first: tf.cast(kernel, 'float32')";
      expect(() => q.quantize(w, params(0.5, 1))).toThrow(message);
      expect(() => q.regularizer(w, params(0.5, 1))).toThrow(message);
      expect(() => q.stats(w, params(0.5, 1))).toThrow(message);
      expect(() => q.exportTernary(w, params(0.5, 1))).toThrow(message);
      expect(() => q.paramSpecs()[0]!.init(w)).toThrow(message);
    }),
  );
});
