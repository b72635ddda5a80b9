/**
 * The layer-converter registry: an unsupported layer is an error naming it,
 * its class and the supported classes; a converter an app registers is used
 * for its layer class; registering over another converter is refused
 * unless asked for.
 */
import * as tf from '@tensorflow/tfjs';
import { maxAbsDiff } from '@trit/quant-core/testing';
import { decodeModel } from '@trit/runtime';
import { describe, expect, it } from 'vitest';
import {
  ExportError,
  exportModel,
  getLayerConverter,
  type LayerConverter,
  listLayerConverters,
  registerLayerConverter,
} from '../src/index.js';
import { predict, uniform } from './helpers.js';

type Sym = tf.SymbolicTensor;

/** A custom layer of the kind an app writes: `x * factor + 1`, per element. */
class ScaleShift extends tf.layers.Layer {
  static className = 'TestScaleShift';
  readonly factor: number;
  constructor(args: { factor: number; name?: string }) {
    super(args.name ? { name: args.name } : {});
    this.factor = args.factor;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    return tf.tidy(() => x.mul(this.factor).add(1));
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), factor: this.factor };
  }
}

function customModel() {
  const input = tf.input({ shape: [4, 4, 3], name: 'in' });
  const conv = tf.layers
    .conv2d({
      filters: 5,
      kernelSize: 3,
      padding: 'same',
      name: 'conv',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
    })
    .apply(input) as Sym;
  const y = new ScaleShift({ factor: -2, name: 'scale' }).apply(conv) as Sym;
  return tf.model({ inputs: input, outputs: y });
}

/** The error `fn` throws (fails if it returns). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('no error thrown');
}

describe('an unsupported layer', () => {
  it('is an ExportError naming the layer, its class and the supported classes (SeparableConv2D)', () => {
    const input = tf.input({ shape: [6, 6, 4], name: 'in' });
    const y = tf.layers
      .separableConv2d({ filters: 4, kernelSize: 3, name: 'sep' })
      .apply(input) as tf.SymbolicTensor;
    const err = thrown(() => exportModel(tf.model({ inputs: input, outputs: y })));
    expect(err).toBeInstanceOf(ExportError);
    expect((err as ExportError).layer).toBe('sep');
    expect(err.message).toContain(
      'export: layer "sep" (SeparableConv2D): layer class SeparableConv2D is not supported by the export; supported: ',
    );
    for (const cls of [
      'Conv2D',
      'DepthwiseConv2D',
      'Dense',
      'BatchNormalization',
      'Concatenate',
      'GlobalMaxPooling2D',
      'ZeroPadding2D',
      'Dropout',
    ]) {
      expect(err.message).toContain(cls);
    }
    expect(err.message).toContain('registerLayerConverter');
  });

  it('a custom layer without a converter is refused the same way', () => {
    const err = thrown(() => exportModel(customModel()));
    expect(err.message).toMatch(
      /^export: layer "scale" \(TestScaleShift\): layer class TestScaleShift is not supported/,
    );
  });
});

describe('registerLayerConverter', () => {
  it('lists the built-in converters', () => {
    expect(listLayerConverters()).toEqual(
      expect.arrayContaining([
        'TritQuantConv2D',
        'TritQuantDense',
        'TritBatchNormalization',
        'AveragePooling2D',
        'GlobalAveragePooling2D',
        'Flatten',
        'Softmax',
      ]),
    );
  });

  it('a converter registered for a custom class is used, and the export matches tfjs', () => {
    const calls: string[] = [];
    const convert: LayerConverter = (ctx) => {
      calls.push(ctx.layer.name);
      const c = ctx.inputShapes()[0]!.at(-1)!;
      const factor = (ctx.layer as ScaleShift).factor;
      return {
        ops: [
          {
            op: 'affine',
            name: ctx.layer.name,
            inputs: [ctx.input()],
            scale: new Float32Array(c).fill(factor),
            shift: new Float32Array(c).fill(1),
          },
        ],
      };
    };
    registerLayerConverter(ScaleShift.className, convert);
    expect(getLayerConverter(ScaleShift.className)).toBe(convert);
    const model = customModel();
    const { manifest, binary, layers } = exportModel(model);
    expect(calls).toEqual(['scale']);
    // The affine after a linear conv with no other consumer folds into it.
    expect(manifest.ops.map((o) => [o.name, o.fused ?? []])).toEqual([
      ['in', []],
      ['conv', ['scale']],
    ]);
    expect(layers.find((l) => l.name === 'scale')).toEqual({
      name: 'scale',
      className: 'TestScaleShift',
      ops: ['scale'],
    });
    const x = uniform(3, 2 * 4 * 4 * 3);
    const ours = decodeModel(manifest, binary).predict({ shape: [2, 4, 4, 3], data: x });
    expect(maxAbsDiff(ours.data, predict(model, x, [2, 4, 4, 3]))).toBeLessThan(1e-5);
  });

  it('refuses a different converter for a taken class unless replace is given; same converter is a no-op', () => {
    const mine: LayerConverter = (ctx) => ({ ops: [], output: ctx.input() });
    const builtin = getLayerConverter('Dropout')!;
    expect(() => registerLayerConverter('Dropout', mine)).toThrow(
      /a different converter is already registered for "Dropout" \(pass \{ replace: true \}/,
    );
    registerLayerConverter('Dropout', builtin);
    expect(getLayerConverter('Dropout')).toBe(builtin);
    registerLayerConverter('Dropout', mine, { replace: true });
    expect(getLayerConverter('Dropout')).toBe(mine);
    registerLayerConverter('Dropout', builtin, { replace: true });
  });

  it('refuses a bad class name or converter, naming it', () => {
    expect(() => registerLayerConverter('', (ctx) => ({ ops: [], output: ctx.input() }))).toThrow(
      /className must be a tfjs layer class name, got ""/,
    );
    expect(() => registerLayerConverter('X', 3 as unknown as LayerConverter)).toThrow(
      /"X": the converter must be a function .* got 3/,
    );
  });

  it('a converter that returns nothing for the layer is an error naming it', () => {
    registerLayerConverter('TestEmpty', () => ({ ops: [] }));
    class Empty extends ScaleShift {
      static override className = 'TestEmpty';
    }
    const input = tf.input({ shape: [3], name: 'in' });
    const y = new Empty({ factor: 1, name: 'empty' }).apply(input) as Sym;
    expect(() => exportModel(tf.model({ inputs: input, outputs: y }))).toThrow(
      /layer "empty" \(TestEmpty\): its converter returned no ops and no output/,
    );
  });
});
