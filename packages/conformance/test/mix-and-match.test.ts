/**
 * Mix and match across packages: TTQ convolutions, a TWN dense layer, and the
 * first conv and last dense at fp32, in one model that trains, saves, loads
 * and summarizes.
 */
import * as tf from '@tensorflow/tfjs';
import {
  formatSummary,
  initBackend,
  modelSummary,
  QuantizerCallback,
  quantizeModel,
  quantLayers,
} from '@trit/quant-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { roundTrip } from './support.js';

beforeAll(async () => {
  await initBackend({ quiet: true });
});

/** conv1 → conv2 → pool → conv3 → flatten → fc1 → fc2, seeded. */
function net(): tf.Sequential {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  return tf.sequential({
    layers: [
      tf.layers.conv2d({
        name: 'conv1',
        filters: 8,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        inputShape: [12, 12, 1],
        kernelInitializer: init(1),
      }),
      tf.layers.conv2d({
        name: 'conv2',
        filters: 8,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init(2),
      }),
      tf.layers.maxPooling2d({ name: 'pool', poolSize: 2 }),
      tf.layers.conv2d({
        name: 'conv3',
        filters: 16,
        kernelSize: 3,
        activation: 'relu',
        kernelInitializer: init(3),
      }),
      tf.layers.flatten({ name: 'flatten' }),
      tf.layers.dense({ name: 'fc1', units: 16, activation: 'relu', kernelInitializer: init(4) }),
      tf.layers.dense({ name: 'fc2', units: 3, activation: 'softmax', kernelInitializer: init(5) }),
    ],
  });
}

describe('TTQ convs + TWN dense + fp32 first/last', () => {
  it('trains, saves, loads with identical outputs, and summarizes', async () => {
    const { model, assignment } = quantizeModel(net(), {
      rules: [
        { match: { type: 'conv' }, quantizer: 'ttq' },
        { match: { type: 'dense' }, quantizer: 'twn' },
      ],
    });
    expect(assignment.map((a) => `${a.layer}:${a.quantizer}:${a.source}`)).toEqual([
      'conv1:fp32:keepFirstLastFP32',
      'conv2:ttq:rule',
      'conv3:ttq:rule',
      'fc1:twn:rule',
      'fc2:fp32:keepFirstLastFP32',
    ]);

    // Train a few steps with fit.
    const x = tf.randomNormal([32, 12, 12, 1], 0, 1, 'float32', 21);
    const y = tf.oneHot(
      tf.tensor1d(
        Array.from({ length: 32 }, (_, i) => i % 3),
        'int32',
      ),
      3,
    );
    const ttqLayers = quantLayers(model).filter((l) => l.quantizer.name === 'ttq');
    const before = ttqLayers.map((l) => l.quantizerParams());
    const kernelsBefore = quantLayers(model).map((l) => Array.from(l.kernel!.read().dataSync()));
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
    const history = await model.fit(x, y, {
      epochs: 2,
      batchSize: 8,
      shuffle: false,
      verbose: 0,
      callbacks: [new QuantizerCallback()],
    });
    const losses = history.history.loss as number[];
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[1]!).toBeLessThan(losses[0]!);
    ttqLayers.forEach((l, i) => {
      expect(l.quantizerParams().wp).not.toBeCloseTo(before[i]!.wp!, 4);
      expect(l.quantizerParams().wn).not.toBeCloseTo(before[i]!.wn!, 4);
    });
    quantLayers(model).forEach((l, i) => {
      expect(Array.from(l.kernel!.read().dataSync())).not.toEqual(kernelsBefore[i]);
    });

    // Save and load: same layers, quantizers, parameters and outputs.
    const loaded = await roundTrip(model);
    expect(quantLayers(loaded).map((l) => `${l.name}:${l.quantizer.name}`)).toEqual([
      'conv1:fp32',
      'conv2:ttq',
      'conv3:ttq',
      'fc1:twn',
      'fc2:fp32',
    ]);
    expect(quantLayers(loaded).map((l) => l.quantizerParams())).toEqual(
      quantLayers(model).map((l) => l.quantizerParams()),
    );
    expect(quantLayers(loaded).map((l) => l.exportTernary())).toEqual(
      quantLayers(model).map((l) => l.exportTernary()),
    );
    const out = (model.predict(x) as tf.Tensor).dataSync();
    expect(Array.from((loaded.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from(out));

    // Summary, by hand:
    // conv1 fp32: 3·3·1·8 = 72 + 8 bias = 80 params, 80·32 = 2560 bits
    // conv2 ttq:  3·3·8·8 = 576 at 2 bits + 8 bias + wp, wn at 32 = 1152 + 320 = 1472 bits, 586 params
    // conv3 ttq:  3·3·8·16 = 1152 at 2 bits + 16 bias + 2 = 2304 + 576 = 2880 bits, 1170 params
    // fc1 twn:    conv3 gives 4·4·16 = 256 inputs; 256·16 = 4096 at 2 bits + 16 bias = 8192 + 512 = 8704 bits, 4112 params
    // fc2 fp32:   16·3 + 3 = 51 params, 1632 bits
    const summary = modelSummary(loaded);
    expect(
      summary.layers.map((l) => [l.name, l.quantizer, l.bits, l.params, l.memoryBytes]),
    ).toEqual([
      ['conv1', 'fp32', 32, 80, 320],
      ['conv2', 'ttq', 2, 586, 184],
      ['pool', null, null, 0, 0],
      ['conv3', 'ttq', 2, 1170, 360],
      ['flatten', null, null, 0, 0],
      ['fc1', 'twn', 2, 4112, 1088],
      ['fc2', 'fp32', 32, 51, 204],
    ]);
    // params 80 + 586 + 1170 + 4112 + 51 = 5999; quantized 576 + 1152 + 4096 = 5824
    // memory (2560 + 1472 + 2880 + 8704 + 1632) / 8 = 17248 / 8 = 2156 B; float32 5999 · 4 = 23996 B
    expect(summary.totals.params).toBe(5999);
    expect(summary.totals.quantizedParams).toBe(5824);
    expect(summary.totals.memoryBytes).toBe(2156);
    expect(summary.totals.float32Bytes).toBe(23996);
    expect(summary.totals.compressionRatio).toBeCloseTo(23996 / 2156, 10);
    expect(formatSummary(summary)).toContain(
      'Weight memory: 2.11 KiB (float32: 23.43 KiB; 11.13x smaller)',
    );
  });

  it('the official TTQ CIFAR setting: the last dense quantized too', () => {
    const { assignment } = quantizeModel(net(), {
      rules: [
        { match: { type: 'dense', position: 'last' }, quantizer: 'ttq' },
        { match: { type: 'conv' }, quantizer: 'ttq' },
      ],
      default: 'twn',
    });
    expect(assignment.map((a) => `${a.layer}:${a.quantizer}`)).toEqual([
      'conv1:fp32',
      'conv2:ttq',
      'conv3:ttq',
      'fc1:twn',
      'fc2:ttq',
    ]);
  });
});
