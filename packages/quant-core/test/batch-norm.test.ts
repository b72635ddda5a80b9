import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { batchNormalization, quantizeModel, TritBatchNormalization } from '../src/index.js';
import {
  FUSED_BATCH_NORM_GRAD_KERNEL,
  FUSED_BATCH_NORM_KERNEL,
  fusedBatchNormTraining,
} from '../src/native-batch-norm.js';
import {
  expectClose,
  maxAbsDiff,
  seededRandom,
  tensorGrowth,
  testBackends,
  withBackend,
} from '../src/testing.js';

const backends = await testBackends();
const native = backends.includes('tensorflow');
const FUSED = [FUSED_BATCH_NORM_KERNEL, FUSED_BATCH_NORM_GRAD_KERNEL];

type BN = tf.layers.Layer;

/** Seeded values `offset + scale · u`, u uniform in [-1, 1). */
function values(n: number, seed: number, scale = 1, offset = 0): Float32Array {
  const r = seededRandom(seed);
  return Float32Array.from({ length: n }, () => offset + scale * (2 * r() - 1));
}

/** Largest |a − b| relative to the largest |b|, or absolute when all |b| < 1 (how close two large-sum results are). */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 1;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(b[i]!));
  return maxAbsDiff(a, b) / m;
}

/** A Trit and a tfjs BatchNormalization with the same options, built for `shape`, same (non-default) weights. */
function pair(shape: number[], options: { axis?: number } = {}): { ours: BN; ref: BN } {
  const args = { momentum: 0.9, epsilon: 1e-5, ...options };
  const ours = batchNormalization({ ...args, name: 'ours' });
  const ref = tf.layers.batchNormalization({ ...args, name: 'ref' });
  const axis = options.axis === undefined || options.axis === -1 ? shape.length - 1 : options.axis;
  const c = shape[axis]!;
  const weights = [
    values(c, 11, 0.5, 1), // gamma in [0.5, 1.5)
    values(c, 12, 0.5), // beta
    values(c, 13, 0.2), // moving mean
    values(c, 14, 0.5, 1.2), // moving variance in [0.7, 1.7)
  ];
  for (const layer of [ours, ref]) {
    layer.build(shape);
    layer.setWeights(weights.map((w) => tf.tensor1d(w)));
  }
  return { ours, ref };
}

interface TrainResult {
  y: Float32Array;
  dx: Float32Array;
  dgamma: Float32Array;
  dbeta: Float32Array;
}

/** One training call of `layer` on `x`: output and the gradients of `sum(y · g)`. */
function trainCall(layer: BN, x: tf.Tensor, g: tf.Tensor): TrainResult {
  return tf.tidy(() => {
    const xv = tf.variable(x, true, `x${Math.random()}`);
    const [gamma, beta] = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    let y!: tf.Tensor;
    const { grads } = tf.variableGrads(() => {
      const out = layer.apply(xv, { training: true }) as tf.Tensor;
      y = tf.keep(out);
      return tf.sum(tf.mul(out, g));
    }, [xv, gamma!, beta!]);
    const res = {
      y: y.dataSync() as Float32Array,
      dx: grads[xv.name]!.dataSync() as Float32Array,
      dgamma: grads[gamma!.name]!.dataSync() as Float32Array,
      dbeta: grads[beta!.name]!.dataSync() as Float32Array,
    };
    tf.dispose([y, xv]);
    return res;
  });
}

const moving = (layer: BN) =>
  layer
    .getWeights()
    .slice(2)
    .map((w) => w.dataSync());

async function kernelsOf(f: () => tf.TensorContainer): Promise<string[]> {
  const p = await tf.profile(() => {
    tf.dispose(f());
  });
  return p.kernels.map((k) => k.name);
}

describe.each(backends)('TritBatchNormalization by hand on %s', (backend) => {
  // Channel 0: x = [1, 3, 5, 7], μ = 4, σ² = (9+1+1+9)/4 = 5, ε = 4 → √(σ²+ε) = 3,
  //   x̂ = [-1, -1/3, 1/3, 1]; γ = 2, β = 0.5 → y = 2x̂ + 0.5 = [-1.5, -1/6, 7/6, 2.5].
  // Channel 1: x = [1, 7, 13, 19], μ = 10, σ² = (81+9+9+81)/4 = 45, √(45+4) = 7,
  //   x̂ = [-9, -3, 3, 9]/7; γ = -1, β = 0 → y = [9/7, 3/7, -3/7, -9/7].
  const x = () => tf.tensor4d([1, 1, 3, 7, 5, 13, 7, 19], [4, 1, 1, 2]);
  // Upstream gradient G: channel 0 [1, 0, 0, 2], channel 1 [0, 1, 1, 0].
  const g = () => tf.tensor4d([1, 0, 0, 1, 0, 1, 2, 0], [4, 1, 1, 2]);
  const build = () => {
    const layer = batchNormalization({ epsilon: 4, momentum: 0.9 });
    layer.build([4, 1, 1, 2]);
    layer.setWeights([
      tf.tensor1d([2, -1]),
      tf.tensor1d([0.5, 0]),
      tf.tensor1d([0, 0]),
      tf.tensor1d([1, 1]),
    ]);
    return layer;
  };

  it('training: y, dx, dγ, dβ and the moving statistics (population variance)', () =>
    withBackend(backend, () => {
      const layer = build();
      const r = trainCall(layer, x(), g());
      expectClose(r.y, [-1.5, 9 / 7, -1 / 6, 3 / 7, 7 / 6, -3 / 7, 2.5, -9 / 7], 5e-6);
      // dβ = Σ G = [3, 2]; dγ = Σ G·x̂ = [-1 + 2·1, -3/7 + 3/7] = [1, 0].
      expectClose(r.dbeta, [3, 2], 5e-6);
      expectClose(r.dgamma, [1, 0], 5e-6);
      // dx = γ/√(σ²+ε) · (G − mean G − x̂·mean(G·x̂)).
      // Channel 0: mean G = 3/4, mean(G·x̂) = 1/4, γ/3 = 2/3:
      //   (2/3)·[1 − 3/4 + 1/4, −3/4 + 1/12, −3/4 − 1/12, 2 − 3/4 − 1/4] = [1/3, −4/9, −5/9, 2/3].
      // Channel 1: mean G = 1/2, mean(G·x̂) = 0, γ/7 = −1/7: (−1/7)·(G − 1/2) = [1, −1, −1, 1]/14.
      expectClose(r.dx, [1 / 3, 1 / 14, -4 / 9, -1 / 14, -5 / 9, -1 / 14, 2 / 3, 1 / 14], 5e-6);
      // Moving averages, momentum 0.9: m = 0 − (0 − μ)·0.1 = [0.4, 1];
      // v = 1 − (1 − σ²)·0.1 = [1.4, 5.4] with the population σ² = [5, 45]
      // (the Bessel-corrected [20/3, 60] would give [1.567, 6.9]).
      const [mean, variance] = moving(layer);
      expectClose(mean!, [0.4, 1], 5e-6);
      expectClose(variance!, [1.4, 5.4], 5e-6);
    }));

  it('inference uses the moving statistics: y = γ(x − m)/√(v + ε) + β', () =>
    withBackend(backend, () => {
      const layer = build();
      layer.setWeights([
        tf.tensor1d([2, -1]),
        tf.tensor1d([0.5, 0]),
        tf.tensor1d([3, 10]),
        tf.tensor1d([5, 45]),
      ]);
      // Channel 0: 2(x − 3)/3 + 0.5 = [-0.833, 0.5, 1.833, 3.167]; channel 1: −(x − 10)/7.
      const y = (layer.apply(x(), { training: false }) as tf.Tensor).dataSync();
      expectClose(y, [-5 / 6, 9 / 7, 0.5, 3 / 7, 11 / 6, -3 / 7, 19 / 6, -9 / 7], 5e-6);
      expectClose(moving(layer)[1]!, [5, 45], 5e-6);
    }));
});

const SHAPES = [
  [8, 12, 12, 5], // n = 1152
  [32, 16, 16, 8], // n = 8192, large sums
  [3, 1, 1, 2], // n = 3: the Bessel factor is 3/2
  [1, 1, 1, 3], // n = 1: zero variance
];

/** Three training calls on different batches; per-call results and the final moving statistics. */
function threeCalls(layer: BN, shape: number[]): { calls: TrainResult[]; moving: Float32Array[] } {
  const n = shape.reduce((a, b) => a * b, 1);
  const calls = [0, 1, 2].map((k) => {
    const x = tf.tensor(values(n, 100 + k, 2, 0.3 * (k + 1)), shape);
    const g = tf.tensor(values(n, 200 + k), shape);
    const r = trainCall(layer, x, g);
    tf.dispose([x, g]);
    return r;
  });
  return { calls, moving: moving(layer) as Float32Array[] };
}

describe.each(backends)('same values as tfjs BatchNormalization on %s', (backend) => {
  it.each(SHAPES)('training [%i, %i, %i, %i]: y, dx, dγ, dβ, moving statistics', (...shape) =>
    withBackend(backend, () => {
      const { ours, ref } = pair(shape);
      const a = threeCalls(ours, shape);
      const b = threeCalls(ref, shape);
      for (const [k, ca] of a.calls.entries()) {
        const cb = b.calls[k]!;
        if (backend === 'cpu') {
          // Off the native backend the layer runs tfjs-layers' own code: identical.
          expect(ca).toEqual(cb);
          continue;
        }
        expect(maxAbsDiff(ca.y, cb.y)).toBeLessThan(1e-5);
        expect(relDiff(ca.dx, cb.dx)).toBeLessThan(1e-5);
        expect(relDiff(ca.dbeta, cb.dbeta)).toBeLessThan(5e-6);
        // dγ sums dy·x̂: its scale is that of dβ (Σ dy), with terms of either sign.
        expect(maxAbsDiff(ca.dgamma, cb.dgamma)).toBeLessThan(
          1e-5 * Math.max(1, ...Array.from(cb.dbeta, Math.abs)),
        );
      }
      for (const [i, m] of a.moving.entries())
        expect(maxAbsDiff(m, b.moving[i]!)).toBeLessThan(1e-6);
    }),
  );

  it('inference output is identical to tfjs', () =>
    withBackend(backend, () => {
      const shape = [4, 5, 5, 3];
      const { ours, ref } = pair(shape);
      const x = tf.tensor(values(300, 5, 2, 0.5), shape);
      const ya = (ours.apply(x, { training: false }) as tf.Tensor).dataSync();
      const yb = (ref.apply(x, { training: false }) as tf.Tensor).dataSync();
      expect(ya).toEqual(yb);
      // No training kwarg at all = inference, as in tfjs.
      expect((ours.apply(x) as tf.Tensor).dataSync()).toEqual(yb);
      expect(moving(ours)).toEqual(moving(ref));
    }));

  it('the fused kernels run only when training on the native backend', () =>
    withBackend(backend, async () => {
      const shape = [4, 3, 3, 2];
      const { ours } = pair(shape);
      const x = tf.tensor(values(72, 9), shape);
      const train = await kernelsOf(() =>
        tf.grad((a: tf.Tensor) => tf.sum(ours.apply(a, { training: true }) as tf.Tensor))(x),
      );
      const infer = await kernelsOf(() => ours.apply(x, { training: false }) as tf.Tensor);
      expect(infer.filter((k) => FUSED.includes(k))).toEqual([]);
      if (backend === 'tensorflow') {
        expect(train).toContain(FUSED_BATCH_NORM_KERNEL);
        expect(train).toContain(FUSED_BATCH_NORM_GRAD_KERNEL);
        // tfjs's composite (tf.moments' Mean, the Rsqrt of batchNorm's gradient) is gone.
        expect(train).not.toContain('Mean');
        expect(train).not.toContain('Rsqrt');
      } else {
        expect(train.filter((k) => FUSED.includes(k))).toEqual([]);
        expect(train).toContain('Mean');
        expect(train).toContain('Rsqrt');
      }
    }));

  it('does not leak tensors over optimizer steps', () =>
    withBackend(backend, () => {
      const model = tf.sequential({
        layers: [
          tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, useBias: false }),
          batchNormalization({ name: 'bn' }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 2 }),
        ],
      });
      const opt = tf.train.momentum(0.05, 0.9);
      const x = tf.tensor4d(values(8 * 72, 3), [8, 6, 6, 2]);
      const y = tf.oneHot(tf.tensor1d([0, 1, 1, 0, 1, 0, 0, 1], 'int32'), 2);
      const step = () =>
        opt.minimize(() =>
          tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor),
        );
      const before = moving(model.getLayer('bn'));
      expect(tensorGrowth(step, 4)).toBe(0);
      expect(maxAbsDiff(moving(model.getLayer('bn'))[0]!, before[0]!)).toBeGreaterThan(0);
      tf.dispose([x, y]);
      opt.dispose();
    }));
});

describe.runIf(native)('the native fused path against the cpu backend', () => {
  it.each(SHAPES.slice(0, 2))(
    'training [%i, %i, %i, %i] on tensorflow equals cpu',
    async (...shape) => {
      const run = (backend: string) =>
        withBackend(backend, () => {
          const { ours } = pair(shape);
          return threeCalls(ours, shape);
        });
      const nat = await run('tensorflow');
      const cpu = await run('cpu');
      for (const [k, a] of nat.calls.entries()) {
        const b = cpu.calls[k]!;
        expect(maxAbsDiff(a.y, b.y)).toBeLessThan(2e-5);
        expect(relDiff(a.dx, b.dx)).toBeLessThan(2e-5);
        expect(relDiff(a.dbeta, b.dbeta)).toBeLessThan(1e-5);
        expect(maxAbsDiff(a.dgamma, b.dgamma)).toBeLessThan(
          1e-5 * Math.max(1, ...Array.from(b.dbeta, Math.abs)),
        );
      }
      for (const [i, m] of nat.moving.entries())
        expect(maxAbsDiff(m, cpu.moving[i]!)).toBeLessThan(1e-6);
    },
  );

  it('momentum 0: the moving variance becomes tf.moments’ (population) batch variance', async () => {
    const shape = [2, 3, 1, 4]; // n = 6: the Bessel factor 6/5 would show
    await withBackend('tensorflow', () => {
      const layer = batchNormalization({ momentum: 0 });
      layer.build(shape);
      const x = tf.tensor(values(24, 21, 3, 1), shape);
      tf.dispose(layer.apply(x, { training: true }) as tf.Tensor);
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      const [m, v] = moving(layer);
      expect(maxAbsDiff(m!, mean.dataSync())).toBeLessThan(1e-6);
      expect(relDiff(v!, variance.dataSync())).toBeLessThan(1e-6);
    });
  });

  it('other ranks and axes, and center/scale off, take tfjs’s path, with identical values', async () => {
    await withBackend('tensorflow', async () => {
      for (const shape of [
        [16, 5],
        [4, 6, 3],
      ]) {
        const { ours, ref } = pair(shape);
        const n = shape.reduce((a, b) => a * b, 1);
        const x = tf.tensor(values(n, 31, 2), shape);
        const g = tf.tensor(values(n, 32), shape);
        expect(trainCall(ours, x, g)).toEqual(trainCall(ref, x, g));
        expect(moving(ours)).toEqual(moving(ref));
        const kernels = await kernelsOf(() => ours.apply(x, { training: true }) as tf.Tensor);
        expect(kernels.filter((k) => FUSED.includes(k))).toEqual([]);
      }
      // Channels-first (axis 1): forward and moving statistics as tfjs (whose
      // own gradient fails for a non-last axis on this backend).
      const shape = [4, 3, 5, 5];
      const { ours, ref } = pair(shape, { axis: 1 });
      const x = tf.tensor(values(300, 34, 2), shape);
      expect((ours as TritBatchNormalization).usesFusedPath(x)).toBe(false);
      const ya = (ours.apply(x, { training: true }) as tf.Tensor).dataSync();
      expect(ya).toEqual((ref.apply(x, { training: true }) as tf.Tensor).dataSync());
      expect(moving(ours)).toEqual(moving(ref));

      const x4 = tf.tensor4d(values(48, 33), [2, 2, 3, 4]);
      const built = (args: Parameters<typeof batchNormalization>[0]) => {
        const layer = batchNormalization(args);
        layer.build([2, 2, 3, 4]);
        return layer;
      };
      expect(built({ center: false }).usesFusedPath(x4)).toBe(false);
      expect(built({ scale: false }).usesFusedPath(x4)).toBe(false);
      expect(built({}).usesFusedPath(x4)).toBe(true);
      expect(built({ axis: 3 }).usesFusedPath(x4)).toBe(true);
      expect(built({}).usesFusedPath(tf.cast(x4, 'int32'))).toBe(false);
      await withBackend('cpu', () => expect(built({}).usesFusedPath(x4)).toBe(false));
    });
  });

  it('fusedBatchNormTraining rejects other backends, ranks and parameter shapes, naming them', async () => {
    const x = tf.ones([2, 2, 2, 3]);
    const p = tf.ones([3]);
    await withBackend('cpu', () => {
      expect(() => fusedBatchNormTraining(x, p, p, 1e-3)).toThrow(
        'fusedBatchNormTraining: needs the native "tensorflow" backend, the active one is "cpu"',
      );
    });
    await withBackend('tensorflow', () => {
      expect(() => fusedBatchNormTraining(tf.ones([4, 3]), p, p, 1e-3)).toThrow(
        'x must be a 4-D float32 NHWC tensor, got float32 [4, 3]',
      );
      expect(() => fusedBatchNormTraining(x, tf.ones([2]), p, 1e-3)).toThrow(
        'gamma must be float32 of shape [3], got float32 [2]',
      );
    });
  });
});

describe('serialization and model rebuilding', () => {
  /** conv → bn → relu → flatten → dense, with a TritBatchNormalization or tfjs's. */
  function model(trit: boolean): tf.LayersModel {
    const input = tf.input({ shape: [6, 6, 2], name: 'input' });
    let h = tf.layers
      .conv2d({
        filters: 3,
        kernelSize: 3,
        useBias: false,
        name: 'conv',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      })
      .apply(input) as tf.SymbolicTensor;
    const args = { momentum: 0.9, epsilon: 1e-5, name: 'bn' };
    h = (trit ? batchNormalization(args) : tf.layers.batchNormalization(args)).apply(
      h,
    ) as tf.SymbolicTensor;
    h = tf.layers.reLU({ name: 'relu' }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.flatten({ name: 'flat' }).apply(h) as tf.SymbolicTensor;
    const out = tf.layers
      .dense({
        units: 2,
        name: 'fc',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
      })
      .apply(h) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: out, name: 'model' });
  }
  const bnWeights = [
    tf.tensor1d([1.2, 0.8, -0.5]),
    tf.tensor1d([0.1, -0.2, 0.3]),
    tf.tensor1d([0.05, -0.1, 0.2]),
    tf.tensor1d([0.9, 1.1, 1.6]),
  ];
  const x = tf.tensor4d(values(2 * 72, 41, 1.5), [2, 6, 6, 2]);

  it('same config and weight names as tfjs’s layer; only the class name differs', () => {
    const ours = model(true);
    const ref = model(false);
    const a = ours.getLayer('bn');
    const b = ref.getLayer('bn');
    expect(a).toBeInstanceOf(TritBatchNormalization);
    expect(a.getClassName()).toBe('TritBatchNormalization');
    expect(TritBatchNormalization.className).toBe('TritBatchNormalization');
    expect(a.getConfig()).toEqual(b.getConfig());
    expect(a.weights.map((w) => [w.originalName, w.shape, w.trainable])).toEqual([
      ['bn/gamma', [3], true],
      ['bn/beta', [3], true],
      ['bn/moving_mean', [3], false],
      ['bn/moving_variance', [3], false],
    ]);
    expect(a.weights.map((w) => w.originalName)).toEqual(b.weights.map((w) => w.originalName));
    // biome-ignore lint/suspicious/noExplicitAny: model topology JSON
    const json = ours.toJSON(null, false) as any;
    const refJson = ref.toJSON(null, false);
    expect(json.config.layers[2].class_name).toBe('TritBatchNormalization');
    json.config.layers[2].class_name = 'BatchNormalization';
    expect(json).toEqual(refJson);
  });

  it('save / load round trip keeps the class, the weights and the outputs', async () => {
    const original = model(true);
    original.getLayer('bn').setWeights(bnWeights);
    let artifacts: tf.io.ModelArtifacts | undefined;
    await original.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    expect(artifacts!.weightSpecs!.map((s) => s.name)).toEqual([
      'conv/kernel',
      'bn/gamma',
      'bn/beta',
      'fc/kernel',
      'fc/bias',
      'bn/moving_mean', // non-trainable weights come last
      'bn/moving_variance',
    ]);
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
    expect(loaded.getLayer('bn')).toBeInstanceOf(TritBatchNormalization);
    loaded
      .getLayer('bn')
      .getWeights()
      .forEach((w, i) => {
        expect(w.dataSync()).toEqual(bnWeights[i]!.dataSync());
      });
    expect((loaded.predict(x) as tf.Tensor).dataSync()).toEqual(
      (original.predict(x) as tf.Tensor).dataSync(),
    );
    // tfjs's weights load into the Trit layer as they are (same names, order, shapes).
    const ref = model(false);
    ref.getLayer('bn').setWeights(bnWeights);
    const fromRef = model(true);
    fromRef.setWeights(ref.getWeights());
    expect((fromRef.predict(x) as tf.Tensor).dataSync()).toEqual(
      (ref.predict(x) as tf.Tensor).dataSync(),
    );
  });

  it('quantizeModel keeps it, with its weights copied', () => {
    const original = model(true);
    original.getLayer('bn').setWeights(bnWeights);
    const { model: q } = quantizeModel(original, { default: 'fp32', keepFirstLastFP32: false });
    expect(q.layers.map((l) => l.getClassName())).toEqual([
      'InputLayer',
      'TritQuantConv2D',
      'TritBatchNormalization',
      'ReLU',
      'Flatten',
      'TritQuantDense',
    ]);
    q.getLayer('bn')
      .getWeights()
      .forEach((w, i) => {
        expect(w.dataSync()).toEqual(bnWeights[i]!.dataSync());
      });
    expect(
      maxAbsDiff(
        (q.predict(x) as tf.Tensor).dataSync(),
        (original.predict(x) as tf.Tensor).dataSync(),
      ),
    ).toBeLessThan(1e-6);
  });
});
