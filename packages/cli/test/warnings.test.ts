import { describe, expect, it } from 'vitest';
import { negativeScales, negativeScalesLine } from '../src/bench/warnings.js';
import type { LayerStatsRecord } from '../src/training/train.js';

const layer = (
  name: string,
  bits: number,
  scales: LayerStatsRecord['scales'],
): LayerStatsRecord => ({
  layer: name,
  quantizer: bits < 32 ? 'ttq' : 'fp32',
  bits,
  numWeights: 9,
  share: { negative: 0.25, zero: 0.5, positive: 0.25 },
  scales,
});

describe('negativeScales', () => {
  it('per-layer and per-channel scales below zero, one entry per layer and scale; zero is not negative', () => {
    const layers = [
      layer('conv1', 32, {}),
      layer('a', 2, { wp: 0.3, wn: -0.0128 }),
      layer('b', 2, { wp: 0, wn: 0.2 }),
      layer('c', 2, { alpha: [0.1, -0.2, -0.05, 0.3] }),
      layer('fc', 32, {}),
    ];
    expect(negativeScales(layers)).toEqual([
      'a: wn = -0.0128',
      'c: alpha < 0 in 2 of 4 channels (min -0.200)',
    ]);
    expect(negativeScalesLine(layers)).toBe(
      'scales below zero in 2 places (of 3 quantized layers; the sign of those weights is flipped): ' +
        'a: wn = -0.0128, c: alpha < 0 in 2 of 4 channels (min -0.200)',
    );
  });

  it('nothing below zero: no warning', () => {
    expect(negativeScales([layer('a', 2, { wp: 1, wn: 1 })])).toEqual([]);
    expect(negativeScalesLine([layer('a', 2, { wp: 1, wn: 1 })])).toBeUndefined();
  });
});
