import * as tf from '@tensorflow/tfjs';
import {
  dequantizeExport,
  getQuantizer,
  listQuantizers,
  Quantizer,
  quantizerInfo,
  type TrainingProgress,
} from '@trit/quant-core';
import { tensorGrowth, testBackends, withBackend } from '@trit/quant-core/testing';
import { describe, expect, it } from 'vitest';
import {
  HLA_DEFAULTS,
  HLAQuantizer,
  type HLAState,
  hlaQuantize,
  hlaRegularizer,
  hlaSchedule,
} from '../src/index.js';
import { expectClose, gradWith } from './helpers.js';

const backends = await testBackends();

const W = [-0.9, -0.05, 0, 0.04, 0.3, 1.0];
const G = [0.5, -1, 2, 1.5, -0.25, 3];
// Forward by hand (see hla-quantize.test.ts): Δ = 0.2671667, T = [-1, 0, 0, 0, 1, 1], α = 0.7333333
const Q_HAND = [-0.7333333, 0, 0, 0, 0.7333333, 0.7333333];

/** Progress at `step` of a run of 10 epochs × 5 steps (fraction = (5·epoch + step) / 50). */
const at = (epoch: number, step = 0): TrainingProgress => ({
  epoch,
  epochs: 10,
  step,
  stepsPerEpoch: 5,
});

describe('HLAQuantizer config', () => {
  it('has documented defaults, precision 2, and starts in phase 1 with λ = 0', () => {
    const q = new HLAQuantizer();
    expect(q.name).toBe('hla');
    expect(q.getConfig()).toEqual({
      lambdaMax: 1,
      deltaFactor: 0.7,
      tau: 2,
      tauMax: 2,
      phase1Fraction: 0.5,
      epsilon: 1e-12,
    });
    expect(HLA_DEFAULTS).toEqual(q.getConfig());
    expect(q.precision()).toBe(2);
    expect(q.paramSpecs()).toEqual([]);
    expect(q.getState()).toEqual({ phase: 1, lambda: 0, tau: 2 });
  });

  it('tauMax defaults to tau (no annealing) and must not be below it', () => {
    expect(new HLAQuantizer({ tau: 3 }).config.tauMax).toBe(3);
    expect(new HLAQuantizer({ tau: 3, tauMax: 8 }).config.tauMax).toBe(8);
    expect(() => new HLAQuantizer({ tau: 3, tauMax: 2 })).toThrow(
      'hla: option "tauMax" must be >= tau (3; τ is annealed upwards over phase 2), got 2',
    );
  });

  it('rejects unknown keys, wrong types and out-of-range values, naming field and value', () => {
    const cases: [Record<string, unknown>, string][] = [
      [
        { lambda: 1 },
        'hla: unknown option "lambda"; valid options: lambdaMax, deltaFactor, tau, tauMax, phase1Fraction, epsilon',
      ],
      [{ lambdaMax: '1' }, 'hla: option "lambdaMax" must be a number, got "1"'],
      [{ lambdaMax: -1 }, 'hla: option "lambdaMax" must be >= 0, got -1'],
      [{ deltaFactor: 0 }, 'hla: option "deltaFactor" must be > 0, got 0'],
      [{ tau: -0.5 }, 'hla: option "tau" must be >= 0, got -0.5'],
      [
        { tauMax: Number.POSITIVE_INFINITY },
        'hla: option "tauMax" must be a finite number, got Infinity',
      ],
      [{ phase1Fraction: 1 }, 'hla: option "phase1Fraction" must be < 1, got 1'],
      [{ phase1Fraction: -0.1 }, 'hla: option "phase1Fraction" must be >= 0, got -0.1'],
      [{ epsilon: 0 }, 'hla: option "epsilon" must be > 0, got 0'],
    ];
    for (const [config, message] of cases) {
      expect(() => new HLAQuantizer(config)).toThrow(message);
      expect(() => getQuantizer('hla', config)).toThrow(message);
    }
  });
});

describe('HLAQuantizer schedule', () => {
  it('phase 1: λ ramps linearly 0 -> λmax; phase 2: λ = λmax, τ anneals tau -> tauMax', () => {
    const q = new HLAQuantizer({ lambdaMax: 2, tau: 2, tauMax: 6, phase1Fraction: 0.4 });
    const expected: [TrainingProgress, { phase: number; lambda: number; tau: number }][] = [
      [at(0), { phase: 1, lambda: 0, tau: 2 }], // f = 0
      [at(1), { phase: 1, lambda: 0.5, tau: 2 }], // f = 0.1: λ = 2 · 0.1 / 0.4
      [at(3), { phase: 1, lambda: 1.5, tau: 2 }], // f = 0.3: λ = 2 · 0.3 / 0.4
      [at(3, 4), { phase: 1, lambda: 1.9, tau: 2 }], // f = 19/50 = 0.38: λ = 2 · 0.38 / 0.4
      [at(4), { phase: 2, lambda: 2, tau: 2 }], // f = 0.4: phase 2 starts, τ = tau
      [at(7), { phase: 2, lambda: 2, tau: 4 }], // f = 0.7: τ = 2 + 4 · 0.3 / 0.6
      [at(9, 4), { phase: 2, lambda: 2, tau: 5.8666667 }], // f = 0.98: τ = 2 + 4 · 0.58 / 0.6
      [at(10), { phase: 2, lambda: 2, tau: 6 }], // f = 1 (clamped): τ = tauMax
    ];
    for (const [progress, state] of expected) {
      q.onStep(progress);
      const s = q.getState();
      expect(s.phase).toBe(state.phase);
      expect(s.lambda).toBeCloseTo(state.lambda, 10);
      expect(s.tau).toBeCloseTo(state.tau, 6);
      const w = tf.tensor1d(W);
      const stats = q.stats(w, {});
      w.dispose();
      expect(stats.extra).toMatchObject({ phase: state.phase });
      expect(stats.extra!.lambda).toBeCloseTo(state.lambda, 10);
      expect(stats.extra!.tau).toBeCloseTo(state.tau, 6);
    }
  });

  it('without tauMax τ stays constant; phase1Fraction = 0 starts in phase 2 at λmax', () => {
    const q = new HLAQuantizer({ lambdaMax: 0.3, tau: 5 });
    q.onStep(at(8));
    expect(q.getState()).toEqual({ phase: 2, lambda: 0.3, tau: 5 });
    const p = new HLAQuantizer({ lambdaMax: 0.3, phase1Fraction: 0, tauMax: 3 });
    expect(p.getState()).toEqual({ phase: 2, lambda: 0.3, tau: 2 });
    p.onStep(at(5)); // f = 0.5: τ = 2 + 1 · 0.5
    expect(p.getState()).toEqual({ phase: 2, lambda: 0.3, tau: 2.5 });
  });

  it('hlaSchedule is the pure function onStep uses', () => {
    const config = { lambdaMax: 4, tau: 1, tauMax: 3, phase1Fraction: 0.5 };
    expect(hlaSchedule(config, 0.25)).toEqual({ phase: 1, lambda: 2, tau: 1 }); // 4 · 0.25 / 0.5
    expect(hlaSchedule(config, 0.75)).toEqual({ phase: 2, lambda: 4, tau: 2 }); // 1 + 2 · 0.25 / 0.5
    expect(hlaSchedule(config, -1)).toEqual({ phase: 1, lambda: 0, tau: 1 }); // clamped to 0
  });
});

describe('HLAQuantizer state', () => {
  it('round-trips through JSON and reproduces the same forward and backward', () => {
    const q = new HLAQuantizer({ lambdaMax: 0.5, tauMax: 4, phase1Fraction: 0.3 });
    q.onStep(at(6, 2)); // f = 32/50 = 0.64: phase 2, τ = 2 + 2 · 0.34 / 0.7
    const saved = JSON.parse(JSON.stringify(q.getState()));
    expect(saved.phase).toBe(2);
    expect(saved.tau).toBeCloseTo(2 + (2 * 0.34) / 0.7, 10);

    const restored = getQuantizer('hla', JSON.parse(JSON.stringify(q.getConfig())));
    expect(restored.getState()).toEqual({ phase: 1, lambda: 0, tau: 2 });
    restored.setState(saved);
    expect(restored.getState()).toEqual(q.getState());
    tf.tidy(() => {
      const w = tf.tensor1d(W);
      const g = tf.tensor1d(G);
      expectClose(restored.quantize(w, {}), Array.from(q.quantize(w, {}).dataSync()), 0);
      expectClose(
        gradWith((x) => restored.quantize(x, {}), w, g),
        Array.from(gradWith((x) => q.quantize(x, {}), w, g).dataSync()),
        0,
      );
    });
  });

  it('rejects malformed state with a clear error', () => {
    const q = new HLAQuantizer({ lambdaMax: 1, tauMax: 4 });
    expect(() => q.setState({ phase: 3, lambda: 0, tau: 2 })).toThrow(
      'hla: state "phase" must be 1 or 2, got 3',
    );
    expect(() => q.setState({ phase: 2, lambda: 1.5, tau: 2 })).toThrow(
      'hla: state "lambda" must be a number in [0, 1], got 1.5',
    );
    expect(() => q.setState({ phase: 2, lambda: 1, tau: 5 })).toThrow(
      'hla: state "tau" must be a number in [2, 4], got 5',
    );
    expect(() => q.setState({ phase: 2, lambda: 1, tau: 'x' })).toThrow(
      'hla: state "tau" must be a number',
    );
    expect(() => q.setState({ phase: 2, lambda: 1, tau: 2, step: 4 })).toThrow(
      'hla: unknown state field "step"; valid fields: phase, lambda, tau',
    );
    expect(q.getState()).toEqual({ phase: 1, lambda: 0, tau: 2 }); // unchanged
  });
});

describe('HLAQuantizer registry', () => {
  it('is registered as "hla" with description and paper, and configs round-trip', () => {
    expect(listQuantizers()).toContain('hla');
    const info = quantizerInfo('hla');
    expect(info.name).toBe('hla');
    expect(info.description).toContain('hyperspherical');
    expect(info.paper).toContain(
      'Liu & Liu, "Hyperspherical Loss-Aware Ternary Quantization", arXiv:2212.12649',
    );
    expect(info.paper).toContain('arXiv:2212.12653');
    expect(info.paper).toContain('[chosen]');

    const q = getQuantizer('hla', { lambdaMax: 0.3, tauMax: 4, phase1Fraction: 0.6 });
    expect(q).toBeInstanceOf(HLAQuantizer);
    expect(q).toBeInstanceOf(Quantizer);
    const config = q.getConfig();
    expect(config).toEqual({ ...HLA_DEFAULTS, lambdaMax: 0.3, tauMax: 4, phase1Fraction: 0.6 });
    expect(getQuantizer('hla', JSON.parse(JSON.stringify(config))).getConfig()).toEqual(config);
    // A config that left tauMax to default keeps it tied to tau through the round trip.
    expect(
      getQuantizer('hla', getQuantizer('hla', { tau: 3 }).getConfig()).getConfig().tauMax,
    ).toBe(3);
  });
});

describe.each(backends)('HLAQuantizer on %s', (backend) => {
  const run = (fn: () => void) => withBackend(backend, () => tf.tidy(fn));

  it('phase 1: quantize is the identity, with identity gradient', () =>
    run(() => {
      const q = new HLAQuantizer({ tauMax: 4 });
      q.onStep(at(2)); // f = 0.2 < 0.5
      const w = tf.tensor1d(W);
      // A new tensor with W's values, which the caller owns: disposing it keeps the kernel.
      const q1 = q.quantize(w, {});
      expect(q1).not.toBe(w);
      q1.dispose();
      expect(w.isDisposed).toBe(false);
      expect(Array.from(w.dataSync())).toEqual(Array.from(tf.tensor1d(W).dataSync()));
      expectClose(q.quantize(w, {}), W, 1e-7); // (float32 rounding of the literals)
      // G's entries are exact in float32, so the identity gradient is exactly G.
      expectClose(
        gradWith((x) => q.quantize(x, {}), w, tf.tensor1d(G)),
        G,
        0,
      );
    }));

  it('phase 2: quantize is hlaQuantize at the current (annealed) τ', () =>
    run(() => {
      const q = new HLAQuantizer({ tauMax: 7 });
      q.onStep(at(5)); // f = 0.5: phase 2, τ = 2
      const w = tf.tensor1d(W);
      const g = tf.tensor1d(G);
      expectClose(q.quantize(w, {}), Q_HAND, 1e-5);
      // g · r at τ = 2 (r by hand in hla-quantize.test.ts)
      expectClose(
        gradWith((x) => q.quantize(x, {}), w, g),
        [
          0.5 * 0.0817526,
          -1 * 1.3044691,
          2 * 0.9969051,
          1.5 * 1.2396093,
          -0.25 * 2.338236,
          3 * 0.0390279,
        ],
        1e-5,
      );
      q.onStep(at(7)); // f = 0.7: τ = 2 + (7 − 2) · 0.2 / 0.5 = 4
      expect(q.getState().tau).toBeCloseTo(4, 10);
      expectClose(q.quantize(w, {}), Q_HAND, 1e-5);
      // g · r at τ = 4 (r by hand in hla-quantize.test.ts)
      expectClose(
        gradWith((x) => q.quantize(x, {}), w, g),
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
    }));

  it('regularizer uses the current λ: 0 at the start, λmax·f/p in phase 1, λmax in phase 2', () =>
    run(() => {
      // The 2×2 kernel of hla-regularizer.test.ts: cos(W, T) = 0.9481224, 1 − cos = 0.0518776
      const w = tf.tensor2d([0.5, -0.1, 0.2, -0.8], [2, 2]);
      const q = new HLAQuantizer({ lambdaMax: 2 });
      q.onStep(at(0));
      const r0 = q.regularizer(w, {});
      expect(r0.dataSync()[0]).toBe(0);
      expectClose(tf.grad((x: tf.Tensor) => q.regularizer(x, {}))(w), [0, 0, 0, 0], 0);
      q.onStep(at(1)); // f = 0.1: λ = 2 · 0.1 / 0.5 = 0.4 -> R = 0.4 · 0.0518776 = 0.0207510
      expect(q.regularizer(w, {}).dataSync()[0]).toBeCloseTo(0.020751, 6);
      q.onStep(at(8)); // phase 2: λ = 2 -> R = 2 · 0.0518776 = 0.1037551
      expect(q.regularizer(w, {}).dataSync()[0]).toBeCloseTo(0.1037551, 6);
    }));

  it('stats: code shares, α, cosine, Δ, λ, τ, phase', () =>
    run(() => {
      const q = new HLAQuantizer({ lambdaMax: 0.5 });
      const s = q.stats(tf.tensor1d(W), {});
      expect(s.quantizer).toBe('hla');
      expect(s.bits).toBe(2);
      expect(s.numWeights).toBe(6);
      // T = [-1, 0, 0, 0, 1, 1]
      expect(s.share.negative).toBeCloseTo(1 / 6, 10);
      expect(s.share.zero).toBeCloseTo(3 / 6, 10);
      expect(s.share.positive).toBeCloseTo(2 / 6, 10);
      expect(s.scales.alpha as number).toBeCloseTo(0.7333333, 6);
      // cos = 2.2 / (√1.9041 · √3) = 0.9204860, Δ = 0.2671667
      expect(s.extra!.cosine).toBeCloseTo(0.920486, 6);
      expect(s.extra!.delta).toBeCloseTo(0.2671667, 6);
      expect(s.extra).toMatchObject({ lambda: 0, tau: 2, phase: 1 });
    }));

  it('exportTernary: codes T and α on both levels, equal to the phase-2 forward', () =>
    run(() => {
      const q = new HLAQuantizer();
      const e = q.exportTernary(tf.tensor2d(W, [3, 2]), {});
      expect(e.bits).toBe(2);
      expect(e.shape).toEqual([3, 2]);
      expect(Array.from(e.codes)).toEqual([-1, 0, 0, 0, 1, 1]);
      expectClose(e.positive, [0.7333333], 1e-5);
      expectClose(e.negative, [0.7333333], 1e-5);
      // On a random conv kernel: the export dequantizes to exactly what phase 2 computes.
      const w = tf.randomNormal([3, 3, 4, 8], 0, 0.1, 'float32', 3);
      q.onStep(at(6));
      expect(q.getState().phase).toBe(2);
      const exported = q.exportTernary(w, {});
      expect(exported.shape).toEqual([3, 3, 4, 8]);
      expect(new Set(exported.codes)).toEqual(new Set([-1, 0, 1]));
      expectClose(dequantizeExport(exported), Array.from(q.quantize(w, {}).dataSync()), 0);
    }));

  it('all-zero kernel: Q = 0, dL/dW = g, R = λ with zero gradient, cosine 0, zero codes', () =>
    run(() => {
      const q = new HLAQuantizer({ lambdaMax: 0.5 });
      q.onStep(at(6));
      const w = tf.zeros([2, 3]);
      const g = tf.tensor(G, [2, 3]);
      expectClose(q.quantize(w, {}), [0, 0, 0, 0, 0, 0], 0);
      expectClose(
        gradWith((x) => q.quantize(x, {}), w, g),
        G,
        1e-6,
      );
      expect(q.regularizer(w, {}).dataSync()[0]).toBe(0.5);
      expectClose(tf.grad((x: tf.Tensor) => q.regularizer(x, {}))(w), [0, 0, 0, 0, 0, 0], 0);
      const s = q.stats(w, {});
      expect(s.extra!.cosine).toBe(0);
      expect(s.scales.alpha).toBe(0);
      expect(s.share.zero).toBe(1);
      const e = q.exportTernary(w, {});
      expect(Array.from(e.codes)).toEqual([0, 0, 0, 0, 0, 0]);
      expect(Array.from(e.positive)).toEqual([0]);
    }));

  it('all weights inside the band (δ = 3): phase-2 forward is 0, export has zero codes', () =>
    run(() => {
      const q = new HLAQuantizer({ deltaFactor: 3 });
      q.onStep(at(6));
      const w = tf.tensor1d(W);
      expectClose(q.quantize(w, {}), [0, 0, 0, 0, 0, 0], 0);
      expect(q.stats(w, {}).share.zero).toBe(1);
      expect(Array.from(q.exportTernary(w, {}).codes)).toEqual([0, 0, 0, 0, 0, 0]);
    }));

  it('NaN in the kernel: a clear error in every phase and method', () =>
    run(() => {
      const q = new HLAQuantizer();
      const w = tf.tensor1d([0.1, Number.NaN]);
      const message = 'hla: the kernel (shape [2]) contains NaN at flat index 1';
      expect(() => q.quantize(w, {})).toThrow(message); // phase 1
      expect(() => q.regularizer(w, {})).toThrow(message);
      expect(() => q.stats(w, {})).toThrow(message);
      expect(() => q.exportTernary(w, {})).toThrow(message);
      q.onStep(at(9));
      expect(() => q.quantize(w, {})).toThrow(message); // phase 2
    }));

  it.each([
    [2, 1],
    [7, 2],
  ])(
    'training step at epoch %i (phase %i): the regularizer reuses the forward projection, with the exact values of a fresh one',
    (epoch, phase) =>
      withBackend(backend, async () => {
        const q = new HLAQuantizer({ lambdaMax: 0.7, tauMax: 7 });
        q.onStep(at(epoch)); // epoch 2: λ = 0.7 · 0.2 / 0.5 = 0.28; epoch 7: λ = 0.7, τ = 2 + 5 · 0.2 / 0.5 = 4
        const { lambda, tau } = q.getState() as HLAState;
        expect(q.getState().phase).toBe(phase);
        const w = tf.variable(tf.randomNormal([3, 3, 4, 8], 0, 0.1, 'float32', 31));
        const g = tf.randomNormal([3, 3, 4, 8], 0, 1, 'float32', 32);
        const step = (x: tf.Tensor) =>
          tf.add(tf.sum(tf.mul(q.quantize(x, {}), g)), q.regularizer(x, {}));
        // The pure functions, each computing its own projection.
        const fresh = (x: tf.Tensor) =>
          tf.add(
            tf.sum(tf.mul(phase === 1 ? x : hlaQuantize(x, { tau }), g)),
            hlaRegularizer(x, { lambda }),
          );
        const read = (f: (x: tf.Tensor) => tf.Tensor) =>
          tf.tidy(() => {
            const { value, grad } = tf.valueAndGrad(f)(w);
            return [value.dataSync()[0]!, ...grad.dataSync()];
          });
        for (let i = 0; i < 2; i++) {
          expect(read(step)).toEqual(read(fresh));
          // The weights change between steps: the next step must see the new projection.
          w.assign(
            tf.tidy(() => tf.mul(w, tf.randomUniform(w.shape, 0.5, 1.5, 'float32', 33 + i))),
          );
        }
        // One comparison |W| > Δ per training step (the forward's), not two.
        const profile = await tf.profile(() => {
          tf.dispose(tf.grads(step)([w]));
        });
        expect(profile.kernels.filter((k) => k.name === 'Greater')).toHaveLength(1);
        // Outside a gradient computation (inference) nothing is shared, and nothing is left over:
        const before = tf.memory().numTensors;
        const out = q.quantize(w, {});
        if (out !== w) out.dispose(); // phase 1 returns the kernel itself
        expect(tf.memory().numTensors).toBe(before);
        // ... nor after a training step, from its first call on.
        tf.dispose(tf.grads(step)([w]));
        expect(tf.memory().numTensors).toBe(before);
        if (phase === 2) {
          // A forward whose projection was never used (no regularizer) is freed by its backward.
          tf.dispose(tf.grads((x: tf.Tensor) => tf.sum(tf.mul(q.quantize(x, {}), g)))([w]));
          expect(tf.memory().numTensors).toBe(before);
        }
        tf.dispose([w, g]);
      }),
  );

  it('a kernel value changed after the forward is not matched to its projection', () =>
    run(() => {
      const q = new HLAQuantizer({ lambdaMax: 0.5 });
      q.onStep(at(6));
      const w = tf.variable(tf.tensor2d(W, [3, 2]));
      const W2 = [0.5, -0.1, 0.2, -0.8, 0.05, 0.3];
      const [r, expected] = tf.tidy(() => {
        const out: number[] = [];
        tf.grads((x: tf.Tensor) => {
          const y = tf.sum(q.quantize(x, {})); // shares the projection of W
          w.assign(tf.tensor2d(W2, [3, 2])); // new data for the same variable
          out.push(q.regularizer(w, {}).dataSync()[0]!);
          return y;
        })([w]);
        out.push(hlaRegularizer(tf.tensor2d(W2, [3, 2]), { lambda: 0.5 }).dataSync()[0]!);
        return out;
      }) as unknown as number[];
      expect(r).toBe(expected);
      w.dispose();
    }));

  it('leaks no tensors over training steps in both phases, stats and export', () =>
    withBackend(backend, () => {
      const q = new HLAQuantizer({ tauMax: 4 });
      const w = tf.variable(tf.randomNormal([3, 3, 2, 4], 0, 0.1, 'float32', 5));
      const g = tf.randomNormal([3, 3, 2, 4], 0, 1, 'float32', 6);
      let step = 0;
      const growth = tensorGrowth(() => {
        q.onStep(at(step++ % 10)); // alternates phases over the 10 epochs
        const grads = tf.grads((x: tf.Tensor) =>
          tf.add(tf.sum(tf.mul(q.quantize(x, {}), g)), q.regularizer(x, {})),
        )([w]);
        tf.dispose(grads);
        q.stats(w, {});
        q.exportTernary(w, {});
      }, 10);
      tf.dispose([w, g]);
      expect(growth).toBe(0);
    }));
});

describe.each(backends)('kernels at the edges of float32, on %s', (backend) => {
  const run = (fn: () => void) => () => withBackend(backend, () => tf.tidy(fn));
  /** Largest |a − e| / |e| (e ≠ 0) and |a| (e = 0). */
  const relErr = (a: ArrayLike<number>, e: readonly number[]) => {
    expect(a.length).toBe(e.length);
    return Math.max(...e.map((x, i) => Math.abs(a[i]! - x) / (x === 0 ? 1 : Math.abs(x))));
  };
  const read = (t: tf.Tensor) => Array.from(t.dataSync());
  const phase2 = () => {
    const q = new HLAQuantizer();
    q.onStep(at(9)); // phase 2, λ = λ_max = 1
    return q;
  };

  it(
    'a kernel near float32 max: the formula’s Q, α and cosine, a finite R (not zeros or NaN)',
    run(() => {
      // Every weight is finite, but Σ|W| = 9e38 is not.
      const w = tf.tensor1d([3e38, -3e38, 2e38, -1e38, 1, 0]);
      // Δ = 0.7 · 1.5e38 = 1.05e38; T = [1, -1, 1, 0, 0, 0]; α = 8e38 / 3
      const a = 8e38 / 3;
      const q = phase2();
      expect(relErr(read(q.quantize(w, {})), [a, -a, a, 0, 0, 0])).toBeLessThan(1e-6);
      expect(relErr(q.exportTernary(w).positive, [a])).toBeLessThan(1e-6);
      // cos = ⟨W, T⟩ / (‖W‖·‖T‖) = 8e38 / (√23 e38 · √3); R = λ · (1 − cos)
      const cos = 8 / (Math.sqrt(23) * Math.sqrt(3));
      expect(Math.abs(q.stats(w).extra!.cosine! - cos)).toBeLessThan(1e-6);
      expect(Math.abs(q.regularizer(w).dataSync()[0]! - (1 - cos))).toBeLessThan(1e-6);
    }),
  );

  it(
    'scale-free where the sums would overflow: W·2^66 gives Q·2^66, the same R, cosine and r, and dR/dW / 2^66',
    run(() => {
      const small = Float32Array.from({ length: 24 }, (_, i) => 0.3 * Math.sin(1.7 * i + 0.3));
      const c = 2 ** 66; // |W|·c ≈ 2e19: Σ|W| > 2^62 and ‖W‖² = Σ W² ≈ 1e39 overflows float32
      const ws = tf.tensor(small, [4, 6]);
      const wb = tf.tensor(
        small.map((v) => v * c),
        [4, 6],
      );
      const q = phase2();
      const qs = read(q.quantize(ws, {}));
      expect(
        relErr(
          read(q.quantize(wb, {})),
          qs.map((v) => v * c),
        ),
      ).toBeLessThan(1e-6);
      const rs = q.regularizer(ws).dataSync()[0]!;
      expect(rs).toBeGreaterThan(0.01);
      expect(Math.abs(q.regularizer(wb).dataSync()[0]! - rs)).toBeLessThan(1e-6);
      expect(Math.abs(q.stats(wb).extra!.cosine! - q.stats(ws).extra!.cosine!)).toBeLessThan(1e-6);
      const gRegS = read(tf.grad((x: tf.Tensor) => q.regularizer(x))(ws));
      const gRegB = read(tf.grad((x: tf.Tensor) => q.regularizer(x))(wb));
      expect(
        relErr(
          gRegB.map((v) => v * c),
          gRegS,
        ),
      ).toBeLessThan(1e-5);
      const g = tf.tensor(
        Float32Array.from({ length: 24 }, (_, i) => (i % 5) - 2),
        [4, 6],
      );
      const gs = read(gradWith((x) => q.quantize(x, {}), ws, g));
      expect(relErr(read(gradWith((x) => q.quantize(x, {}), wb, g)), gs)).toBeLessThan(1e-5);
    }),
  );

  it(
    'a kernel that is not float32 is a clear error in both phases',
    run(() => {
      const w = tf.tensor1d([1, -2], 'int32');
      const message =
        "hla: the kernel must be a float32 tensor, got int32 (shape [2]); cast it first: tf.cast(kernel, 'float32')";
      const q = new HLAQuantizer();
      expect(() => q.quantize(w, {})).toThrow(message);
      expect(() => q.regularizer(w)).toThrow(message);
      expect(() => q.stats(w)).toThrow(message);
      expect(() => phase2().quantize(w, {})).toThrow(message);
      expect(() => hlaRegularizer(w, { lambda: 1 })).toThrow(message);
      expect(() => hlaQuantize(w)).toThrow(message);
    }),
  );
});
