import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import '../examples/ternary-fixed.js';
import { dequantizeExport, QuantConv2D, QuantDense, quantLayers } from '../src/index.js';

/** Each quantized layer's codes, scales and bias, in model order (what @trit/export writes). */
const exportLayers = (model: tf.LayersModel) =>
  quantLayers(model).map((l) => ({
    name: l.name,
    type: l.layerType,
    quantizer: l.quantizer.name,
    export: l.exportTernary(),
    bias: l.bias ? Float32Array.from(l.bias.read().dataSync()) : null,
  }));

describe('QuantLayer.exportTernary', () => {
  it('returns codes, scales and biases per quantized layer, null for fp32 ones', () => {
    const model = tf.sequential({
      layers: [
        new QuantConv2D({ name: 'c1', filters: 2, kernelSize: 2, inputShape: [3, 3, 1] }),
        new QuantConv2D({
          name: 'c2',
          filters: 2,
          kernelSize: 2,
          quantizer: 'ternary-fixed',
          useBias: false,
        }),
        tf.layers.flatten(),
        new QuantDense({ name: 'd', units: 3, quantizer: 'bwn' }),
      ],
    });
    const c2 = model.getLayer('c2') as QuantConv2D;
    // kernel [2, 2, 2, 2]: 16 weights
    const k = [-0.9, -0.05, 0, 0.04, 0.3, 1.0, 0.2, -0.3, 0.01, 0.5, -0.5, 0.06, 0, 0, 0.07, -0.07];
    c2.setWeights([tf.tensor4d(k, [2, 2, 2, 2]), tf.scalar(0.4)]);
    (model.getLayer('d') as QuantDense).setWeights([
      tf.ones([2, 3]).mul(tf.tensor1d([1, -2, 3])),
      tf.tensor1d([1, 2, 3]),
    ]);

    const out = exportLayers(model);
    expect(out.map((l) => [l.name, l.type, l.quantizer, l.export?.bits ?? null])).toEqual([
      ['c1', 'conv', 'fp32', null],
      ['c2', 'conv', 'ternary-fixed', 2],
      ['d', 'dense', 'bwn', 1],
    ]);
    expect(out[0]!.bias).toEqual(new Float32Array([0, 0]));
    expect(out[1]!.bias).toBeNull();
    const e = out[1]!.export!;
    expect(e.shape).toEqual([2, 2, 2, 2]);
    // threshold 0.05: |w| > 0.05 keeps its sign, the rest is 0
    expect(Array.from(e.codes)).toEqual([-1, 0, 0, 0, 1, 1, 1, -1, 0, 1, -1, 1, 0, 0, 1, -1]);
    expect(Array.from(dequantizeExport(e)).map((v) => Math.round(v * 1e6) / 1e6)).toEqual(
      [-1, 0, 0, 0, 1, 1, 1, -1, 0, 1, -1, 1, 0, 0, 1, -1].map((c) => (c === 0 ? 0 : c * 0.4)),
    );
    // dense kernel rows [1, -2, 3]: mean|W| = 2, codes [+1, -1, +1] per row
    expect(Array.from(out[2]!.export!.codes)).toEqual([1, -1, 1, 1, -1, 1]);
    expect(out[2]!.export!.positive[0]).toBe(2);
    expect(out[2]!.bias).toEqual(new Float32Array([1, 2, 3]));
  });
});
