import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  clipQuantizerParams,
  NonFiniteLossError,
  QuantConv2D,
  QuantDense,
  QuantizerCallback,
  quantizerStep,
  quantizerVariables,
  quantLayers,
  TritBatchNormalization,
  trainStep,
} from '../src/index.js';
import { tensorGrowth } from '../src/testing.js';
// Not public (trainStep and fit gather every layer loss); tested from its module.
import { quantRegularizationLoss } from '../src/training.js';
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
    const { loss } = trainStep(
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

describe('trainStep: result and hooks', () => {
  it('reports the loss, the regularizer sum and the metrics of the same forward pass', () => {
    const layer = new QuantDense({
      units: 1,
      inputShape: [2],
      quantizer: { name: 'probe', config: { c: 0.1 } },
    });
    const model = tf.sequential({ layers: [layer] });
    layer.setWeights([tf.tensor2d([[1], [2]]), tf.tensor1d([0]), tf.scalar(0.5)]);
    const result = trainStep(
      model,
      tf.train.sgd(0.1),
      tf.tensor2d([[1, 1]]),
      tf.tensor2d([[0]]),
      tf.losses.meanSquaredError,
      { metrics: (_y, pred) => ({ pred: tf.sum(pred) }) },
    );
    // pred = 0.5 · (1 + 2) = 1.5; task = 2.25; R = 0.1 · (1 + 4) = 0.5 (taken before the step)
    expect(result.loss).toBeCloseTo(2.75, 5);
    expect(result.regularization).toBeCloseTo(0.5, 6);
    expect(result.metrics.pred).toBeCloseTo(1.5, 6);
  });

  it('gathers every layer loss once: the quantizers’ regularizers and kernel regularizers, as fit does', () => {
    const model = tf.sequential({
      layers: [
        new QuantDense({
          units: 3,
          inputShape: [2],
          quantizer: { name: 'probe', config: { c: 0.5 } },
          kernelRegularizer: tf.regularizers.l2({ l2: 0.25 }),
        }),
        new QuantDense({ units: 1, quantizer: { name: 'probe', config: { c: 0.5 } } }),
      ],
    });
    const [a, b] = quantLayers(model);
    const sq = (l: typeof a) => l!.kernel!.read().square().sum().dataSync()[0]!;
    const quantR = quantRegularizationLoss(model)!.dataSync()[0]!;
    // R = 0.5·ΣWa² + 0.5·ΣWb² (quantizers) + 0.25·ΣWa² (the l2 kernel regularizer)
    const expected = 0.5 * sq(a) + 0.5 * sq(b) + 0.25 * sq(a);
    expect(quantR).toBeCloseTo(0.5 * sq(a) + 0.5 * sq(b), 5);
    const { regularization } = trainStep(
      model,
      tf.train.sgd(0),
      tf.ones([2, 2]),
      tf.zeros([2, 1]),
      tf.losses.meanSquaredError,
    );
    expect(regularization).toBeCloseTo(expected, 5);
  });

  it('transformGradients changes the gradients before the step (weight decay g + wd·w)', () => {
    const run = (decay: number) => {
      const layer = new QuantDense({ units: 1, inputShape: [2], quantizer: 'probe' });
      const model = tf.sequential({ layers: [layer] });
      layer.setWeights([tf.tensor2d([[1], [2]]), tf.tensor1d([0]), tf.scalar(0.5)]);
      const kernel = layer.kernel!.read() as tf.Variable;
      trainStep(
        model,
        tf.train.sgd(0.1),
        tf.ones([1, 2]),
        tf.zeros([1, 1]),
        tf.losses.meanSquaredError,
        {
          transformGradients: (grads) => {
            grads[kernel.name] = tf.add(grads[kernel.name]!, tf.mul(decay, kernel));
            return grads;
          },
        },
      );
      return Array.from(layer.kernel!.read().dataSync());
    };
    const plain = run(0);
    const decayed = run(0.5);
    // the decayed kernel moved by a further lr · wd · W = 0.1 · 0.5 · [1, 2]
    expect(plain[0]! - decayed[0]!).toBeCloseTo(0.05, 5);
    expect(plain[1]! - decayed[1]!).toBeCloseTo(0.1, 5);
  });

  it('a NaN loss updates nothing: weights, BatchNorm statistics, optimizer slots, quantizer schedules; the error names the step', async () => {
    const model = tf.sequential({
      layers: [
        new QuantDense({ units: 3, inputShape: [2], quantizer: 'probe' }),
        new TritBatchNormalization({}),
        new QuantDense({ units: 2, quantizer: { name: 'probe', config: { c: 0.1 } } }),
      ],
    });
    const optimizer = tf.train.momentum(0.1, 0.9);
    const lossFn = tf.losses.meanSquaredError;
    const progress = { epoch: 0, epochs: 3, step: 0, stepsPerEpoch: 4 };
    // A good step first, so that the momentum slots exist and hold values.
    trainStep(
      model,
      optimizer,
      tf.tensor2d([
        [1, 2],
        [3, -1],
      ]),
      tf.zeros([2, 2]),
      lossFn,
      { progress },
    );
    const weights = () => model.weights.map((w) => Array.from(w.read().dataSync()));
    const slots = async () =>
      (await optimizer.getWeights()).map((w) => [w.name, Array.from(w.tensor.dataSync())]);
    const states = () => probes(model).map((q) => q.getState());
    const w0 = weights();
    const s0 = await slots();
    const q0 = states();
    let hookCalls = 0;
    let thrown: unknown;
    try {
      trainStep(
        model,
        optimizer,
        tf.tensor2d([
          [Number.NaN, 1],
          [2, 3],
        ]),
        tf.zeros([2, 2]),
        lossFn,
        {
          progress: { epoch: 1, epochs: 3, step: 2, stepsPerEpoch: 4 },
          transformGradients: (g) => {
            hookCalls++;
            return g;
          },
        },
      );
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(NonFiniteLossError);
    expect((thrown as NonFiniteLossError).loss).toBeNaN();
    expect((thrown as Error).message).toContain(
      'trainStep: the loss is NaN at epoch 2/3, step 3/4; training has diverged (the step was not applied)',
    );
    expect(hookCalls).toBe(0);
    // The forward pass in training mode moved BatchNorm's moving mean and variance: restored.
    expect(weights()).toEqual(w0);
    expect(await slots()).toEqual(s0);
    expect(states()).toEqual(q0);
  });
});

describe('quantizerVariables', () => {
  it('finds the quantizer parameters through each layer’s own map, not by name', () => {
    const input = tf.input({ shape: [3] });
    // A user layer named like a quantizer parameter: its weights are "s/kernel" and "s/bias".
    let h = tf.layers.dense({ units: 3, name: 's' }).apply(input) as tf.SymbolicTensor;
    h = new QuantDense({ units: 2, name: 'q', quantizer: 'probe' }).apply(h) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: h });
    const found = quantizerVariables(model);
    expect(found.map((p) => [p.layer.name, p.name, p.variable.originalName])).toEqual([
      ['q', 's', 'q/s'],
    ]);
    const q = quantLayers(model)[0]!;
    expect(found[0]!.variable).toBe(q.paramVariables.s);
    expect(found[0]!.spec.clip).toEqual([0, 1]);
  });

  it('is empty before the layer is built', () => {
    expect(new QuantDense({ units: 2, quantizer: 'probe' }).quantizerVariables()).toEqual([]);
  });
});
