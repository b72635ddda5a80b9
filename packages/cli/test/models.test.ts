import * as tf from '@tensorflow/tfjs';
import { initBackend, quantizeModel, quantLayers, TritBatchNormalization } from '@trit/quant-core';
import '@trit/ttq';
import { beforeAll, describe, expect, it } from 'vitest';
import { ChannelPadShortcut, modelComplexity, resnet18, resnetCifar } from '../src/models/index.js';

beforeAll(async () => {
  await initBackend({ quiet: true });
});

/** Saves to memory, pushes the artifacts through JSON (as a file would) and loads them back. */
async function roundTrip(model: tf.LayersModel): Promise<tf.LayersModel> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const a = saved!;
  const topology = JSON.parse(JSON.stringify(a.modelTopology));
  const weightData = new Uint8Array(a.weightData as ArrayBuffer).slice().buffer;
  return tf.loadLayersModel(
    tf.io.fromMemory({ modelTopology: topology, weightSpecs: a.weightSpecs, weightData }),
  );
}

describe('resnetCifar parameter counts and MACs (He et al. 2016, Table 6)', () => {
  // Per stage with n blocks (option A, widths 16/32/64):
  //   conv1 3·3·3·16 = 432, bn1 4·16 = 64 (γ, β, moving mean, moving variance)
  //   stage 1: n·(2·3·3·16·16 + 2·64) = 4736 n
  //   stage 2: (3·3·16·32 + 3·3·32·32 + 2·128) + (n−1)·(2·9216 + 2·128) = 14080 + 18688 (n−1)
  //   stage 3: (3·3·32·64 + 3·3·64·64 + 2·256) + (n−1)·(2·36864 + 2·256) = 55808 + 74240 (n−1)
  //   fc: 64·10 + 10 = 650
  //   total = 97664 n − 21894
  // Non-trainable (BN moving stats): 2·(16 + 2n·16 + 2n·32 + 2n·64) = 32 + 448 n.
  // MACs: conv1 32·32·432 = 442368; every 3x3 conv of a stage after its first
  //   costs 32·32·2304 = 16·16·9216 = 8·8·36864 = 2359296; the two stride-2
  //   convs 16·16·4608 = 8·8·18432 = 1179648 each; fc 640:
  //   total = 443008 + 2·1179648 + (6n − 2)·2359296.
  const cases = [
    { depth: 20, n: 3, params: 271_098, trainable: 269_722, macs: 40_551_040 },
    { depth: 32, n: 5, params: 466_426, trainable: 464_154, macs: 68_862_592 },
    { depth: 44, n: 7, params: 661_754, trainable: 658_586, macs: 97_174_144 },
    { depth: 56, n: 9, params: 857_082, trainable: 853_018, macs: 125_485_696 },
  ];
  for (const c of cases) {
    it(`ResNet-${c.depth}: ${c.params} params (${c.trainable} trainable), ${c.macs} MACs`, () => {
      const model = resnetCifar({ depth: c.depth });
      const m = modelComplexity(model);
      expect(m.params).toBe(c.params);
      expect(m.trainableParams).toBe(c.trainable);
      expect(m.macs).toBe(c.macs);
      expect(m.flops).toBe(2 * c.macs);
      // 6n + 2 weighted layers: 6n + 1 convolutions and the fc layer.
      const convs = model.layers.filter((l) => l.getClassName() === 'Conv2D');
      expect(convs).toHaveLength(6 * c.n + 1);
      expect(model.layers.filter((l) => l instanceof ChannelPadShortcut)).toHaveLength(2);
      expect(model.outputs[0]!.shape).toEqual([null, 10]);
      model.dispose();
    });
  }

  it('option B adds the two 1x1 projection shortcuts (conv + BN) and nothing else', () => {
    const model = resnetCifar({ depth: 20, shortcut: 'B' });
    const m = modelComplexity(model);
    // + 1·1·16·32 + 4·32 + 1·1·32·64 + 4·64 = 512 + 128 + 2048 + 256 = 2944
    expect(m.params).toBe(271_098 + 2944);
    // + 16·16·512 + 8·8·2048 = 131072 + 131072
    expect(m.macs).toBe(40_551_040 + 262_144);
    expect(model.layers.filter((l) => l instanceof ChannelPadShortcut)).toHaveLength(0);
    expect(model.layers.map((l) => l.name).filter((n) => n.endsWith('_shortcut_conv'))).toEqual([
      's2b1_shortcut_conv',
      's3b1_shortcut_conv',
    ]);
    const y = model.predict(tf.zeros([2, 32, 32, 3])) as tf.Tensor;
    expect(y.shape).toEqual([2, 10]);
    tf.dispose(y);
    model.dispose();
  });

  it('BatchNorms are TritBatchNormalization (fused on the native backend), momentum 0.9, epsilon 1e-5', () => {
    const model = resnetCifar({ depth: 8, shortcut: 'B' });
    const bns = model.layers.filter((l) => l.getClassName().includes('BatchNorm'));
    // bn1, 2 per block (3 blocks), 2 projection shortcuts.
    expect(bns).toHaveLength(9);
    for (const l of bns) {
      expect(l).toBeInstanceOf(TritBatchNormalization);
      expect(l.getClassName()).toBe('TritBatchNormalization');
      expect(l.getConfig()).toMatchObject({ axis: -1, momentum: 0.9, epsilon: 1e-5 });
      expect(l.weights.map((w) => w.originalName.slice(l.name.length))).toEqual([
        '/gamma',
        '/beta',
        '/moving_mean',
        '/moving_variance',
      ]);
    }
    expect(bns.map((l) => l.name)).toContain('s2b1_shortcut_bn');
    model.dispose();
  });

  it('rejects depths that are not 6n + 2', () => {
    for (const depth of [21, 2, 14.5, 0, -4]) {
      expect(() => resnetCifar({ depth })).toThrow(
        `resnetCifar: depth must be 6n + 2 with n >= 1 (20, 32, 44, 56, ...), got ${depth}`,
      );
    }
  });

  it('the same seed gives the same initial weights, a different seed different ones (seed 0 included)', () => {
    // tfjs ignores a seed of 0 (falls back to Math.random), so seed 0 must not reach an initializer.
    const opts = {
      depth: 8,
      widths: [4, 8, 8] as [number, number, number],
      inputShape: [8, 8, 3] as [number, number, number],
    };
    const weights = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));
    for (const seed of [0, 1000]) {
      const a = resnetCifar({ ...opts, seed });
      const b = resnetCifar({ ...opts, seed });
      expect(weights(a)).toEqual(weights(b));
      a.dispose();
      b.dispose();
    }
    const a = resnetCifar({ ...opts, seed: 0 });
    const c = resnetCifar({ ...opts, seed: 1000 });
    expect(weights(a)[0]).not.toEqual(weights(c)[0]);
    a.dispose();
    c.dispose();
    const r1 = resnet18({ numClasses: 3, inputShape: [16, 16, 3], widths: [4, 4, 4, 4], seed: 0 });
    const r2 = resnet18({ numClasses: 3, inputShape: [16, 16, 3], widths: [4, 4, 4, 4], seed: 0 });
    expect(weights(r1)).toEqual(weights(r2));
    r1.dispose();
    r2.dispose();
  });
});

describe('ChannelPadShortcut (option A)', () => {
  it('subsamples x[:, ::2, ::2, :] and pads channels symmetrically, by hand on a 4x4x2 input', () => {
    // x[0, r, c, ch] = 10·r + c + 100·ch  (ch 0: 0..33, ch 1: 100..133)
    const values: number[] = [];
    for (let r = 0; r < 4; r++)
      for (let c = 0; c < 4; c++) values.push(10 * r + c, 10 * r + c + 100);
    const x = tf.tensor4d(values, [1, 4, 4, 2]);
    const layer = new ChannelPadShortcut({ outChannels: 6, stride: 2 });
    const y = layer.apply(x) as tf.Tensor;
    expect(y.shape).toEqual([1, 2, 2, 6]);
    // Rows/cols 0 and 2 are kept; 6 − 2 = 4 extra channels: 2 zeros before, 2 after.
    expect(Array.from(y.dataSync())).toEqual([
      ...[0, 0, 0, 100, 0, 0], // (r, c) = (0, 0)
      ...[0, 0, 2, 102, 0, 0], // (0, 2)
      ...[0, 0, 20, 120, 0, 0], // (2, 0)
      ...[0, 0, 22, 122, 0, 0], // (2, 2)
    ]);
    expect(layer.computeOutputShape([null, 4, 4, 2])).toEqual([null, 2, 2, 6]);
    tf.dispose([x, y]);
  });

  it('odd sizes keep ceil(h/2) rows, and an odd channel surplus puts the extra zero after', () => {
    // 3x3x1 input 1..9; stride 2 keeps rows/cols 0 and 2; 4 − 1 = 3 extra channels: 1 before, 2 after.
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
    const layer = new ChannelPadShortcut({ outChannels: 4, stride: 2 });
    const y = layer.apply(x) as tf.Tensor;
    expect(y.shape).toEqual([1, 2, 2, 4]);
    expect(Array.from(y.dataSync())).toEqual([0, 1, 0, 0, 0, 3, 0, 0, 0, 7, 0, 0, 0, 9, 0, 0]);
    expect(layer.computeOutputShape([null, 3, 3, 1])).toEqual([null, 2, 2, 4]);
    tf.dispose([x, y]);
  });

  it('has a gradient: G at the kept positions and channels, 0 elsewhere', () => {
    const x = tf.tensor4d(
      Array.from({ length: 16 }, (_, i) => i),
      [1, 4, 4, 1],
    );
    const layer = new ChannelPadShortcut({ outChannels: 3, stride: 2 });
    // Output [1, 2, 2, 3]; the input channel lands on output channel 1.
    const G = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [1, 2, 2, 3]);
    const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(layer.apply(t) as tf.Tensor, G)))(x);
    // d/dx[r, c] = G[r/2, c/2, 1] for even r, c; else 0. G[., ., 1] = 2, 5, 8, 11.
    expect(Array.from(dx.dataSync())).toEqual([2, 0, 5, 0, 0, 0, 0, 0, 8, 0, 11, 0, 0, 0, 0, 0]);
    tf.dispose([x, G, dx]);
  });

  it('stride 1 only pads; fewer output than input channels is an error naming the layer', () => {
    const x = tf.ones([1, 2, 2, 2]);
    const y = new ChannelPadShortcut({ outChannels: 4, stride: 1 }).apply(x) as tf.Tensor;
    expect(Array.from(y.dataSync())).toEqual([0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0]);
    expect(() =>
      new ChannelPadShortcut({ outChannels: 1, stride: 1, name: 'sc' }).apply(x),
    ).toThrow('sc: input has 2 channels, more than outChannels=1');
    tf.dispose([x, y]);
  });
});

describe('resnet18 (64x64 variant)', () => {
  it('builds on 64x64 inputs with the stride-2 stem and projection shortcuts', () => {
    const model = resnet18({ numClasses: 10 });
    const m = modelComplexity(model);
    // stem 3·3·3·32 + 4·32 = 992
    // stage 1 (32): 2·(2·9216 + 2·128) = 37376
    // stage 2 (64): 18432 + 36864 + 2·256 + (2048 + 256) + (2·36864 + 2·256) = 132352
    // stage 3 (128): 73728 + 147456 + 2·512 + (8192 + 512) + (2·147456 + 2·512) = 526848
    // stage 4 (256): 294912 + 589824 + 2·1024 + (32768 + 1024) + (2·589824 + 2·1024) = 2102272
    // fc 256·10 + 10 = 2570
    expect(m.params).toBe(992 + 37_376 + 132_352 + 526_848 + 2_102_272 + 2570);
    expect(model.getLayer('s4b2_conv2').outputShape).toEqual([null, 4, 4, 256]);
    expect(model.getLayer('conv1').outputShape).toEqual([null, 32, 32, 32]);
    const y = model.predict(tf.zeros([1, 64, 64, 3])) as tf.Tensor;
    expect(y.shape).toEqual([1, 10]);
    tf.dispose(y);
    model.dispose();
  });
});

describe('save / load round trip', () => {
  it('restores the custom shortcut layer and gives the same outputs', async () => {
    const model = resnetCifar({
      depth: 8,
      widths: [4, 8, 16],
      inputShape: [8, 8, 3],
      numClasses: 3,
      seed: 5,
    });
    const loaded = await roundTrip(model);
    const shortcuts = loaded.layers.filter(
      (l) => l instanceof ChannelPadShortcut,
    ) as ChannelPadShortcut[];
    expect(shortcuts.map((l) => [l.name, l.outChannels, l.stride])).toEqual([
      ['s2b1_shortcut', 8, 2],
      ['s3b1_shortcut', 16, 2],
    ]);
    const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 3);
    const a = model.predict(x) as tf.Tensor;
    const b = loaded.predict(x) as tf.Tensor;
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([x, a, b]);
    model.dispose();
    loaded.dispose();
  });

  it('also with quantized convolutions next to the shortcut layer', async () => {
    const base = resnetCifar({
      depth: 8,
      widths: [4, 8, 16],
      inputShape: [8, 8, 3],
      numClasses: 3,
      seed: 6,
    });
    const { model } = quantizeModel(base, { default: 'ttq' });
    const loaded = await roundTrip(model);
    expect(quantLayers(loaded).map((l) => l.quantizer.name)).toEqual(
      quantLayers(model).map((l) => l.quantizer.name),
    );
    expect(loaded.layers.filter((l) => l instanceof ChannelPadShortcut)).toHaveLength(2);
    const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 4);
    const a = model.predict(x) as tf.Tensor;
    const b = loaded.predict(x) as tf.Tensor;
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([x, a, b]);
    for (const m of [base, model, loaded]) m.dispose();
  });
});
