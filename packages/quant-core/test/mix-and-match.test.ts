import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { isQuantLayer, type QuantAssignment, quantizeModel, quantLayers } from '../src/index.js';
import { maxAbsDiff } from '../src/testing.js';
import './fixtures/probe.js';

/** conv1 → conv2 → conv3 → flatten → fc1 → fc2 */
function cnn(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({
        name: 'conv1',
        filters: 4,
        kernelSize: 3,
        inputShape: [8, 8, 1],
        activation: 'relu',
      }),
      tf.layers.conv2d({
        name: 'conv2',
        filters: 4,
        kernelSize: 3,
        activation: 'relu',
        padding: 'same',
      }),
      tf.layers.batchNormalization({ name: 'bn' }),
      tf.layers.conv2d({ name: 'conv3', filters: 4, kernelSize: 3, strides: 2, useBias: false }),
      tf.layers.flatten({ name: 'flat' }),
      tf.layers.dense({ name: 'fc1', units: 8, activation: 'relu' }),
      tf.layers.dense({ name: 'fc2', units: 3, activation: 'softmax' }),
    ],
  });
}

const summary = (a: QuantAssignment, model = cnn()) =>
  quantizeModel(model, a).assignment.map(
    (l) => `${l.layer}:${l.quantizer}:${l.source}${l.rule ?? ''}`,
  );

const x = tf.randomNormal([2, 8, 8, 1], 0, 1, 'float32', 7);

describe('quantizeModel', () => {
  it('replaces Conv2D/Dense, keeps the first conv and last dense at fp32, copies every weight', () => {
    const original = cnn();
    const { model, assignment } = quantizeModel(original, { default: 'bwn' });
    expect(assignment.map((a) => [a.layer, a.type, a.quantizer, a.source])).toEqual([
      ['conv1', 'conv', 'fp32', 'keepFirstLastFP32'],
      ['conv2', 'conv', 'bwn', 'default'],
      ['conv3', 'conv', 'bwn', 'default'],
      ['fc1', 'dense', 'bwn', 'default'],
      ['fc2', 'dense', 'fp32', 'keepFirstLastFP32'],
    ]);
    expect(model.layers.map((l) => l.getClassName())).toEqual([
      'TritQuantConv2D',
      'TritQuantConv2D',
      'BatchNormalization',
      'TritQuantConv2D',
      'Flatten',
      'TritQuantDense',
      'TritQuantDense',
    ]);
    // Every original weight (kernels, biases, BN) is copied as it was.
    const byName = new Map(model.layers.map((l) => [l.name, l]));
    for (const layer of original.layers) {
      const copy = byName.get(layer.name)!;
      layer.getWeights().forEach((w, i) => {
        expect(Array.from(copy.getWeights()[i]!.dataSync())).toEqual(Array.from(w.dataSync()));
      });
    }
    // The original model is untouched and still works.
    expect(original.layers[0]!.getClassName()).toBe('Conv2D');
    expect((original.predict(x) as tf.Tensor).shape).toEqual([2, 3]);
  });

  it('with fp32 everywhere the rebuilt model computes the same function', () => {
    const original = cnn();
    const { model } = quantizeModel(original, { default: 'fp32', keepFirstLastFP32: false });
    const a = (original.predict(x) as tf.Tensor).dataSync();
    const b = (model.predict(x) as tf.Tensor).dataSync();
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-6);
  });

  it('re-initialises the quantizer parameters from the copied kernel', () => {
    const original = cnn();
    const { model } = quantizeModel(original, {
      rules: [{ match: { name: 'conv2' }, quantizer: 'probe' }],
    });
    const conv2 = quantLayers(model).find((l) => l.name === 'conv2')!;
    const k = original.getLayer('conv2').getWeights()[0]!.dataSync();
    const meanAbs = Array.from(k).reduce((s, v) => s + Math.abs(v), 0) / k.length;
    expect(conv2.quantizerParams().s).toBeCloseTo(meanAbs, 5);
  });

  it('matches by glob, regex, type and position; the first matching rule wins', () => {
    expect(summary({ rules: [{ match: { name: 'conv*' }, quantizer: 'bwn' }] })).toEqual([
      'conv1:fp32:keepFirstLastFP32',
      'conv2:bwn:rule0',
      'conv3:bwn:rule0',
      'fc1:fp32:default',
      'fc2:fp32:keepFirstLastFP32',
    ]);
    expect(
      summary({
        rules: [
          { match: { name: /^conv[0-9]$/ }, quantizer: 'probe' },
          { match: { type: 'conv' }, quantizer: 'bwn' },
          { match: { name: '/^FC1$/i' }, quantizer: 'bwn' },
        ],
        strict: false,
      }),
    ).toEqual([
      'conv1:fp32:keepFirstLastFP32',
      'conv2:probe:rule0',
      'conv3:probe:rule0',
      'fc1:bwn:rule2',
      'fc2:fp32:keepFirstLastFP32',
    ]);
    expect(
      summary({
        rules: [
          { match: { type: 'conv', position: 'last' }, quantizer: 'probe' },
          { match: { name: 'c?nv?' }, quantizer: 'bwn' },
        ],
        default: 'probe',
      }),
    ).toEqual([
      'conv1:fp32:keepFirstLastFP32',
      'conv2:bwn:rule1',
      'conv3:probe:rule0',
      'fc1:probe:default',
      'fc2:fp32:keepFirstLastFP32',
    ]);
  });

  it('a position rule may quantize the protected first/last layer; keepFirstLastFP32: false quantizes them', () => {
    expect(
      summary({
        rules: [{ match: { type: 'dense', position: 'last' }, quantizer: 'bwn' }],
        default: 'probe',
      }),
    ).toEqual([
      'conv1:fp32:keepFirstLastFP32',
      'conv2:probe:default',
      'conv3:probe:default',
      'fc1:probe:default',
      'fc2:bwn:rule0',
    ]);
    expect(summary({ default: 'bwn', keepFirstLastFP32: false })).toEqual([
      'conv1:bwn:default',
      'conv2:bwn:default',
      'conv3:bwn:default',
      'fc1:bwn:default',
      'fc2:bwn:default',
    ]);
  });

  it('passes each rule config to its layers, with defaults filled in', () => {
    const { model, assignment } = quantizeModel(cnn(), {
      rules: [{ match: { name: 'conv3' }, quantizer: 'probe', config: { c: 0.25 } }],
      default: 'probe',
      defaultConfig: { mode: 'other' },
    });
    expect(assignment.find((a) => a.layer === 'conv3')!.config).toEqual({
      c: 0.25,
      mode: 'scaleOnly',
    });
    expect(assignment.find((a) => a.layer === 'fc1')!.config).toEqual({ c: 0, mode: 'other' });
    const conv3 = quantLayers(model).find((l) => l.name === 'conv3')!;
    expect(conv3.quantizer.getConfig()).toEqual({ c: 0.25, mode: 'scaleOnly' });
  });

  it("a rule's frozenParams reach its layers (non-trainable, saved in the layer config) and the assignment", () => {
    const { model, assignment } = quantizeModel(cnn(), {
      rules: [
        { match: { name: 'conv2' }, quantizer: 'probe', frozenParams: ['s'] },
        { match: { name: 'conv3' }, quantizer: 'probe' },
      ],
    });
    expect(assignment.map((a) => [a.layer, a.frozenParams])).toEqual([
      ['conv1', undefined],
      ['conv2', ['s']],
      ['conv3', undefined],
      ['fc1', undefined],
      ['fc2', undefined],
    ]);
    const [conv2, conv3] = quantLayers(model).filter((l) => l.quantizer.name === 'probe');
    expect(conv2!.paramVariables.s!.trainable).toBe(false);
    // still initialised from the copied kernel (probe's init: mean|W|)
    const k = Array.from(conv2!.kernel!.read().dataSync());
    const meanAbs = k.reduce((a, v) => a + Math.abs(v), 0) / k.length;
    expect(conv2!.quantizerParams().s).toBeCloseTo(meanAbs, 6);
    expect(conv3!.paramVariables.s!.trainable).toBe(true);
    expect(conv2!.getConfig().quantizer).toMatchObject({ frozenParams: ['s'] });
    expect(conv3!.getConfig().quantizer).not.toHaveProperty('frozenParams');
    expect(model.trainableWeights.map((w) => w.originalName)).not.toContain('conv2/s');
    expect(model.trainableWeights.map((w) => w.originalName)).toContain('conv3/s');
  });

  it('works on functional models with a nested model, and on a builder (whose model it disposes)', () => {
    let built: tf.LayersModel | undefined;
    const { model, assignment } = quantizeModel(
      () => {
        const inner = tf.sequential({
          name: 'block',
          layers: [
            tf.layers.dense({ name: 'inner_fc', units: 6, inputShape: [4], activation: 'relu' }),
          ],
        });
        const input = tf.input({ shape: [4] });
        const h = tf.layers.dense({ name: 'stem', units: 4 }).apply(input) as tf.SymbolicTensor;
        const out = tf.layers
          .dense({ name: 'head', units: 2 })
          .apply(inner.apply(h) as tf.SymbolicTensor);
        built = tf.model({ inputs: input, outputs: out as tf.SymbolicTensor });
        return built;
      },
      { default: 'bwn' },
    );
    expect(assignment.map((a) => `${a.path}:${a.quantizer}`)).toEqual([
      'stem:fp32',
      'block/inner_fc:bwn',
      'head:fp32',
    ]);
    expect(quantLayers(model).map((l) => l.name)).toEqual(['stem', 'inner_fc', 'head']);
    expect((model.predict(tf.ones([3, 4])) as tf.Tensor).shape).toEqual([3, 2]);
    expect(() => built!.predict(tf.ones([3, 4]))).toThrow(/disposed/);
  });

  it('re-quantizing a quantized model keeps trained parameters when the quantizer stays the same', () => {
    const { model } = quantizeModel(cnn(), { default: 'probe' });
    const conv2 = quantLayers(model).find((l) => l.name === 'conv2')!;
    conv2.paramVariables.s!.write(tf.scalar(0.123));
    const again = quantizeModel(model, {
      rules: [{ match: { name: 'conv3' }, quantizer: 'bwn' }],
      default: 'probe',
    });
    const byName = new Map(quantLayers(again.model).map((l) => [l.name, l]));
    expect(byName.get('conv2')!.quantizerParams().s).toBeCloseTo(0.123, 6);
    expect(byName.get('conv3')!.quantizer.name).toBe('bwn');
    expect(isQuantLayer(byName.get('conv1'))).toBe(true);
  });
});

describe('quantizeModel errors name the rule', () => {
  it('unknown quantizer', () => {
    expect(() =>
      quantizeModel(cnn(), { rules: [{ match: { type: 'conv' }, quantizer: 'tnn' }] }),
    ).toThrow(
      /quantizeModel: rule 0 \(\{ match: \{ type: "conv" \}, quantizer: "tnn" \}\): unknown quantizer "tnn"; registered: /,
    );
    expect(() => quantizeModel(cnn(), { default: 'tnn' })).toThrow(
      'quantizeModel: default quantizer: unknown quantizer "tnn"',
    );
  });

  it('invalid config', () => {
    expect(() =>
      quantizeModel(cnn(), {
        rules: [{ match: { name: 'fc1' }, quantizer: 'probe', config: { c: -2 } }],
      }),
    ).toThrow(
      'quantizeModel: rule 0 ({ match: { name: "fc1" }, quantizer: "probe" }): probe: option "c" must be >= 0, got -2',
    );
  });

  it('a rule that matches no layer lists the layers', () => {
    expect(() =>
      quantizeModel(cnn(), { rules: [{ match: { name: 'conv9' }, quantizer: 'bwn' }] }),
    ).toThrow(
      'rule 0 ({ match: { name: "conv9" }, quantizer: "bwn" }) matches no Conv2D/Dense layer; the layers are: conv1 (conv), conv2 (conv), conv3 (conv), fc1 (dense), fc2 (dense)',
    );
  });

  it('a rule that matches only protected layers says how to reach them', () => {
    expect(() =>
      quantizeModel(cnn(), { rules: [{ match: { name: 'fc2' }, quantizer: 'bwn' }] }),
    ).toThrow(
      'matches only fc2, which keepFirstLastFP32 keeps at fp32; target it with match.position, or set keepFirstLastFP32: false',
    );
  });

  it('a shadowed rule, unless strict is false', () => {
    const a: QuantAssignment = {
      rules: [
        { match: { type: 'conv' }, quantizer: 'bwn' },
        { match: { name: 'conv2' }, quantizer: 'probe' },
      ],
    };
    expect(() => quantizeModel(cnn(), a)).toThrow(
      'rule 1 ({ match: { name: "conv2" }, quantizer: "probe" }) is shadowed',
    );
    expect(() => quantizeModel(cnn(), { ...a, strict: false })).not.toThrow();
  });

  it('malformed assignments and rules', () => {
    expect(() => quantizeModel(cnn(), { rulez: [] } as never)).toThrow(
      'quantizeModel: assignment: unknown key "rulez"; valid keys: rules, default, defaultConfig, keepFirstLastFP32, strict',
    );
    expect(() =>
      quantizeModel(cnn(), { rules: [{ match: { kind: 'conv' }, quantizer: 'bwn' } as never] }),
    ).toThrow('unknown key "kind"; valid keys: name, type, position');
    expect(() =>
      quantizeModel(cnn(), { rules: [{ match: { type: 'lstm' }, quantizer: 'bwn' } as never] }),
    ).toThrow('match.type must be "conv" or "dense", got "lstm"');
    expect(() =>
      quantizeModel(cnn(), {
        rules: [{ match: { position: 'middle' }, quantizer: 'bwn' } as never],
      }),
    ).toThrow('match.position must be "first" or "last", got "middle"');
    expect(() =>
      quantizeModel(cnn(), { rules: [{ match: { name: '/[/' }, quantizer: 'bwn' }] }),
    ).toThrow('invalid name pattern "/[/"');
    expect(() =>
      quantizeModel(cnn(), {
        rules: [{ match: { name: 'conv2' }, quantizer: 'probe', frozenParams: ['t', 's', 'u'] }],
      }),
    ).toThrow(
      'quantizeModel: rule 0 ({ match: { name: "conv2" }, quantizer: "probe" }): frozenParams: "t", "u" is not a parameter of quantizer "probe" (s)',
    );
    expect(() =>
      quantizeModel(cnn(), {
        rules: [{ match: { name: 'conv2' }, quantizer: 'bwn', frozenParams: ['s'] }],
      }),
    ).toThrow('frozenParams: "s" is not a parameter of quantizer "bwn" (it has none)');
    expect(() =>
      quantizeModel(cnn(), {
        rules: [{ match: { name: 'conv2' }, quantizer: 'probe', frozenParams: 's' as never }],
      }),
    ).toThrow('frozenParams must be an array of parameter names, got "s"');
  });

  it('an assignment or rule that is not an object is a clear error (null, undefined, 5, an array)', () => {
    for (const [a, got] of [
      [null, 'null'],
      [undefined, 'undefined'],
      [5, '5'],
      [['bwn'], 'an array (["bwn"])'],
    ] as const) {
      expect(() => quantizeModel(cnn(), a as never)).toThrow(
        "quantizeModel: the assignment must be an object such as { default: 'twn' } or " +
          `{ rules: [{ match: { type: 'conv' }, quantizer: 'ttq' }] }, got ${got}`,
      );
    }
    expect(() => quantizeModel(cnn(), { rules: [null as never] })).toThrow(
      'quantizeModel: rule 0 must be { match: {...}, quantizer, config?, frozenParams? }, got null',
    );
    expect(() => quantizeModel(cnn(), { default: 'bwn', defaultConfig: 3 as never })).toThrow(
      'quantizeModel: default quantizer: bwn: the config must be an object of options',
    );
  });

  it('a model without Conv2D/Dense layers', () => {
    const m = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [2, 2] })] });
    expect(() => quantizeModel(m, { default: 'bwn' })).toThrow(
      'quantizeModel: the model has no Conv2D or Dense layer',
    );
  });
});
