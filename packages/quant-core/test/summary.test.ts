import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  formatBytes,
  formatSummary,
  modelSummary,
  QuantConv2D,
  QuantDense,
  quantLayers,
} from '../src/index.js';
import './fixtures/probe.js';

/** c1 (fp32) → c2 (probe) → bn → flatten → d (bwn) → out (plain Dense) */
function tiny(): tf.Sequential {
  const model = tf.sequential({
    layers: [
      new QuantConv2D({ name: 'c1', filters: 2, kernelSize: 3, inputShape: [5, 5, 1] }),
      new QuantConv2D({ name: 'c2', filters: 4, kernelSize: 3, quantizer: 'probe' }),
      tf.layers.batchNormalization({ name: 'bn' }),
      tf.layers.flatten({ name: 'flat' }),
      new QuantDense({ name: 'd', units: 3, quantizer: 'bwn' }),
      tf.layers.dense({ name: 'out', units: 2 }),
    ],
  });
  quantLayers(model)[1]!.paramVariables.s!.write(tf.scalar(0.7)); // probe: 2 bits while s >= 0.5
  return model;
}

describe('modelSummary', () => {
  it('counts params, bits and memory per layer and in total, by hand', () => {
    const s = modelSummary(tiny());
    expect(
      s.layers.map((l) => [
        l.name,
        l.type,
        l.quantizer,
        l.params,
        l.quantizedParams,
        l.bits,
        l.memoryBytes,
      ]),
    ).toEqual([
      // 3·3·1·2 = 18 kernel + 2 bias = 20 params, all 32-bit: 640 bits = 80 B
      ['c1', 'TritQuantConv2D', 'fp32', 20, 0, 32, 80],
      // 3·3·2·4 = 72 kernel at 2 bits + 4 bias + 1 scale at 32: 144 + 160 = 304 bits = 38 B
      ['c2', 'TritQuantConv2D', 'probe', 77, 72, 2, 38],
      // gamma, beta, moving mean, moving variance: 4·4 = 16 at 32 bits = 64 B
      ['bn', 'BatchNormalization', null, 16, 0, 32, 64],
      ['flat', 'Flatten', null, 0, 0, null, 0],
      // 4·3 = 12 kernel at 1 bit + 3 bias at 32: 12 + 96 = 108 bits = 13.5 B
      ['d', 'TritQuantDense', 'bwn', 15, 12, 1, 13.5],
      // 3·2 + 2 = 8 at 32 bits = 32 B
      ['out', 'Dense', null, 8, 0, 32, 32],
    ]);
    // 20 + 77 + 16 + 15 + 8 = 136 params; 72 + 12 = 84 quantized
    // memory 80 + 38 + 64 + 13.5 + 32 = 227.5 B; float32 136 · 4 = 544 B; 544 / 227.5 = 2.3912
    expect(s.totals.params).toBe(136);
    expect(s.totals.quantizedParams).toBe(84);
    expect(s.totals.memoryBytes).toBe(227.5);
    expect(s.totals.float32Bytes).toBe(544);
    expect(s.totals.compressionRatio).toBeCloseTo(2.3912, 4);
  });

  it('takes a parameter-dependent precision from the trained parameters (as SQ needs)', () => {
    const model = tiny();
    quantLayers(model)[1]!.paramVariables.s!.write(tf.scalar(0.2)); // probe: 1 bit
    const c2 = modelSummary(model).layers[1]!;
    // 72 · 1 + 5 · 32 = 232 bits = 29 B
    expect([c2.bits, c2.memoryBytes]).toEqual([1, 29]);
    expect(modelSummary(model).totals.memoryBytes).toBe(218.5);
  });

  it('an all-fp32 model has compression ratio 1', () => {
    const m = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
    expect(modelSummary(m).totals).toEqual({
      params: 8,
      quantizedParams: 0,
      memoryBytes: 32,
      float32Bytes: 32,
      compressionRatio: 1,
    });
  });
});

describe('formatSummary', () => {
  it('prints the table and the totals', () => {
    const text = formatSummary(modelSummary(tiny()));
    expect(text.split('\n')).toEqual([
      'Layer  Type                Quantizer  Params  Bits   Memory',
      '-----------------------------------------------------------',
      'c1     TritQuantConv2D     fp32           20    32     80 B',
      'c2     TritQuantConv2D     probe          77     2     38 B',
      'bn     BatchNormalization  -              16    32     64 B',
      'flat   Flatten             -               0     -      0 B',
      'd      TritQuantDense      bwn            15     1  13.50 B',
      'out    Dense               -               8    32     32 B',
      '-----------------------------------------------------------',
      'Total params: 136 (quantized: 84 = 61.8%)',
      'Weight memory: 227.50 B (float32: 544 B; 2.39x smaller)',
    ]);
  });

  it('formats bytes', () => {
    expect([formatBytes(512), formatBytes(1536), formatBytes(3 * 1024 * 1024)]).toEqual([
      '512 B',
      '1.50 KiB',
      '3.00 MiB',
    ]);
    // Binary units all the way up (the CLI's data messages use this formatter too).
    expect([formatBytes(3 * 2 ** 30), formatBytes(1.5 * 2 ** 40), formatBytes(2 ** 52)]).toEqual([
      '3.00 GiB',
      '1.50 TiB',
      '4096.00 TiB',
    ]);
  });
});
