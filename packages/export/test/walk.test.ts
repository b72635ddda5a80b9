/**
 * The walker on hand-built models: every supported layer class, every
 * quantizer (TWN per layer and per channel, TTQ asymmetric, SQ ternary and
 * 1-bit binary, HLA, BWN, FP32), BatchNorms folded into ternary/binary/float
 * convs with negative gammas, a BatchNorm that cannot be folded, projection
 * shortcuts. The runtime's outputs must match tfjs within 1e-4
 * on both backends, and the stored codes must be exactly the quantizers'.
 */
import '@trit/twn';
import '@trit/ttq';
import '@trit/smart-quant';
import '@trit/hyperspherical';
import * as tf from '@tensorflow/tfjs';
import {
  batchNormalization,
  QuantConv2D,
  QuantDense,
  type QuantLayer,
  quantLayers,
  TritBatchNormalization,
} from '@trit/quant-core';
import { maxAbsDiff, seededRandom, testBackends, withBackend } from '@trit/quant-core/testing';
import {
  decodeModel,
  type Manifest,
  manifestTensors,
  unpackBits,
  unpackTrits,
} from '@trit/runtime';
import { describe, expect, it } from 'vitest';
import { ExportError, exportModel, modelToGraph } from '../src/index.js';

type Sym = tf.SymbolicTensor;
type ConvOp = Extract<Manifest['ops'][number], { op: 'conv2d' }>;

const uniform = (rand: () => number, n: number, lo: number, hi: number) =>
  Float32Array.from({ length: n }, () => lo + (hi - lo) * rand());

/** Gives a BatchNorm layer random statistics; channels listed in `negative` get a negative gamma. */
function randomizeBn(layer: tf.layers.Layer, rand: () => number, negative: number[] = []): void {
  const c = layer.getWeights()[0]!.shape[0]!;
  const gamma = uniform(rand, c, 0.5, 1.5);
  for (const i of negative) gamma[i] = -gamma[i]!;
  layer.setWeights([
    tf.tensor1d(gamma),
    tf.tensor1d(uniform(rand, c, -0.3, 0.3)),
    tf.tensor1d(uniform(rand, c, -0.3, 0.3)),
    tf.tensor1d(uniform(rand, c, 0.3, 2)),
  ]);
}

/** BatchNorms built as quant-core's TritBatchNormalization in the default ('mixed') model; the rest are tfjs's. */
const TRIT_BNS = new Set(['a_bn1', 'b_bn2', 'b_proj_bn', 'post_bn']);

/**
 * A small ResNet-like model over 12x12x3 inputs that uses every mapped
 * layer class and every quantizer; returns it with the names of a few
 * intermediate outputs to compare. BatchNorms are tfjs's, quant-core's
 * `TritBatchNormalization`, or both (`mixed`: those in {@link TRIT_BNS}).
 */
function buildModel(seed: number, bnClass: 'tfjs' | 'trit' | 'mixed' = 'mixed') {
  const rand = seededRandom(seed);
  let n = seed * 100;
  const init = () => tf.initializers.glorotUniform({ seed: n++ });
  const bns: [tf.layers.Layer, number[]][] = [];
  const qconv = (
    x: Sym,
    name: string,
    filters: number,
    k: number,
    stride: number,
    quantizer: unknown,
  ) =>
    new QuantConv2D({
      name,
      filters,
      kernelSize: k,
      strides: stride,
      padding: 'same',
      useBias: false,
      kernelInitializer: init(),
      quantizer: quantizer as string,
    }).apply(x) as Sym;
  const bn = (x: Sym, name: string, negative: number[] = []) => {
    const trit = bnClass === 'trit' || (bnClass === 'mixed' && TRIT_BNS.has(name));
    const layer = (trit ? batchNormalization : tf.layers.batchNormalization)({
      name,
      epsilon: 1e-3,
    });
    const y = layer.apply(x) as Sym;
    bns.push([layer, negative]);
    return y;
  };
  const relu = (x: Sym, name: string) =>
    tf.layers.activation({ activation: 'relu', name }).apply(x) as Sym;

  const input = tf.input({ shape: [12, 12, 3], name: 'image' });
  // Stem: full-precision QuantConv2D, BatchNorm with two negative gammas folded into float weights.
  let x = relu(bn(qconv(input, 'conv1', 8, 3, 1, 'fp32'), 'bn1', [0, 5]), 'relu1');
  // Block A (identity shortcut): TWN per channel, then TTQ (asymmetric Wp/Wn), negative gammas.
  let y = relu(
    bn(
      qconv(x, 'a_conv1', 8, 3, 1, { name: 'twn', config: { perChannel: true } }),
      'a_bn1',
      [1, 2],
    ),
    'a_relu1',
  );
  y = bn(qconv(y, 'a_conv2', 8, 3, 1, 'ttq'), 'a_bn2', [3, 7]);
  x = relu(tf.layers.add({ name: 'a_add' }).apply([y, x]) as Sym, 'a_out');
  // Block B (option-B shortcut): SQ forced binary (1 bit), HLA, BWN 1x1 projection.
  y = relu(bn(qconv(x, 'b_conv1', 16, 3, 2, 'sq'), 'b_bn1', [0]), 'b_relu1');
  y = bn(qconv(y, 'b_conv2', 16, 3, 1, 'hla'), 'b_bn2', [4, 9]);
  const proj = bn(qconv(x, 'b_proj', 16, 1, 2, 'bwn'), 'b_proj_bn', [2]);
  x = relu(tf.layers.add({ name: 'b_add' }).apply([y, proj]) as Sym, 'b_out');
  // Block C (a plain float 1x1 Conv2D projection without bias, 16 -> 21): SQ ternary, TWN per layer.
  y = relu(bn(qconv(x, 'c_conv1', 21, 3, 2, 'sq'), 'c_bn1', [20]), 'c_relu1');
  y = bn(qconv(y, 'c_conv2', 21, 3, 1, 'twn'), 'c_bn2', [0, 1, 2]);
  const shortcut = tf.layers
    .conv2d({
      filters: 21,
      kernelSize: 1,
      strides: 2,
      useBias: false,
      name: 'c_short',
      kernelInitializer: init(),
    })
    .apply(x) as Sym;
  x = relu(tf.layers.add({ name: 'c_add' }).apply([y, shortcut]) as Sym, 'c_out');
  // A BatchNorm after a ReLU: not foldable, stays an affine op.
  x = bn(x, 'post_bn', [1]);
  x = tf.layers
    .zeroPadding2d({
      padding: [
        [1, 0],
        [0, 1],
      ],
      name: 'zpad',
    })
    .apply(x) as Sym;
  x = tf.layers
    .maxPooling2d({ poolSize: 2, strides: 1, padding: 'same', name: 'maxpool' })
    .apply(x) as Sym;
  x = tf.layers.averagePooling2d({ poolSize: 2, name: 'avgpool' }).apply(x) as Sym;
  x = tf.layers.flatten({ name: 'flat' }).apply(x) as Sym;
  x = tf.layers.dropout({ rate: 0.5, name: 'drop' }).apply(x) as Sym;
  // A quantized dense (TWN per channel) with a fused ReLU, a linear Activation, a plain float Dense.
  x = new QuantDense({
    name: 'fc1',
    units: 12,
    activation: 'relu',
    kernelInitializer: init(),
    quantizer: { name: 'twn', config: { perChannel: true } },
  }).apply(x) as Sym;
  x = tf.layers.activation({ activation: 'linear', name: 'identity' }).apply(x) as Sym;
  const logits = tf.layers
    .dense({ units: 5, name: 'fc2', kernelInitializer: init() })
    .apply(x) as Sym;
  const model = tf.model({ inputs: input, outputs: logits });
  for (const [layer, negative] of bns) randomizeBn(layer, rand, negative);
  for (const l of quantLayers(model)) {
    if (l.name === 'b_conv1') l.paramVariables.beta!.write(tf.scalar(Math.PI / 2 - 1e-4)); // SQ: binary
    if (l.name === 'c_conv1') l.paramVariables.beta!.write(tf.scalar(Math.PI / 4 + 0.1)); // SQ: ternary
    if (l.quantizer.name === 'hla') l.quantizer.setState({ phase: 2, lambda: 1, tau: 2 });
    if (l.name === 'a_conv2') {
      // TTQ starts at Wp = Wn = 1 (init 'one'); give it the asymmetric levels training produces.
      l.paramVariables.wp!.write(tf.scalar(0.9));
      l.paramVariables.wn!.write(tf.scalar(0.55));
    }
    if (l.name === 'fc1') l.bias!.write(tf.tensor1d(uniform(rand, 12, -0.2, 0.2)));
  }
  return { model, probes: ['relu1', 'a_out', 'b_out', 'c_out', 'post_bn', 'flat', 'fc1'] };
}

const f32 = (t: tf.Tensor) => Float32Array.from(t.dataSync() as Float32Array);

describe('exportModel on a model with every supported layer and quantizer', async () => {
  const backends = await testBackends();

  for (const backend of backends) {
    it(`matches tfjs within 1e-4 at the output and at intermediate layers (${backend})`, async () => {
      await withBackend(backend, () => {
        const { model, probes } = buildModel(3);
        const x = uniform(seededRandom(9), 4 * 12 * 12 * 3, -1.5, 1.5);
        const exported = exportModel(model);
        expect(exported.warnings).toEqual([]);
        const runtime = decodeModel(exported.manifest, exported.binary);
        const ref = tf.tidy(() => f32(model.predict(tf.tensor4d(x, [4, 12, 12, 3])) as tf.Tensor));
        const ours = runtime.predict({ shape: [4, 12, 12, 3], data: x });
        expect(ours.shape).toEqual([4, 5]);
        expect(maxAbsDiff(ours.data, ref)).toBeLessThan(1e-4);
        expect(Math.max(...ref.map(Math.abs))).toBeGreaterThan(0.1); // not trivially zero
        for (const name of probes) {
          const sub = tf.model({
            inputs: model.inputs,
            outputs: model.getLayer(name).output as Sym,
          });
          const r = tf.tidy(() => f32(sub.predict(tf.tensor4d(x, [4, 12, 12, 3])) as tf.Tensor));
          const o = runtime.run({ shape: [4, 12, 12, 3], data: x }, [name])[name]!;
          expect(o.data.length).toBe(r.length);
          expect(maxAbsDiff(o.data, r), name).toBeLessThan(1e-4);
        }
        model.dispose();
      });
    });
  }

  it('folds each BatchNorm into its conv (negative scales for negative gammas), keeps one as affine', () => {
    const { model } = buildModel(4);
    const { manifest, binary, layers } = exportModel(model);
    const ops = new Map(manifest.ops.map((o) => [o.name, o]));
    const conv = (name: string) => ops.get(name) as ConvOp;
    expect(conv('conv1').fused).toEqual(['bn1', 'relu1']);
    expect(conv('a_conv1').fused).toEqual(['a_bn1', 'a_relu1']);
    expect(conv('a_conv2').fused).toEqual(['a_bn2']);
    expect(conv('b_proj').fused).toEqual(['b_proj_bn']);
    expect(ops.get('post_bn')?.op).toBe('affine');
    expect(manifest.ops.filter((o) => o.op === 'affine').map((o) => o.name)).toEqual(['post_bn']);
    // Identity layers (Dropout, linear Activation) have no op; the float projection stays float, unbiased.
    expect(ops.has('drop')).toBe(false);
    expect(ops.has('identity')).toBe(false);
    expect(ops.get('c_short')).toMatchObject({
      op: 'conv2d',
      strides: [2, 2],
      kernel: { encoding: 'float32', shape: [1, 1, 16, 21] },
    });
    expect(Object.keys(conv('c_short').tensors)).toEqual(['kernel']);
    expect(layers.find((l) => l.name === 'drop')?.ops).toEqual([]);

    const tensors = manifestTensors(manifest);
    const floats = (name: string) => {
      const t = tensors.find((e) => e.name === name)!;
      return new Float32Array(binary.slice(t.byteOffset, t.byteOffset + t.byteLength).buffer);
    };
    // TTQ a_conv2: Wp, Wn stay per layer (exactly the trained values); the BatchNorm's factor is
    // one per-channel `scale`, negative exactly where gamma < 0 (channels 3 and 7).
    expect(Object.keys(conv('a_conv2').tensors)).toEqual([
      'codes',
      'positive',
      'negative',
      'scale',
      'bias',
    ]);
    const ttq = quantLayers(model)
      .find((l) => l.name === 'a_conv2')!
      .exportTernary()!;
    expect([...floats('a_conv2/positive')]).toEqual([...ttq.positive]);
    expect([...floats('a_conv2/negative')]).toEqual([...ttq.negative]);
    expect(ttq.positive[0]).not.toBe(ttq.negative[0]);
    const scale = floats('a_conv2/scale');
    expect(scale.length).toBe(8);
    for (let c = 0; c < 8; c++) expect(scale[c]! < 0, `channel ${c}`).toBe(c === 3 || c === 7);
    // TWN (symmetric): one per-channel tensor, no `negative`, no `scale`.
    expect(Object.keys(conv('c_conv2').tensors)).toEqual(['codes', 'positive', 'bias']);
    expect(
      floats('c_conv2/positive')
        .slice(0, 3)
        .every((v) => v < 0),
    ).toBe(true);
    model.dispose();
  });

  it('TritBatchNormalization exports exactly as tfjs BatchNormalization (folded and affine)', () => {
    const mixed = buildModel(6);
    const classes = new Map(mixed.model.layers.map((l) => [l.name, l.getClassName()]));
    expect(classes.get('a_bn1')).toBe(TritBatchNormalization.className);
    expect(classes.get('post_bn')).toBe(TritBatchNormalization.className);
    expect(classes.get('bn1')).toBe('BatchNormalization');
    const tfjs = exportModel(buildModel(6, 'tfjs').model);
    const trit = exportModel(buildModel(6, 'trit').model);
    const mixedExport = exportModel(mixed.model);
    for (const e of [trit, mixedExport]) {
      expect(e.manifest).toEqual(tfjs.manifest);
      expect(Buffer.from(e.binary).equals(Buffer.from(tfjs.binary))).toBe(true);
    }
    // The walker's per-layer report names the class it read.
    expect(trit.layers.find((l) => l.name === 'post_bn')?.className).toBe('TritBatchNormalization');
    expect(trit.layers.find((l) => l.name === 'a_bn1')?.ops).toEqual(
      tfjs.layers.find((l) => l.name === 'a_bn1')?.ops,
    );
  });

  it('stores exactly the codes each quantizer exports, at 2 bits (1 for binary layers), never a float kernel', () => {
    const { model } = buildModel(5);
    const { manifest, binary } = exportModel(model);
    const ops = new Map(manifest.ops.map((o) => [o.name, o]));
    const expected: Record<string, ['float32' | 'ternary' | 'binary', 1 | 2 | 32]> = {
      conv1: ['float32', 32],
      a_conv1: ['ternary', 2],
      a_conv2: ['ternary', 2],
      b_conv1: ['binary', 1],
      b_conv2: ['ternary', 2],
      b_proj: ['binary', 1],
      c_conv1: ['ternary', 2],
      c_conv2: ['ternary', 2],
      fc1: ['ternary', 2],
      fc2: ['float32', 32],
    };
    for (const layer of model.layers) {
      if (!(layer.name in expected)) continue;
      const op = ops.get(layer.name) as ConvOp;
      const [encoding, bits] = expected[layer.name]!;
      expect(op.kernel.encoding, layer.name).toBe(encoding);
      if (op.kernel.encoding === 'float32') continue;
      const q = layer as unknown as QuantLayer;
      const e = q.exportTernary()!;
      const t = manifestTensors(manifest).find((x) => x.name === `${layer.name}/codes`)!;
      const packed = binary.subarray(t.byteOffset, t.byteOffset + t.byteLength);
      const codes = bits === 2 ? unpackTrits(packed, t.shape) : unpackBits(packed, t.shape);
      expect([...codes], layer.name).toEqual([...e.codes]);
      expect(op.kernel.quantizer).toBe(q.quantizer.name);
      expect(t.dtype).toBe(bits === 2 ? 'ternary' : 'binary');
      // 5 ternary codes per byte, 8 binary codes per byte.
      expect(t.byteLength).toBe(Math.ceil(e.codes.length / (bits === 2 ? 5 : 8)));
    }
    // No float32 tensor of a quantized kernel's size exists in the binary.
    const floatSizes = manifestTensors(manifest)
      .filter((t) => t.dtype === 'float32')
      .map((t) => t.shape.join('x'));
    expect(floatSizes).not.toContain('3x3x8x8');
    expect(floatSizes).not.toContain('3x3x16x21');
    expect(floatSizes).not.toContain('576'); // 3*3*8*8 values as a flat float32 vector
    model.dispose();
  });
});

describe('a Sequential MLP (no InputLayer in model.layers)', () => {
  it('exports a quantized dense stack with a fused softmax, matching tfjs', () => {
    const model = tf.sequential({
      layers: [
        tf.layers.flatten({ inputShape: [4, 4, 2], name: 'flat' }),
        new QuantDense({ units: 16, activation: 'relu', quantizer: 'ttq', name: 'h1' }),
        new QuantDense({ units: 16, quantizer: 'bwn', name: 'h2' }),
        tf.layers.batchNormalization({ name: 'h2_bn' }),
        tf.layers.reLU({ name: 'h2_relu' }),
        tf.layers.dense({ units: 3, activation: 'softmax', name: 'out' }),
      ],
    });
    randomizeBn(model.getLayer('h2_bn'), seededRandom(4), [0, 1]);
    const x = uniform(seededRandom(5), 3 * 32, -2, 2);
    const { manifest, binary, warnings } = exportModel(model);
    expect(warnings).toEqual([]);
    expect(manifest.ops.map((o) => [o.op, o.name, o.fused ?? []])).toEqual([
      ['input', model.inputLayers[0]!.name, []],
      ['flatten', 'flat', []],
      ['dense', 'h1', []],
      ['dense', 'h2', ['h2_bn', 'h2_relu']],
      ['dense', 'out', []],
    ]);
    const ours = decodeModel(manifest, binary).predict({ shape: [3, 4, 4, 2], data: x });
    const ref = tf.tidy(() => f32(model.predict(tf.tensor4d(x, [3, 4, 4, 2])) as tf.Tensor));
    expect(maxAbsDiff(ours.data, ref)).toBeLessThan(1e-5);
    model.dispose();
  });
});

describe('what the walker refuses (clear errors naming the layer and its class)', () => {
  const input = () => tf.input({ shape: [8, 8, 3], name: 'in' });

  it('an unsupported layer class', () => {
    const i = input();
    const up = tf.layers.upSampling2d({ size: [2, 2], name: 'up' }).apply(i) as Sym;
    const model = tf.model({ inputs: i, outputs: up });
    const err = (() => {
      try {
        modelToGraph(model);
      } catch (e) {
        return e as ExportError;
      }
      throw new Error('no error');
    })();
    expect(err).toBeInstanceOf(ExportError);
    expect(err.layer).toBe('up');
    expect(err.message).toMatch(
      /layer "up" \(UpSampling2D\): layer class UpSampling2D is not supported by the export; supported: InputLayer, TritQuantConv2D/,
    );
  });

  it('an activation the runtime does not have, a clipped ReLU other than 6, dilation', () => {
    const i = input();
    const t = tf.layers.activation({ activation: 'selu', name: 'act' }).apply(i) as Sym;
    expect(() => modelToGraph(tf.model({ inputs: i, outputs: t }))).toThrow(
      /layer "act" \(Activation\): activation "selu" is not supported \(linear, relu, relu6, sigmoid, tanh, softmax are\)/,
    );
    const j = input();
    const r4 = tf.layers.reLU({ maxValue: 4, name: 'r4' }).apply(j) as Sym;
    expect(() => modelToGraph(tf.model({ inputs: j, outputs: r4 }))).toThrow(
      /layer "r4" \(ReLU\): maxValue 4 \(a clipped ReLU\) is not supported; only 6 \(relu6\) is/,
    );
    const k = input();
    const d = tf.layers
      .conv2d({ filters: 4, kernelSize: 3, dilationRate: 2, name: 'dil' })
      .apply(k) as Sym;
    expect(() => modelToGraph(tf.model({ inputs: k, outputs: d }))).toThrow(
      /layer "dil" \(Conv2D\): dilationRate \[2,2\]/,
    );
    const l = input();
    const e = new QuantConv2D({
      filters: 4,
      kernelSize: 3,
      activation: 'elu',
      name: 'qelu',
      quantizer: 'twn',
    }).apply(l) as Sym;
    expect(() => modelToGraph(tf.model({ inputs: l, outputs: e }))).toThrow(
      /layer "qelu" \(TritQuantConv2D\): activation "elu"/,
    );
  });

  it('a layer applied twice (shared weights)', () => {
    const i = tf.input({ shape: [8, 8, 4], name: 'in' });
    const shared = tf.layers.conv2d({ filters: 4, kernelSize: 1, name: 'shared' });
    const y = shared.apply(shared.apply(i) as Sym) as Sym;
    expect(() => modelToGraph(tf.model({ inputs: i, outputs: y }))).toThrow(
      /layer "shared" \(Conv2D\): is applied 2 times in this model; shared layers are not supported/,
    );
  });

  it('HLA still in phase 1 (full-precision forward): a warning, or an error with strict', () => {
    const i = input();
    const y = new QuantConv2D({ filters: 8, kernelSize: 3, name: 'hla1', quantizer: 'hla' }).apply(
      i,
    ) as Sym;
    const model = tf.model({ inputs: i, outputs: y });
    const { warnings } = modelToGraph(model);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /layer "hla1" \(hla\): the exported codes and scales differ .* phase 1/,
    );
    expect(() => modelToGraph(model, { strict: true })).toThrow(ExportError);
    expect(modelToGraph(model, { check: false }).warnings).toEqual([]);
    model.dispose();
  });
});
