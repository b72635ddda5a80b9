import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  clipQuantizerParams,
  QuantConv2D,
  QuantDense,
  QuantizerCallback,
  quantizerStep,
  quantLayers,
  quantRegularizationLoss,
  trainStep,
} from '../src/index.js';
import { tensorGrowth } from '../src/testing.js';
import type { ProbeQuantizer } from './fixtures/probe.js';
import './fixtures/probe.js';

function probeModel(c = 0) {
  const model = tf.sequential({
    layers: [
      new QuantDense({
        units: 3,
        inputShape: [2],
        quantizer: { name: 'probe', config: { c } },
        activation: 'relu',
      }),
      new QuantDense({ units: 2, quantizer: { name: 'probe', config: { c } } }),
    ],
  });
  return model;
}
const probes = (model: tf.LayersModel) =>
  quantLayers(model).map((l) => l.quantizer as ProbeQuantizer);

describe('quantLayers', () => {
  it('finds quantized layers in order, inside nested models too', () => {
    const inner = tf.sequential({
      layers: [new QuantDense({ units: 4, inputShape: [4], name: 'inner_fc', quantizer: 'bwn' })],
    });
    const input = tf.input({ shape: [4, 4, 1] });
    let h = new QuantConv2D({ filters: 2, kernelSize: 3, name: 'conv' }).apply(
      input,
    ) as tf.SymbolicTensor;
    h = tf.layers.flatten().apply(h) as tf.SymbolicTensor;
    h = tf.layers.dense({ units: 4, name: 'plain' }).apply(h) as tf.SymbolicTensor;
    h = inner.apply(h) as tf.SymbolicTensor;
    const out = new QuantDense({ units: 2, name: 'head' }).apply(h) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    expect(quantLayers(model).map((l) => l.name)).toEqual(['conv', 'inner_fc', 'head']);
  });
});

describe('quantizerStep and clipQuantizerParams', () => {
  it('hands the progress to every quantizer', () => {
    const model = probeModel();
    quantizerStep(model, { epoch: 2, epochs: 4, step: 1, stepsPerEpoch: 2 });
    for (const q of probes(model)) {
      expect(q.seen).toEqual([{ epoch: 2, epochs: 4, step: 1, stepsPerEpoch: 2 }]);
      // runFraction = (2·2 + 1) / (4·2) = 0.625
      expect(q.getState()).toEqual({ steps: 1, fraction: 0.625, phase: 'main' });
    }
  });

  it('clips every layer', () => {
    const model = probeModel();
    for (const l of quantLayers(model)) l.paramVariables.s!.write(tf.scalar(7));
    clipQuantizerParams(model);
    expect(quantLayers(model).map((l) => l.quantizerParams().s)).toEqual([1, 1]);
  });
});

describe('quantRegularizationLoss', () => {
  it('sums the layers regularizers, or is null without any', () => {
    const model = probeModel(0.5);
    const [a, b] = quantLayers(model);
    const expected =
      0.5 * a!.kernel!.read().square().sum().dataSync()[0]! +
      0.5 * b!.kernel!.read().square().sum().dataSync()[0]!;
    expect(quantRegularizationLoss(model)!.dataSync()[0]).toBeCloseTo(expected, 5);
    expect(quantRegularizationLoss(probeModel(0))).toBeNull();
  });
});

describe('QuantizerCallback', () => {
  const x = tf.randomNormal([8, 2], 0, 1, 'float32', 5);
  const y = tf.randomNormal([8, 2], 0, 1, 'float32', 6);

  it('calls onStep before every batch with the fit progress', async () => {
    const model = probeModel();
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    await model.fit(x, y, {
      epochs: 2,
      batchSize: 4,
      verbose: 0,
      callbacks: [new QuantizerCallback()],
    });
    // 8 samples / batch 4 = 2 steps per epoch, 2 epochs
    expect(probes(model)[0]!.seen).toEqual([
      { epoch: 0, epochs: 2, step: 0, stepsPerEpoch: 2 },
      { epoch: 0, epochs: 2, step: 1, stepsPerEpoch: 2 },
      { epoch: 1, epochs: 2, step: 0, stepsPerEpoch: 2 },
      { epoch: 1, epochs: 2, step: 1, stepsPerEpoch: 2 },
    ]);
  });

  it('lets a run span several fit calls (epochs option, initialEpoch)', async () => {
    const model = probeModel();
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const cb = new QuantizerCallback({ epochs: 4 });
    await model.fit(x, y, {
      epochs: 3,
      initialEpoch: 2,
      batchSize: 8,
      verbose: 0,
      callbacks: [cb],
    });
    expect(probes(model)[1]!.seen).toEqual([{ epoch: 2, epochs: 4, step: 0, stepsPerEpoch: 1 }]);
  });

  it('clips the quantizer parameters after every batch (fit alone does not)', async () => {
    for (const withCallback of [false, true]) {
      const model = probeModel();
      model.compile({ optimizer: tf.train.sgd(1e-3), loss: 'meanSquaredError' });
      for (const l of quantLayers(model)) l.paramVariables.s!.write(tf.scalar(5));
      await model.fit(x, y, {
        epochs: 1,
        batchSize: 4,
        verbose: 0,
        callbacks: withCallback ? [new QuantizerCallback()] : [],
      });
      for (const l of quantLayers(model)) {
        if (withCallback) expect(l.quantizerParams().s).toBeLessThanOrEqual(1);
        else expect(l.quantizerParams().s).toBeGreaterThan(4);
      }
    }
  });

  it('rejects bad options', () => {
    expect(() => new QuantizerCallback({ epochs: 0 })).toThrow(
      'QuantizerCallback: epochs must be a positive integer, got 0',
    );
    expect(() => new QuantizerCallback({ stepsPerEpoch: 1.5 })).toThrow(
      'stepsPerEpoch must be a positive integer',
    );
  });
});

describe('trainStep', () => {
  it('does one step by hand: task loss + regularizer, SGD, clipping', () => {
    const layer = new QuantDense({
      units: 1,
      inputShape: [2],
      quantizer: { name: 'probe', config: { c: 0.1 } },
    });
    const model = tf.sequential({ layers: [layer] });
    layer.setWeights([tf.tensor2d([[1], [2]]), tf.tensor1d([0]), tf.scalar(0.5)]);
    const loss = trainStep(
      model,
      tf.train.sgd(0.1),
      tf.tensor2d([[1, 1]]),
      tf.tensor2d([[0]]),
      tf.losses.meanSquaredError,
      {
        progress: { epoch: 0, epochs: 1, step: 0, stepsPerEpoch: 1 },
      },
    );
    // pred = s · (1·1 + 1·2) = 0.5 · 3 = 1.5; task = 1.5² = 2.25; R = 0.1 · (1 + 4) = 0.5
    expect(loss).toBeCloseTo(2.75, 5);
    // dL/dpred = 2 · 1.5 = 3
    // dL/dW = s · x · 3 + 2c · W = [1.5, 1.5] + [0.2, 0.4] = [1.7, 1.9] → W = [0.83, 1.81]
    // dL/ds = 3 · (1 + 2) = 9 → s = 0.5 − 0.9 = −0.4 → clipped to 0
    // dL/db = 3 → b = −0.3
    const [k, b, s] = layer.getWeights().map((w) => Array.from(w.dataSync()));
    expect(k![0]).toBeCloseTo(0.83, 5);
    expect(k![1]).toBeCloseTo(1.81, 5);
    expect(b![0]).toBeCloseTo(-0.3, 5);
    expect(s![0]).toBe(0);
    expect((layer.quantizer as ProbeQuantizer).seen).toHaveLength(1);
  });

  it('leaks no tensor over repeated steps (Adam, regularizers, conv)', () => {
    const model = tf.sequential({
      layers: [
        new QuantConv2D({
          filters: 2,
          kernelSize: 3,
          inputShape: [6, 6, 1],
          quantizer: { name: 'probe', config: { c: 0.01 } },
        }),
        tf.layers.flatten(),
        new QuantDense({ units: 2, quantizer: 'bwn', kernelRegularizer: 'l1l2' }),
      ],
    });
    const x = tf.randomNormal([4, 6, 6, 1]);
    const y = tf.oneHot(tf.tensor1d([0, 1, 0, 1], 'int32'), 2);
    const opt = tf.train.adam(1e-3);
    expect(tensorGrowth(() => trainStep(model, opt, x, y, tf.losses.softmaxCrossEntropy))).toBe(0);
  });

  it('reports a diverged loss and leaves the weights alone', () => {
    const model = probeModel();
    const before = model.getWeights().map((w) => Array.from(w.dataSync()));
    expect(() =>
      trainStep(
        model,
        tf.train.sgd(0.1),
        tf.tensor2d([[Number.NaN, 1]]),
        tf.zeros([1, 2]),
        tf.losses.meanSquaredError,
      ),
    ).toThrow('trainStep: the loss is NaN; training has diverged (the step was not applied)');
    expect(model.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(before);
  });
});
