import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  getQuantizer,
  QuantConv2D,
  QuantDense,
  Quantizer,
  type QuantLayer,
  quantLayers,
  registerQuantizer,
  trainStep,
} from '../src/index.js';
import {
  expectClose,
  maxAbsDiff,
  tensorGrowth,
  testBackends,
  withBackend,
} from '../src/testing.js';
import { ProbeQuantizer } from './fixtures/probe.js';

const backends = await testBackends();
const native = backends.includes('tensorflow');

/** JSON text with undefined as null (tfjs turns an initializer's undefined seed into null on loading). */
const json = (x: unknown) => JSON.stringify(x, (_k, v) => (v === undefined ? null : v));

/** Saves to memory and loads back. */
async function roundTrip(model: tf.LayersModel): Promise<tf.LayersModel> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return tf.loadLayersModel(tf.io.fromMemory(artifacts!));
}

const W = [
  [-0.9, -0.05],
  [0, 0.04],
  [0.3, 1.0],
];

describe.each(backends)('QuantDense and QuantConv2D on %s', (backend) => {
  it('build: kernel, bias, then the quantizer parameters, initialised from the kernel', () =>
    withBackend(backend, () => {
      const layer = new QuantDense({ units: 2, quantizer: 'probe', name: 'fc', inputShape: [3] });
      tf.sequential({ layers: [layer] });
      expect(layer.weights.map((w) => [w.originalName, w.shape])).toEqual([
        ['fc/kernel', [3, 2]],
        ['fc/bias', [2]],
        ['fc/s', []],
      ]);
      expect(layer.trainableWeights).toHaveLength(3);
      const k = layer.kernel!.read().dataSync();
      const meanAbs = Array.from(k).reduce((a, v) => a + Math.abs(v), 0) / k.length;
      expect(layer.quantizerParams().s).toBeCloseTo(meanAbs, 6);
      expect(layer.quantizer).toBeInstanceOf(ProbeQuantizer);
    }));

  it('dense forward by hand: y = relu(x · Q + b) with BWN', () =>
    withBackend(backend, () => {
      const layer = new QuantDense({
        units: 2,
        quantizer: 'bwn',
        activation: 'relu',
        inputShape: [3],
      });
      tf.sequential({ layers: [layer] });
      layer.setWeights([tf.tensor2d(W), tf.tensor1d([0.1, -0.2])]);
      // Q = 0.3816667 · [[-1, -1], [1, 1], [1, 1]] (mean|W| = 2.29 / 6)
      // x · Q = 0.3816667 · (-1 + 2 + 3) = 1.5266667 per output
      // y = relu([1.5266667 + 0.1, 1.5266667 - 0.2]) = [1.6266667, 1.3266667]
      const y = layer.apply(tf.tensor2d([[1, 2, 3]])) as tf.Tensor;
      expectClose(y.dataSync(), [1.6266667, 1.3266667], 5e-6);
      expectClose(
        layer.quantizedKernel().dataSync(),
        [-1, -1, 1, 1, 1, 1].map((s) => s * 0.3816667),
        5e-6,
      );
    }));

  it('conv forward by hand: one 2x2 window with BWN', () =>
    withBackend(backend, () => {
      const layer = new QuantConv2D({
        filters: 1,
        kernelSize: 2,
        quantizer: 'bwn',
        inputShape: [2, 2, 1],
      });
      tf.sequential({ layers: [layer] });
      layer.setWeights([tf.tensor4d([-0.9, -0.05, 0, 0.04], [2, 2, 1, 1]), tf.tensor1d([0.5])]);
      // mean|W| = (0.9 + 0.05 + 0 + 0.04) / 4 = 0.2475; sign(W) = [-1, -1, +1, +1]
      // x = [1, 2, 3, 4]: Σ x·Q = 0.2475 · (-1 - 2 + 3 + 4) = 0.99; + bias 0.5 = 1.49
      const y = layer.apply(tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1])) as tf.Tensor;
      expect(y.shape).toEqual([1, 1, 1, 1]);
      expectClose(y.dataSync(), [1.49], 5e-6);
    }));

  it('gradients reach the kernel, the bias and the quantizer parameters', () =>
    withBackend(backend, () => {
      const layer = new QuantDense({ units: 2, quantizer: 'probe', inputShape: [3] });
      tf.sequential({ layers: [layer] });
      layer.setWeights([tf.tensor2d(W), tf.tensor1d([0, 0]), tf.scalar(0.5)]);
      const x = tf.tensor2d([[1, 2, 3]]);
      const G = tf.tensor2d([[1, -1]]);
      const vars = layer.trainableWeights.map((w) => w.read() as tf.Variable);
      const { grads } = tf.variableGrads(
        () => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, G)) as tf.Scalar,
        vars,
      );
      const [gk, gb, gs] = vars.map((v) => grads[v.name]!.dataSync());
      // Q = s·W, L = Σ (x·Q + b)·G; xᵀG = [[1, -1], [2, -2], [3, -3]]
      // dL/dW = s · xᵀG = 0.5 · xᵀG
      expectClose(gk!, [0.5, -0.5, 1, -1, 1.5, -1.5], 5e-6);
      // dL/db = Σ_batch G = [1, -1]
      expectClose(gb!, [1, -1], 5e-6);
      // dL/ds = Σ W ⊙ xᵀG = -0.9 + 0.05 + 0 - 0.08 + 0.9 - 3.0 = -3.03
      expectClose(gs!, [-3.03], 5e-6);
    }));

  it('QuantConv2D with fp32 equals tf.layers.conv2d (padding, strides, dilation, channelsFirst)', () =>
    withBackend(backend, () => {
      const x = tf.randomNormal([2, 7, 7, 3], 0, 1, 'float32', 1);
      const cases = [
        { padding: 'same' as const, strides: 2 },
        { padding: 'valid' as const, strides: [1, 2] },
        { padding: 'same' as const, dilationRate: 2 },
        { padding: 'valid' as const, activation: 'tanh' as const },
      ];
      for (const c of cases) {
        const ref = tf.layers.conv2d({
          filters: 4,
          kernelSize: 3,
          biasInitializer: 'randomNormal',
          ...c,
        });
        const yRef = ref.apply(x) as tf.Tensor;
        const q = new QuantConv2D({ filters: 4, kernelSize: 3, ...c });
        q.apply(x);
        q.setWeights(ref.getWeights());
        const y = q.apply(x) as tf.Tensor;
        expect(y.shape).toEqual(yRef.shape);
        expect(q.computeOutputShape([null, 7, 7, 3])).toEqual([null, ...yRef.shape.slice(1)]);
        expect(maxAbsDiff(y.dataSync(), yRef.dataSync())).toBeLessThan(1e-5);
      }
      // channelsFirst: transposed around the NHWC op, as tfjs does.
      const ref = tf.layers.conv2d({
        filters: 4,
        kernelSize: 3,
        dataFormat: 'channelsFirst',
        padding: 'same',
      });
      const xc = tf.transpose(x, [0, 3, 1, 2]);
      const yRef = ref.apply(xc) as tf.Tensor;
      const q = new QuantConv2D({
        filters: 4,
        kernelSize: 3,
        dataFormat: 'channelsFirst',
        padding: 'same',
      });
      q.apply(xc);
      q.setWeights(ref.getWeights());
      expect(maxAbsDiff((q.apply(xc) as tf.Tensor).dataSync(), yRef.dataSync())).toBeLessThan(1e-5);
    }));

  it('QuantDense with fp32 equals tf.layers.dense, also on rank-3 input', () =>
    withBackend(backend, () => {
      const x = tf.randomNormal([2, 5, 3], 0, 1, 'float32', 2);
      for (const activation of ['linear', 'relu', 'softmax'] as const) {
        const ref = tf.layers.dense({ units: 4, activation, biasInitializer: 'ones' });
        const yRef = ref.apply(x) as tf.Tensor;
        const q = new QuantDense({ units: 4, activation });
        q.apply(x);
        q.setWeights(ref.getWeights());
        const y = q.apply(x) as tf.Tensor;
        expect(y.shape).toEqual([2, 5, 4]);
        expect(maxAbsDiff(y.dataSync(), yRef.dataSync())).toBeLessThan(1e-5);
      }
    }));

  it('save/load round trip: identical outputs, weights, quantizer config and state', () =>
    withBackend(backend, async () => {
      const model = tf.sequential({
        layers: [
          new QuantConv2D({
            filters: 3,
            kernelSize: 3,
            inputShape: [6, 6, 1],
            activation: 'relu',
            quantizer: { name: 'probe', config: { c: 0.01, mode: 'other' } },
            kernelRegularizer: tf.regularizers.l2({ l2: 1e-3 }),
          }),
          tf.layers.flatten(),
          new QuantDense({
            units: 2,
            quantizer: 'bwn',
            kernelInitializer: 'heNormal',
            useBias: false,
          }),
        ],
      });
      const x = tf.randomNormal([4, 6, 6, 1], 0, 1, 'float32', 3);
      const y = tf.oneHot(tf.tensor1d([0, 1, 1, 0], 'int32'), 2);
      const opt = tf.train.sgd(0.1);
      for (let step = 0; step < 3; step++) {
        trainStep(model, opt, x, y, tf.losses.softmaxCrossEntropy, {
          progress: { epoch: 0, epochs: 1, step, stepsPerEpoch: 4 },
        });
      }
      const loaded = await roundTrip(model);
      expect(loaded.layers.map((l) => l.getClassName())).toEqual([
        'TritQuantConv2D',
        'Flatten',
        'TritQuantDense',
      ]);
      const [a, b] = [quantLayers(model), quantLayers(loaded)];
      for (let i = 0; i < a.length; i++) {
        expect(b[i]!.quantizer.name).toBe(a[i]!.quantizer.name);
        expect(b[i]!.quantizer.getConfig()).toEqual(a[i]!.quantizer.getConfig());
        expect(b[i]!.quantizer.getState()).toEqual(a[i]!.quantizer.getState());
        expect(b[i]!.quantizerParams()).toEqual(a[i]!.quantizerParams());
        expect(json(b[i]!.getConfig())).toEqual(json(a[i]!.getConfig()));
      }
      expect((b[0]!.quantizer as ProbeQuantizer).getState()).toEqual({
        steps: 3,
        fraction: 0.5,
        phase: 'main',
      });
      expect(loaded.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(
        model.getWeights().map((w) => Array.from(w.dataSync())),
      );
      const out = (model.predict(x) as tf.Tensor).dataSync();
      const outLoaded = (loaded.predict(x) as tf.Tensor).dataSync();
      expect(Array.from(outLoaded)).toEqual(Array.from(out));
      // The loaded model trains on: its regularizers (probe's and the l2) are layer losses again.
      expect(loaded.calculateLosses()).toHaveLength(2);
    }));

  it('frozenParams: a non-trainable weight (tfjs lists it last) that fit and trainStep leave, saved with the layer', () =>
    withBackend(backend, async () => {
      // A tf.sequential model marks its weights trainable again when it builds
      // (on compile or the first call): the layer must create a frozen one as non-trainable.
      const build = (frozen: boolean) =>
        tf.sequential({
          layers: [
            new QuantDense({
              units: 2,
              inputShape: [3],
              activation: 'relu',
              quantizer: { name: 'probe', ...(frozen ? { frozenParams: ['s'] } : {}) },
            }),
            new QuantDense({ units: 2, quantizer: 'probe' }),
          ],
        });
      const x = tf.randomNormal([16, 3], 0, 1, 'float32', 4);
      const y = tf.randomNormal([16, 2], 0, 1, 'float32', 5);
      const s = (m: tf.LayersModel) =>
        quantLayers(m).map((l) => l.paramVariables.s!.read().dataSync()[0]!);
      for (const frozen of [false, true]) {
        const model = build(frozen);
        const [first] = quantLayers(model);
        expect(first!.weights.map((w) => [w.originalName.split('/')[1], w.trainable])).toEqual(
          frozen
            ? [
                ['kernel', true],
                ['bias', true],
                ['s', false],
              ]
            : [
                ['kernel', true],
                ['bias', true],
                ['s', true],
              ],
        );
        model.compile({ optimizer: tf.train.sgd(0.05), loss: 'meanSquaredError' });
        const s0 = s(model);
        await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0 });
        const s1 = s(model);
        // the first layer's s stays exactly where it was only when frozen; the second layer's always trains
        if (frozen) expect(s1[0]).toBe(s0[0]);
        else expect(Math.abs(s1[0]! - s0[0]!)).toBeGreaterThan(1e-6);
        expect(Math.abs(s1[1]! - s0[1]!)).toBeGreaterThan(1e-6);
        const opt = tf.train.sgd(0.05);
        trainStep(model, opt, x, y, tf.losses.meanSquaredError);
        if (frozen) expect(s(model)[0]).toBe(s0[0]);
        opt.dispose();
        if (frozen) {
          const loaded = await roundTrip(model);
          const [a] = quantLayers(loaded);
          expect([...a!.frozenParams]).toEqual(['s']);
          expect(a!.paramVariables.s!.trainable).toBe(false);
          expect(s(loaded)).toEqual(s(model));
          expect(json(a!.getConfig())).toEqual(json(first!.getConfig()));
          loaded.dispose();
        }
        model.dispose();
      }
      tf.dispose([x, y]);
    }));

  it('a layer config round trip (getConfig → fromConfig) gives the same layer', () =>
    withBackend(backend, () => {
      const layer = new QuantConv2D({
        filters: 2,
        kernelSize: [3, 1],
        strides: [2, 1],
        padding: 'same',
        activation: 'elu',
        quantizer: { name: 'probe', config: { c: 0.5 } },
        biasConstraint: 'nonNeg',
      });
      (layer.quantizer as ProbeQuantizer).onStep({
        epoch: 1,
        epochs: 2,
        step: 0,
        stepsPerEpoch: 1,
      });
      const [cls, fromConfig] =
        tf.serialization.SerializationMap.getMap().classNameMap.TritQuantConv2D!;
      const copy = fromConfig(cls, layer.getConfig()) as unknown as QuantLayer;
      expect(copy).toBeInstanceOf(QuantConv2D);
      expect(copy.getConfig()).toEqual(layer.getConfig());
      expect(copy.quantizer.getState()).toEqual({ steps: 1, fraction: 0.5, phase: 'main' });
    }));
});

describe('save to disk (file://, native backend)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trit-layers-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.runIf(native)('loads a saved model with identical outputs', () =>
    withBackend('tensorflow', async () => {
      const input = tf.input({ shape: [4, 4, 2] });
      const h = new QuantConv2D({
        filters: 2,
        kernelSize: 2,
        quantizer: 'probe',
        activation: 'relu',
      }).apply(input);
      const out = new QuantDense({ units: 3, quantizer: 'bwn' }).apply(
        tf.layers.flatten().apply(h),
      );
      const model = tf.model({ inputs: input, outputs: out as tf.SymbolicTensor });
      await model.save(`file://${dir}`);
      const loaded = await tf.loadLayersModel(`file://${dir}/model.json`);
      const x = tf.randomNormal([3, 4, 4, 2], 0, 1, 'float32', 4);
      expect(Array.from((loaded.predict(x) as tf.Tensor).dataSync())).toEqual(
        Array.from((model.predict(x) as tf.Tensor).dataSync()),
      );
    }),
  );
});

describe('layer tools', () => {
  it('clipQuantizerParams projects onto the clip range; reinitQuantizerParams re-runs init', () => {
    const layer = new QuantDense({ units: 2, quantizer: 'probe', inputShape: [3] });
    tf.sequential({ layers: [layer] });
    layer.paramVariables.s!.write(tf.scalar(3));
    layer.clipQuantizerParams();
    expect(layer.quantizerParams().s).toBe(1);
    layer.paramVariables.s!.write(tf.scalar(-2));
    layer.clipQuantizerParams();
    expect(layer.quantizerParams().s).toBe(0);
    layer.setWeights([tf.tensor2d(W), tf.zeros([2]), tf.scalar(0)]);
    layer.reinitQuantizerParams();
    expect(layer.quantizerParams().s).toBeCloseTo(2.29 / 6, 6); // mean|W|
  });

  it('precision, stats and export come from the quantizer with the trained parameters', () => {
    const layer = new QuantDense({ units: 2, quantizer: 'probe', inputShape: [3] });
    tf.sequential({ layers: [layer] });
    layer.setWeights([tf.tensor2d(W), tf.zeros([2]), tf.scalar(0.7)]);
    expect(layer.precision()).toBe(2);
    expect(layer.stats()).toMatchObject({
      quantizer: 'probe',
      bits: 2,
      numWeights: 6,
      scales: { s: expect.closeTo(0.7, 6) },
    });
    layer.paramVariables.s!.write(tf.scalar(0.2));
    expect(layer.precision()).toBe(1);
    expect(layer.exportTernary()).toBeNull();
    const bwn = new QuantDense({ units: 2, quantizer: 'bwn', inputShape: [3] });
    tf.sequential({ layers: [bwn] });
    bwn.setWeights([tf.tensor2d(W), tf.zeros([2])]);
    const e = bwn.exportTernary()!;
    expect(e.shape).toEqual([3, 2]);
    expect(Array.from(e.codes)).toEqual([-1, -1, 1, 1, 1, 1]);
    expect(e.positive[0]).toBeCloseTo(2.29 / 6, 6);
  });

  it('regularizationLoss is the quantizer regularizer; quantizers without one add no layer loss', () => {
    const layer = new QuantDense({
      units: 2,
      quantizer: { name: 'probe', config: { c: 0.5 } },
      inputShape: [3],
    });
    tf.sequential({ layers: [layer] });
    layer.setWeights([tf.tensor2d(W), tf.zeros([2]), tf.scalar(1)]);
    // 0.5 · Σ W² = 0.5 · (0.81 + 0.0025 + 0 + 0.0016 + 0.09 + 1.0) = 0.5 · 1.9041 = 0.95205
    expect(layer.regularizationLoss()!.dataSync()[0]).toBeCloseTo(0.95205, 5);
    expect(layer.losses).toHaveLength(1);
    // probe overrides regularizer() (null when c = 0): the layer loss is then 0.
    const zero = new QuantDense({ units: 2, quantizer: 'probe', inputShape: [3] });
    tf.sequential({ layers: [zero] });
    expect(zero.regularizationLoss()).toBeNull();
    expect(zero.losses).toHaveLength(1);
    expect(zero.calculateLosses()[0]!.dataSync()[0]).toBe(0);
    // bwn has no regularizer at all: no layer loss.
    const plain = new QuantDense({ units: 2, quantizer: 'bwn', inputShape: [3] });
    tf.sequential({ layers: [plain] });
    expect(plain.losses).toHaveLength(0);
  });

  it('LayersModel.fit adds the quantizer regularizer to the loss', async () => {
    // With x = 0 the task loss has no gradient to the kernel, so one SGD step
    // moves the kernel by the regularizer alone: W ← W − lr · 2c · W.
    const layer = new QuantDense({
      units: 2,
      quantizer: { name: 'probe', config: { c: 0.5 } },
      inputShape: [3],
    });
    const model = tf.sequential({ layers: [layer] });
    layer.setWeights([tf.tensor2d(W), tf.zeros([2]), tf.scalar(1)]);
    model.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
    await model.fit(tf.zeros([4, 3]), tf.zeros([4, 2]), { epochs: 1, batchSize: 4, verbose: 0 });
    // factor 1 − 0.1 · 2 · 0.5 = 0.9
    expectClose(
      layer.kernel!.read().dataSync(),
      W.flat().map((w) => 0.9 * w),
      5e-7,
    );
  });

  it('a forward pass leaks no tensor', () => {
    const layer = new QuantConv2D({
      filters: 2,
      kernelSize: 3,
      quantizer: 'bwn',
      inputShape: [5, 5, 1],
    });
    tf.sequential({ layers: [layer] });
    const x = tf.ones([1, 5, 5, 1]);
    expect(tensorGrowth(() => (layer.apply(x) as tf.Tensor).dispose())).toBe(0);
    expect(tensorGrowth(() => layer.quantizedKernel().dispose())).toBe(0);
    expect(tensorGrowth(() => layer.stats())).toBe(0);
    expect(tensorGrowth(() => layer.exportTernary())).toBe(0);
  });

  it('default names are quant_conv2d_N / quant_dense_N', () => {
    expect(new QuantConv2D({ filters: 1, kernelSize: 1 }).name).toMatch(/^quant_conv2d_\d+$/);
    expect(new QuantDense({ units: 1 }).name).toMatch(/^quant_dense_\d+$/);
  });
});

describe('layer errors', () => {
  it('an unknown quantizer names the layer and lists the registered ones', () => {
    expect(() => new QuantDense({ units: 2, quantizer: 'tnn', name: 'fc1' })).toThrow(
      /QuantDense "fc1": unknown quantizer "tnn"; registered: .*bwn/,
    );
  });

  it('a quantizer error at run time (a NaN kernel) names the layer, in every call', () => {
    const layer = new QuantDense({ units: 2, quantizer: 'bwn', name: 'fc7', inputShape: [3] });
    const model = tf.sequential({ layers: [layer] });
    layer.setWeights([
      tf.tensor2d([
        [0.1, 0.2],
        [Number.NaN, 0.4],
        [0.5, 0.6],
      ]),
      tf.zeros([2]),
    ]);
    const message = 'layer "fc7": bwn: the kernel (shape [3, 2]) contains NaN at flat index 2';
    expect(() => model.predict(tf.ones([1, 3]))).toThrow(message);
    expect(() => layer.stats()).toThrow(message);
    expect(() => layer.exportTernary()).toThrow(message);
    expect(() => layer.quantizedKernel()).toThrow(message);
    // The quantizer's own error stays reachable.
    try {
      layer.stats();
    } catch (e) {
      expect((e as Error).cause).toBeInstanceOf(Error);
      expect(((e as Error).cause as Error).message).toMatch(/^bwn: the kernel/);
    }
  });

  it('an invalid quantizer config names the layer, the quantizer and the option', () => {
    expect(
      () =>
        new QuantConv2D({
          filters: 1,
          kernelSize: 1,
          name: 'c1',
          quantizer: { name: 'probe', config: { c: -1 } },
        }),
    ).toThrow('QuantConv2D "c1": probe: option "c" must be >= 0, got -1');
  });

  it('frozenParams that are not parameters of the quantizer name the layer and the value', () => {
    expect(
      () =>
        new QuantDense({
          units: 1,
          name: 'f1',
          quantizer: { name: 'probe', frozenParams: ['alpha'] },
        }),
    ).toThrow('QuantDense "f1": frozenParams: "alpha" is not a parameter of quantizer "probe" (s)');
    expect(
      () =>
        new QuantDense({
          units: 1,
          name: 'f2',
          quantizer: { name: 'probe', frozenParams: [1] as never },
        }),
    ).toThrow(
      'QuantDense "f2": frozenParams must be an array of parameter names, got an array ([1])',
    );
  });

  it('invalid layer options are clear errors', () => {
    expect(() => new QuantDense({ units: 0, name: 'fc' })).toThrow(
      'QuantDense "fc": units must be a positive integer, got 0',
    );
    expect(() => new QuantConv2D({ filters: 2.5, kernelSize: 3, name: 'c' })).toThrow(
      'filters must be a positive integer',
    );
    expect(() => new QuantConv2D({ filters: 2, kernelSize: [3, 3, 3], name: 'c' })).toThrow(
      'kernelSize must be',
    );
    expect(
      () => new QuantConv2D({ filters: 2, kernelSize: 3, padding: 'causal' as never, name: 'c' }),
    ).toThrow('padding must be "valid" or "same", got "causal"');
    expect(() => new QuantDense({ units: 2, activation: 'sparkle', name: 'fc' })).toThrow(
      'unknown activation "sparkle"',
    );
    expect(
      () => new QuantDense({ units: 2, activityRegularizer: 'l1l2' as never, name: 'fc' }),
    ).toThrow('activityRegularizer is not supported');
  });

  it('a quantizer whose config would not survive model.save() is refused up front', () => {
    class SnakeQuantizer extends Quantizer<{ mode: string }> {
      readonly name = 'snake';
      constructor() {
        super({ mode: 'per_layer' });
      }
      precision() {
        return 2;
      }
      quantize(k: tf.Tensor) {
        return k;
      }
      stats(): never {
        throw new Error('unused');
      }
      exportTernary() {
        return null;
      }
    }
    registerQuantizer({ name: 'snake', description: 'x' }, () => new SnakeQuantizer());
    expect(getQuantizer('snake').getConfig()).toEqual({ mode: 'per_layer' });
    expect(() => new QuantDense({ units: 2, quantizer: 'snake', name: 'fc' })).toThrow(
      'quantizer "snake" config value mode = "per_layer" would not survive model.save()',
    );
  });

  it('using a layer before it is built is a clear error', () => {
    expect(() => new QuantDense({ units: 2, name: 'fc' }).quantizedKernel()).toThrow(
      'layer "fc" is not built yet',
    );
  });
});
