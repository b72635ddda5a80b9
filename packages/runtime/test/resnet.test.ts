/**
 * End to end: a small CIFAR-style ResNet built with tfjs layers (option-B
 * projection shortcut, option-A subsample + zero-channel shortcut, folded
 * BatchNorms, ternary/binary/float convs), turned into a graph description
 * by a minimal walker, exported, saved, loaded and run; outputs must match
 * tfjs float32 within 1e-4.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeModel,
  encodeModel,
  type GraphSpec,
  type OpSpec,
  type QuantizedKernel,
} from '../src/index.js';
import { loadModelFromDir, saveModel } from '../src/node.js';
import { dequantize, maxAbsDiff, quantKernel, rng, uniform } from './helpers.js';

/** The option-A shortcut: `x[:, ::2, ::2, :]` padded with `pad` zero channels on each side. */
class ShortcutA extends tf.layers.Layer {
  static className = 'TritTestShortcutA';
  readonly pad: number;
  constructor(config: { pad: number; name: string }) {
    super({ name: config.name });
    this.pad = config.pad;
  }
  override computeOutputShape(s: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = s as tf.Shape;
    return [
      shape[0]!,
      Math.ceil(shape[1]! / 2),
      Math.ceil(shape[2]! / 2),
      shape[3]! + 2 * this.pad,
    ];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const sub = tf.stridedSlice(x, [0, 0, 0, 0], x.shape, [1, 2, 2, 1]);
      return tf.pad(sub, [
        [0, 0],
        [0, 0],
        [0, 0],
        [this.pad, this.pad],
      ]);
    });
  }
  override getConfig() {
    return { ...super.getConfig(), pad: this.pad };
  }
}

const rand = rng(2024);
/** Quantized kernels by layer name; their layers get the dequantized values. */
const quantized = new Map<string, { kernel: QuantizedKernel; quantizer: string }>();

function conv(
  x: tf.SymbolicTensor,
  name: string,
  filters: number,
  k: number,
  stride: number,
  q?: 'ternary' | 'ttq' | 'binary',
) {
  const layer = tf.layers.conv2d({
    name,
    filters,
    kernelSize: k,
    strides: stride,
    padding: 'same',
    useBias: false,
  });
  const y = layer.apply(x) as tf.SymbolicTensor;
  if (q) {
    const cin = x.shape[3]!;
    const kernel = quantKernel(rand, [k, k, cin, filters], {
      bits: q === 'binary' ? 1 : 2,
      asymmetric: q === 'ttq',
      scales: q === 'ternary' ? 'channel' : 'layer',
    });
    quantized.set(name, {
      kernel,
      quantizer: q === 'ttq' ? 'ttq' : q === 'binary' ? 'bwn' : 'twn',
    });
    layer.setWeights([tf.tensor4d(dequantize(kernel), [k, k, cin, filters])]);
  }
  return y;
}

function bn(x: tf.SymbolicTensor, name: string) {
  const layer = tf.layers.batchNormalization({ name });
  const y = layer.apply(x) as tf.SymbolicTensor;
  const c = x.shape[3]!;
  layer.setWeights([
    tf.tensor1d(uniform(rand, c, 0.5, 1.5)),
    tf.tensor1d(uniform(rand, c, -0.3, 0.3)),
    tf.tensor1d(uniform(rand, c, -0.3, 0.3)),
    tf.tensor1d(uniform(rand, c, 0.5, 2)),
  ]);
  return y;
}

const relu = (x: tf.SymbolicTensor, name: string) =>
  tf.layers.reLU({ name }).apply(x) as tf.SymbolicTensor;
const add = (a: tf.SymbolicTensor, b: tf.SymbolicTensor, name: string) =>
  tf.layers.add({ name }).apply([a, b]) as tf.SymbolicTensor;

function buildModel(): tf.LayersModel {
  const input = tf.input({ shape: [16, 16, 3], name: 'image' });
  let x = relu(bn(conv(input, 'stem', 8, 3, 1), 'stem_bn'), 'stem_relu'); // first conv stays float
  // Block 1: identity shortcut.
  let y = relu(bn(conv(x, 'b1_c1', 8, 3, 1, 'ternary'), 'b1_bn1'), 'b1_r1');
  y = bn(conv(y, 'b1_c2', 8, 3, 1, 'ttq'), 'b1_bn2');
  x = relu(add(y, x, 'b1_add'), 'b1_out');
  // Block 2: downsampling, option-B 1x1 projection shortcut.
  y = relu(bn(conv(x, 'b2_c1', 16, 3, 2, 'ttq'), 'b2_bn1'), 'b2_r1');
  y = bn(conv(y, 'b2_c2', 16, 3, 1, 'ternary'), 'b2_bn2');
  const proj = bn(conv(x, 'b2_proj', 16, 1, 2, 'ternary'), 'b2_proj_bn');
  x = relu(add(y, proj, 'b2_add'), 'b2_out');
  // Block 3: downsampling, option-A shortcut (subsample + zero channels), a binary conv.
  y = relu(bn(conv(x, 'b3_c1', 32, 3, 2, 'binary'), 'b3_bn1'), 'b3_r1');
  y = bn(conv(y, 'b3_c2', 32, 3, 1, 'ttq'), 'b3_bn2');
  const short = new ShortcutA({ pad: 8, name: 'b3_short' }).apply(x) as tf.SymbolicTensor;
  x = relu(add(y, short, 'b3_add'), 'b3_out');
  x = tf.layers.maxPooling2d({ poolSize: 2, name: 'pool' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers
    .dense({ units: 10, activation: 'softmax', name: 'fc' })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

const f32 = (t: tf.Tensor) => t.dataSync() as Float32Array;

/**
 * A minimal walker from a tfjs functional model to a graph description: one
 * op per layer, inputs from the inbound nodes. (The real one will live next
 * to quant-core's quantized layers.)
 */
function walk(model: tf.LayersModel): GraphSpec {
  const ops: OpSpec[] = [];
  for (const layer of model.layers) {
    const name = layer.name;
    const inputs = layer.inboundNodes[0]!.inboundLayers.map((l) => l.name);
    const w = layer.getWeights();
    // biome-ignore lint/suspicious/noExplicitAny: layer configs are untyped JSON
    const cfg = layer.getConfig() as Record<string, any>;
    switch (layer.getClassName()) {
      case 'InputLayer':
        ops.push({ op: 'input', name, shape: (cfg.batchInputShape as number[]).slice(1) });
        break;
      case 'Conv2D': {
        const q = quantized.get(name);
        ops.push({
          op: 'conv2d',
          name,
          inputs: [inputs[0]!],
          kernel: q ? q.kernel : { shape: w[0]!.shape, values: f32(w[0]!) },
          ...(q ? { quantizer: q.quantizer } : {}),
          bias: cfg.useBias ? f32(w[1]!) : null,
          strides: cfg.strides,
          padding: cfg.padding,
          activation: cfg.activation,
        });
        break;
      }
      case 'BatchNormalization':
        ops.push({
          op: 'batchNorm',
          name,
          inputs: [inputs[0]!],
          gamma: f32(w[0]!),
          beta: f32(w[1]!),
          mean: f32(w[2]!),
          variance: f32(w[3]!),
          epsilon: cfg.epsilon,
        });
        break;
      case 'ReLU':
        ops.push({ op: 'relu', name, inputs: [inputs[0]!] });
        break;
      case 'Add':
        ops.push({ op: 'add', name, inputs });
        break;
      case 'TritTestShortcutA':
        ops.push({ op: 'subsample', name: `${name}_sub`, inputs: [inputs[0]!], strides: 2 });
        ops.push({ op: 'zeroPad', name, inputs: [`${name}_sub`], channels: [cfg.pad, cfg.pad] });
        break;
      case 'MaxPooling2D':
        ops.push({
          op: 'maxPool',
          name,
          inputs: [inputs[0]!],
          poolSize: cfg.poolSize,
          strides: cfg.strides,
          padding: cfg.padding,
        });
        break;
      case 'GlobalAveragePooling2D':
        ops.push({ op: 'globalAvgPool', name, inputs: [inputs[0]!] });
        break;
      case 'Dense':
        ops.push({
          op: 'dense',
          name,
          inputs: [inputs[0]!],
          kernel: { shape: w[0]!.shape, values: f32(w[0]!) },
          bias: f32(w[1]!),
          activation: cfg.activation,
        });
        break;
      default:
        throw new Error(`walker: no mapping for ${layer.getClassName()}`);
    }
  }
  return { ops, outputs: [model.outputNames[0]!] };
}

describe('small ResNet end to end', () => {
  let model: tf.LayersModel;
  let dir: string;
  const x = uniform(rng(7), 3 * 16 * 16 * 3);

  beforeAll(async () => {
    await tf.setBackend('cpu');
    model = buildModel();
    dir = await mkdtemp(join(tmpdir(), 'trit-runtime-'));
  });
  afterAll(async () => {
    model.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('exports, folds every BatchNorm, and matches tfjs float32 within 1e-4', () => {
    const graph = walk(model);
    const { manifest, binary } = encodeModel(graph);
    // Every BatchNorm folded into its conv, every ReLU fused: only convs, adds and the rest remain.
    expect(manifest.ops.filter((o) => o.op === 'affine' || o.op === 'relu')).toEqual([]);
    expect(manifest.ops.find((o) => o.name === 'b2_proj')!.fused).toEqual(['b2_proj_bn']);
    const runtime = decodeModel(manifest, binary);
    const ours = runtime.predict(x);
    const ref = tf.tidy(() => f32(model.predict(tf.tensor4d(x, [3, 16, 16, 3])) as tf.Tensor));
    expect(ours.shape).toEqual([3, 10]);
    expect(maxAbsDiff(ours.data, ref)).toBeLessThan(1e-4);
    // Intermediate activations match too (an option-A and an option-B block output).
    for (const layer of ['b2_out', 'b3_out', 'gap']) {
      const sub = tf.model({
        inputs: model.inputs,
        outputs: model.getLayer(layer).output as tf.SymbolicTensor,
      });
      const r = tf.tidy(() => f32(sub.predict(tf.tensor4d(x, [3, 16, 16, 3])) as tf.Tensor));
      expect(maxAbsDiff(runtime.run(x, [layer])[layer]!.data, r)).toBeLessThan(1e-4);
    }
    const s = runtime.summary();
    expect(s.layers.filter((l) => l.encoding === 'ternary').length).toBe(6);
    expect(s.layers.filter((l) => l.encoding === 'binary').length).toBe(1);
  });

  it('saves to a directory and loads back with the same outputs', async () => {
    const encoded = encodeModel(walk(model));
    const saved = await saveModel(dir, encoded, { name: 'resnet' });
    expect(saved.manifestPath).toBe(join(dir, 'resnet.json'));
    expect(saved.bytes).toBe(encoded.binary.length);
    const loaded = await loadModelFromDir(dir, { name: 'resnet' });
    expect(loaded.manifest.binary.file).toBe('resnet.bin');
    expect([...loaded.predict(x).data]).toEqual([
      ...decodeModel(encoded.manifest, encoded.binary).predict(x).data,
    ]);
  });

  it('writes the manifest as compact JSON by default, indented with pretty: true', async () => {
    const encoded = encodeModel(walk(model));
    await saveModel(dir, encoded, { name: 'compact' });
    await saveModel(dir, encoded, { name: 'pretty', pretty: true });
    const compact = await readFile(join(dir, 'compact.json'), 'utf8');
    const pretty = await readFile(join(dir, 'pretty.json'), 'utf8');
    expect(compact.split('\n')).toEqual([JSON.stringify(JSON.parse(compact)), '']);
    expect(pretty).toContain('\n  "format": "trit-model",\n');
    expect(JSON.parse(pretty)).toEqual({
      ...JSON.parse(compact),
      binary: { ...JSON.parse(compact).binary, file: 'pretty.bin' },
    });
    const a = await loadModelFromDir(dir, { name: 'compact' });
    const b = await loadModelFromDir(dir, { name: 'pretty' });
    expect([...a.predict(x).data]).toEqual([...b.predict(x).data]);
  });
});
