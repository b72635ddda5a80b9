/**
 * Models a tfjs user builds (not the CLI's ResNets), quantized with
 * quant-core's `quantizeModel`, exported and run in @trit/runtime: the
 * logits must match tfjs's `predict` within 1e-4 (float32 rounding of the
 * differently ordered sums and the folded BatchNorms), and the manifest must
 * hold what each layer should become.
 */
import '@trit/twn';
import '@trit/ttq';
import * as tf from '@tensorflow/tfjs';
import { quantizeModel } from '@trit/quant-core';
import { maxAbsDiff } from '@trit/quant-core/testing';
import { decodeModel, type Manifest, manifestTensors } from '@trit/runtime';
import { describe, expect, it } from 'vitest';
import { exportModel } from '../src/index.js';
import { argmaxRows, predict, randomizeBn, uniform } from './helpers.js';

type Sym = tf.SymbolicTensor;
type Op = Manifest['ops'][number];
const TOL = 1e-4;

const opsByName = (m: Manifest) => new Map<string, Op>(m.ops.map((o) => [o.name, o]));
const kernelOf = (op: Op | undefined) =>
  op && (op.op === 'conv2d' || op.op === 'dense') ? op.kernel : undefined;

/** A small VGG-style Sequential CNN: conv-BN-relu, conv, max-pool, dropout, conv-BN-ReLU, flatten, dense, softmax. */
function vgg(): tf.LayersModel {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [12, 12, 3],
        filters: 8,
        kernelSize: 3,
        padding: 'same',
        useBias: false,
        name: 'conv1',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      }),
      tf.layers.batchNormalization({ name: 'bn1' }),
      tf.layers.activation({ activation: 'relu', name: 'relu1' }),
      tf.layers.conv2d({
        filters: 8,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        name: 'conv2',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
        biasInitializer: tf.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: 3 }),
      }),
      tf.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }),
      tf.layers.dropout({ rate: 0.25, name: 'drop1' }),
      tf.layers.conv2d({
        filters: 16,
        kernelSize: 3,
        padding: 'same',
        useBias: false,
        name: 'conv3',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }),
      }),
      tf.layers.batchNormalization({ name: 'bn3' }),
      tf.layers.reLU({ name: 'relu3' }),
      tf.layers.maxPooling2d({ poolSize: 2, name: 'pool2' }),
      tf.layers.flatten({ name: 'flat' }),
      tf.layers.dense({
        units: 32,
        activation: 'relu',
        name: 'fc1',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }),
      }),
      tf.layers.dropout({ rate: 0.5, name: 'drop2' }),
      tf.layers.dense({
        units: 10,
        name: 'logits',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 6 }),
      }),
      tf.layers.softmax({ name: 'probs' }),
    ],
  });
  return model;
}

describe('a VGG-style Sequential CNN, convs TWN and the hidden dense BWN', () => {
  const { model } = quantizeModel(vgg(), {
    rules: [
      { match: { type: 'conv' }, quantizer: 'twn' },
      { match: { type: 'dense' }, quantizer: 'bwn' },
    ],
  });
  randomizeBn(model.getLayer('bn1'), 10);
  randomizeBn(model.getLayer('bn3'), 20);
  const x = uniform(7, 5 * 12 * 12 * 3, -1.5, 1.5);
  const exported = exportModel(model);

  it('maps each layer as expected: first conv and last dense float, BatchNorms folded, dropouts gone', () => {
    expect(exported.warnings).toEqual([]);
    const m = exported.manifest;
    expect(m.ops.map((o) => [o.op, o.name, o.fused ?? []])).toEqual([
      ['input', model.inputLayers[0]!.name, []],
      ['conv2d', 'conv1', ['bn1', 'relu1']],
      ['conv2d', 'conv2', []],
      ['maxPool', 'pool1', []],
      ['conv2d', 'conv3', ['bn3', 'relu3']],
      ['maxPool', 'pool2', []],
      ['flatten', 'flat', []],
      ['dense', 'fc1', []],
      ['dense', 'logits', ['probs']],
    ]);
    const ops = opsByName(m);
    expect(kernelOf(ops.get('conv1'))).toEqual({ encoding: 'float32', shape: [3, 3, 3, 8] });
    expect(kernelOf(ops.get('conv2'))).toEqual({
      encoding: 'ternary',
      quantizer: 'twn',
      shape: [3, 3, 8, 8],
    });
    expect(kernelOf(ops.get('fc1'))).toEqual({
      encoding: 'binary',
      quantizer: 'bwn',
      shape: [144, 32],
    });
    expect(kernelOf(ops.get('logits'))).toEqual({ encoding: 'float32', shape: [32, 10] });
    // Ternary codes 5 per byte, binary 8 per byte: 576 -> 116 bytes, 144 * 32 -> 576 bytes.
    const bytes = new Map(manifestTensors(m).map((t) => [t.name, t.byteLength]));
    expect(bytes.get('conv2/codes')).toBe(Math.ceil((3 * 3 * 8 * 8) / 5));
    expect(bytes.get('fc1/codes')).toBe((144 * 32) / 8);
    expect(exported.layers.find((l) => l.name === 'drop1')?.ops).toEqual([]);
  });

  it(`runs in @trit/runtime with probabilities within ${TOL} of tfjs predict, same top-1`, () => {
    const ours = decodeModel(exported.manifest, exported.binary).predict({
      shape: [5, 12, 12, 3],
      data: x,
    });
    const ref = predict(model, x, [5, 12, 12, 3]);
    expect(ours.shape).toEqual([5, 10]);
    expect(maxAbsDiff(ours.data, ref)).toBeLessThan(TOL);
    expect(argmaxRows(ours.data, 10)).toEqual(argmaxRows(ref, 10));
    // Rows are probabilities: they sum to 1 and are not all equal.
    for (let r = 0; r < 5; r++) {
      const row = ours.data.subarray(r * 10, r * 10 + 10);
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(Math.max(...row) - Math.min(...row)).toBeGreaterThan(1e-3);
    }
  });
});

/**
 * A functional model with branches: ZeroPadding2D, a stem conv-BN-relu6,
 * two branches (1x1 conv TWN per channel, 3x3 conv TTQ + BN) added, the sum
 * concatenated with the stem, average pooling, global average and global
 * max pooling concatenated, a quantized sigmoid dense and a float dense.
 */
function branchy() {
  let seed = 100;
  const init = () => tf.initializers.glorotUniform({ seed: seed++ });
  const input = tf.input({ shape: [10, 10, 4], name: 'image' });
  let x = tf.layers.zeroPadding2d({ padding: 1, name: 'pad' }).apply(input) as Sym;
  x = tf.layers
    .conv2d({ filters: 8, kernelSize: 3, name: 'stem', kernelInitializer: init() })
    .apply(x) as Sym;
  x = tf.layers.batchNormalization({ name: 'stem_bn' }).apply(x) as Sym;
  const stem = tf.layers.activation({ activation: 'relu6', name: 'stem_act' }).apply(x) as Sym;
  const a = tf.layers
    .conv2d({ filters: 8, kernelSize: 1, name: 'branch_a', kernelInitializer: init() })
    .apply(stem) as Sym;
  let b = tf.layers
    .conv2d({
      filters: 8,
      kernelSize: 3,
      padding: 'same',
      useBias: false,
      name: 'branch_b',
      kernelInitializer: init(),
    })
    .apply(stem) as Sym;
  b = tf.layers.batchNormalization({ name: 'branch_b_bn' }).apply(b) as Sym;
  let y = tf.layers.add({ name: 'sum' }).apply([a, b]) as Sym;
  y = tf.layers.activation({ activation: 'tanh', name: 'sum_act' }).apply(y) as Sym;
  y = tf.layers.concatenate({ name: 'cat' }).apply([y, stem]) as Sym;
  y = tf.layers.averagePooling2d({ poolSize: 2, name: 'avg' }).apply(y) as Sym;
  const gap = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(y) as Sym;
  const gmp = tf.layers.globalMaxPooling2d({ name: 'gmp' }).apply(y) as Sym;
  let z = tf.layers.concatenate({ axis: -1, name: 'pooled' }).apply([gap, gmp]) as Sym;
  z = tf.layers
    .dense({ units: 12, activation: 'sigmoid', name: 'hidden', kernelInitializer: init() })
    .apply(z) as Sym;
  z = tf.layers.dense({ units: 6, name: 'out', kernelInitializer: init() }).apply(z) as Sym;
  return tf.model({ inputs: input, outputs: z });
}

describe('a functional model with branches, Add, Concatenate and global pooling', () => {
  const { model, assignment } = quantizeModel(branchy(), {
    rules: [
      { match: { name: 'branch_a' }, quantizer: 'twn', config: { perChannel: true } },
      { match: { name: 'branch_b' }, quantizer: 'ttq' },
      { match: { name: 'hidden' }, quantizer: 'bwn' },
    ],
  });
  randomizeBn(model.getLayer('stem_bn'), 30);
  randomizeBn(model.getLayer('branch_b_bn'), 40);
  for (const l of model.layers) {
    // TTQ starts at Wp = Wn = 1: give it the asymmetric levels training produces.
    const vars = (l as unknown as { paramVariables?: Record<string, tf.LayerVariable> })
      .paramVariables;
    if (l.name === 'branch_b') {
      vars!.wp!.write(tf.scalar(0.8));
      vars!.wn!.write(tf.scalar(0.45));
    }
  }
  const x = uniform(8, 3 * 10 * 10 * 4, -2, 2);
  const exported = exportModel(model);

  it('quantizes what the rules say and maps every layer', () => {
    // tfjs orders the layers topologically (branch_b's chain before branch_a).
    expect(assignment.map((a) => [a.layer, a.quantizer])).toEqual([
      ['stem', 'fp32'],
      ['branch_b', 'ttq'],
      ['branch_a', 'twn'],
      ['hidden', 'bwn'],
      ['out', 'fp32'],
    ]);
    const ops = opsByName(exported.manifest);
    expect(exported.manifest.ops.map((o) => [o.op, o.name, o.fused ?? []])).toEqual([
      ['input', 'image', []],
      ['zeroPad', 'pad', []],
      ['conv2d', 'stem', ['stem_bn']],
      ['relu6', 'stem_act', []],
      ['conv2d', 'branch_b', ['branch_b_bn']],
      ['conv2d', 'branch_a', []],
      ['add', 'sum', []],
      ['tanh', 'sum_act', []],
      ['concat', 'cat', []],
      ['avgPool', 'avg', []],
      ['globalAvgPool', 'gap', []],
      ['globalMaxPool', 'gmp', []],
      ['concat', 'pooled', []],
      ['dense', 'hidden/linear', []],
      ['sigmoid', 'hidden', []],
      ['dense', 'out', []],
    ]);
    expect(ops.get('cat')).toMatchObject({ inputs: ['sum_act', 'stem_act'] });
    expect(kernelOf(ops.get('branch_b'))?.encoding).toBe('ternary');
    // TTQ's asymmetric per-layer levels stay per layer; the BatchNorm is a per-channel `scale`.
    const tensors = (ops.get('branch_b') as { tensors: object }).tensors;
    expect(Object.keys(tensors)).toEqual(['codes', 'positive', 'negative', 'scale', 'bias']);
    expect(kernelOf(ops.get('hidden/linear'))?.encoding).toBe('binary');
    expect(exported.layers.find((l) => l.name === 'hidden')?.ops).toEqual([
      'hidden/linear',
      'hidden',
    ]);
  });

  it(`runs in @trit/runtime with logits within ${TOL} of tfjs predict, and each branch too`, () => {
    const runtime = decodeModel(exported.manifest, exported.binary);
    const ours = runtime.predict({ shape: [3, 10, 10, 4], data: x });
    const ref = predict(model, x, [3, 10, 10, 4]);
    expect(ours.shape).toEqual([3, 6]);
    expect(maxAbsDiff(ours.data, ref)).toBeLessThan(TOL);
    expect(Math.max(...ref.map(Math.abs))).toBeGreaterThan(0.05);
    for (const name of ['stem_act', 'sum', 'cat', 'avg', 'pooled', 'hidden']) {
      const sub = tf.model({ inputs: model.inputs, outputs: model.getLayer(name).output as Sym });
      const r = predict(sub, x, [3, 10, 10, 4]);
      const o = runtime.run({ shape: [3, 10, 10, 4], data: x }, [name])[name]!;
      expect(maxAbsDiff(o.data, r), name).toBeLessThan(TOL);
    }
    // Concatenate by hand: the first 8 channels of `cat` are `sum_act`, the next 8 `stem_act`.
    const got = runtime.run({ shape: [3, 10, 10, 4], data: x }, ['cat', 'sum_act', 'stem_act']);
    const pixel = 37;
    expect([...got.cat!.data.subarray(pixel * 16, pixel * 16 + 16)]).toEqual([
      ...got.sum_act!.data.subarray(pixel * 8, pixel * 8 + 8),
      ...got.stem_act!.data.subarray(pixel * 8, pixel * 8 + 8),
    ]);
  });
});

describe('a MobileNet-style block: depthwise conv, BatchNorm, ReLU6, quantized pointwise conv', () => {
  const input = tf.input({ shape: [9, 9, 4], name: 'in' });
  let y = tf.layers
    .depthwiseConv2d({
      kernelSize: 3,
      depthMultiplier: 2,
      strides: 2,
      padding: 'same',
      useBias: false,
      name: 'dw',
      depthwiseInitializer: tf.initializers.glorotUniform({ seed: 7 }),
    })
    .apply(input) as Sym;
  y = tf.layers.batchNormalization({ name: 'dw_bn' }).apply(y) as Sym;
  y = tf.layers.reLU({ maxValue: 6, name: 'dw_relu6' }).apply(y) as Sym;
  y = tf.layers
    .conv2d({
      filters: 16,
      kernelSize: 1,
      name: 'pw',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 8 }),
    })
    .apply(y) as Sym;
  y = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(y) as Sym;
  const base = tf.model({ inputs: input, outputs: y });
  const { model } = quantizeModel(base, {
    rules: [{ match: { name: 'pw' }, quantizer: 'twn' }],
    keepFirstLastFP32: false,
  });
  randomizeBn(model.getLayer('dw_bn'), 50);
  {
    // A larger gamma, so that some activations exceed 6 and ReLU6 clips.
    const [gamma, ...rest] = model.getLayer('dw_bn').getWeights();
    model.getLayer('dw_bn').setWeights([gamma!.mul(6), ...rest]);
  }

  it(`folds the BatchNorm into the float depthwise kernel and matches tfjs within ${TOL}`, () => {
    const { manifest, binary } = exportModel(model);
    expect(manifest.ops.map((o) => [o.op, o.name, o.fused ?? []])).toEqual([
      ['input', 'in', []],
      ['depthwiseConv2d', 'dw', ['dw_bn']],
      ['relu6', 'dw_relu6', []],
      ['conv2d', 'pw', []],
      ['globalAvgPool', 'gap', []],
    ]);
    const ops = opsByName(manifest);
    expect((ops.get('dw') as { kernel: unknown }).kernel).toEqual({
      encoding: 'float32',
      shape: [3, 3, 4, 2],
    });
    expect(kernelOf(ops.get('pw'))).toMatchObject({ encoding: 'ternary', quantizer: 'twn' });
    const x = uniform(9, 2 * 9 * 9 * 4, -3, 3);
    const runtime = decodeModel(manifest, binary);
    const ours = runtime.predict({ shape: [2, 9, 9, 4], data: x });
    expect(ours.shape).toEqual([2, 16]);
    expect(maxAbsDiff(ours.data, predict(model, x, [2, 9, 9, 4]))).toBeLessThan(TOL);
    // ReLU6 really clips: the tfjs activations before it exceed 6 somewhere, none after.
    const sub = (name: string) =>
      predict(
        tf.model({ inputs: model.inputs, outputs: model.getLayer(name).output as Sym }),
        x,
        [2, 9, 9, 4],
      );
    expect(Math.max(...sub('dw_bn'))).toBeGreaterThan(6);
    const clipped = runtime.run({ shape: [2, 9, 9, 4], data: x }, ['dw_relu6']).dw_relu6!.data;
    expect(Math.max(...clipped)).toBe(6);
    expect(maxAbsDiff(clipped, sub('dw_relu6'))).toBeLessThan(TOL);
  });
});

describe('a model small enough to compute by hand', () => {
  it('a BWN dense with a BatchNorm folded in: y = x0 - x1 - 0.5', () => {
    // Dense 2 -> 1 kernel [0.5, -1.5]: BWN alpha = mean |w| = 1, codes [+1, -1].
    // BatchNorm gamma 2, beta 0.5, mean 1, variance 3, epsilon 1: s = 2 / sqrt(4) = 1, shift 0.5 - 1 = -0.5.
    // y = x0 - x1 - 0.5.
    const input = tf.input({ shape: [2], name: 'in' });
    let y = tf.layers.dense({ units: 1, useBias: false, name: 'd' }).apply(input) as Sym;
    y = tf.layers.batchNormalization({ epsilon: 1, name: 'bn' }).apply(y) as Sym;
    const base = tf.model({ inputs: input, outputs: y });
    base.getLayer('d').setWeights([tf.tensor2d([[0.5], [-1.5]])]);
    base
      .getLayer('bn')
      .setWeights([tf.tensor1d([2]), tf.tensor1d([0.5]), tf.tensor1d([1]), tf.tensor1d([3])]);
    const { model } = quantizeModel(base, { default: 'bwn', keepFirstLastFP32: false });
    const { manifest, binary } = exportModel(model);
    expect(manifest.ops.map((o) => o.name)).toEqual(['in', 'd']);
    const out = decodeModel(manifest, binary).predict({
      shape: [2, 2],
      data: Float32Array.from([3, 1, -1, 2]),
    });
    // [3, 1]: 3 - 1 - 0.5 = 1.5; [-1, 2]: -1 - 2 - 0.5 = -3.5.
    expect([...out.data]).toEqual([1.5, -3.5]);
    expect([...predict(model, Float32Array.from([3, 1, -1, 2]), [2, 2])]).toEqual([1.5, -3.5]);
  });
});
