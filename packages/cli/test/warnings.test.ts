import { describe, expect, it } from 'vitest';
import {
  negativeScales,
  negativeScalesLine,
  runawayScales,
  runawayScalesLine,
} from '../src/bench/warnings.js';
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

describe('runawayScales', () => {
  it('scales more than 100x up or down from their start, per layer and per channel; 100x itself and normal drift are not', () => {
    const initial = [
      layer('conv1', 32, {}),
      layer('a', 2, { alpha: 0.0193 }),
      layer('b', 2, { wp: 1, wn: 1 }),
      layer('c', 2, { alpha: [0.1, 0.2, 0.3] }),
      layer('d', 2, { alpha: 0.05 }),
    ];
    const now = [
      layer('conv1', 32, {}),
      layer('a', 2, { alpha: 615 }), // SQ's collapse, then blow-up (the campaign's s3b3_conv2)
      layer('b', 2, { wp: 1.09, wn: 1e-8 }),
      layer('c', 2, { alpha: [0.1, 0.2 * 100, 0.3 / 101] }),
      layer('d', 2, { alpha: 0.05 * 1.5 }),
    ];
    expect(runawayScales(initial, now)).toEqual([
      'a: alpha 0.0193 → 615',
      'b: wn 1.00 → 1.00e-8',
      'c: alpha in 1 of 3 channels (e.g. 0.300 → 0.00297)',
    ]);
    expect(runawayScalesLine(initial, now)).toBe(
      'scales more than 100x away from their start in 3 places (a collapsed or diverged layer): ' +
        'a: alpha 0.0193 → 615, b: wn 1.00 → 1.00e-8, c: alpha in 1 of 3 channels (e.g. 0.300 → 0.00297)',
    );
    expect(runawayScalesLine(initial, initial)).toBeUndefined();
    // A layer or scale missing from the start (or a start of 0) is not compared.
    expect(
      runawayScales(
        [layer('a', 2, { alpha: 0 })],
        [layer('a', 2, { alpha: 5 }), layer('z', 2, { alpha: 5 })],
      ),
    ).toEqual([]);
  });
});
