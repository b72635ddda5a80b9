import { describe, expect, it } from 'vitest';
import {
  ci95,
  containsZero,
  mean,
  pairedDifference,
  sampleStd,
  t975,
} from '../src/bench/statistics.js';

// t_{0.975, df} from the tables (e.g. NIST/SEMATECH e-Handbook, Table 1.3.6.7.2), to the digits printed there.
const T_TABLE: [number, number][] = [
  [1, 12.706],
  [2, 4.303],
  [3, 3.182],
  [4, 2.776],
  [9, 2.262],
  [29, 2.045],
  [100, 1.984],
];

describe('t975', () => {
  it('matches the t table and its well-known limits', () => {
    for (const [df, t] of T_TABLE) expect(t975(df), `df = ${df}`).toBeCloseTo(t, 3);
    // more digits for the two the CIs of 2 and 3 seeds use
    expect(t975(1)).toBeCloseTo(12.7062047362, 9);
    expect(t975(2)).toBeCloseTo(4.3026527297, 9);
    // df → ∞: the normal quantile 1.959964
    expect(t975(1e7)).toBeCloseTo(1.959964, 5);
  });

  it('bad degrees of freedom are an error naming the value', () => {
    for (const df of [0, -1, 1.5, Number.NaN])
      expect(() => t975(df)).toThrow(`degrees of freedom must be a whole number >= 1, got ${df}`);
  });
});

describe('mean, sampleStd, ci95', () => {
  it('one value: no spread, no interval', () => {
    expect(mean([0.8])).toBe(0.8);
    expect(sampleStd([0.8])).toBe(0);
    expect(ci95([0.8])).toBeNull();
    expect(ci95([])).toBeNull();
    expect(mean([])).toBe(0);
  });

  it('two values: x̄ ± t(0.975, 1) · s / √2, by hand', () => {
    // 90, 92: x̄ = 91, s = √((1 + 1) / 1) = √2, half-width = 12.706205 · √2 / √2 = 12.706205
    expect(sampleStd([90, 92])).toBeCloseTo(Math.SQRT2, 12);
    const [lo, hi] = ci95([90, 92])!;
    expect(lo).toBeCloseTo(91 - 12.706204736, 8);
    expect(hi).toBeCloseTo(91 + 12.706204736, 8);
  });

  it('three values: x̄ ± t(0.975, 2) · s / √3, by hand', () => {
    // 80, 84, 88: x̄ = 84, s = √((16 + 0 + 16) / 2) = 4, half-width = 4.302653 · 4 / √3 = 9.936554
    expect(sampleStd([80, 84, 88])).toBe(4);
    const [lo, hi] = ci95([80, 84, 88])!;
    expect(lo).toBeCloseTo(84 - 9.93655, 4);
    expect(hi).toBeCloseTo(84 + 9.93655, 4);
  });

  it('equal values: a zero-width interval at the mean', () => {
    expect(ci95([75, 75, 75])).toEqual([75, 75]);
  });
});

describe('containsZero', () => {
  it('ends included', () => {
    expect(containsZero([-1, 2])).toBe(true);
    expect(containsZero([0, 2])).toBe(true);
    expect(containsZero([-2, 0])).toBe(true);
    expect(containsZero([0.1, 2])).toBe(false);
    expect(containsZero([-2, -0.1])).toBe(false);
  });
});

describe('pairedDifference', () => {
  const m = (entries: [number, number][]) => new Map(entries);

  it('pairs by seed, whatever the order, and leaves unpaired seeds out', () => {
    // seeds 0, 1, 2 paired (3 has no partner): d = 80 − 90, 84 − 91, 88 − 95 = −10, −7, −7
    // d̄ = −8, s_d = √((4 + 1 + 1) / 2) = √3, half-width = 4.302653 · √3 / √3 = 4.302653
    const p = pairedDifference(
      m([
        [2, 88],
        [0, 80],
        [3, 50],
        [1, 84],
      ]),
      m([
        [0, 90],
        [1, 91],
        [2, 95],
      ]),
      'fp32',
    )!;
    expect(p.reference).toBe('fp32');
    expect(p.seeds).toEqual([0, 1, 2]);
    expect(p.mean).toBeCloseTo(-8, 12);
    expect(p.std).toBeCloseTo(Math.sqrt(3), 12);
    expect(p.ci95![0]).toBeCloseTo(-8 - 4.30265273, 8);
    expect(p.ci95![1]).toBeCloseTo(-8 + 4.30265273, 8);
    expect(p.containsZero).toBe(false);
  });

  it('two pairs whose interval contains 0', () => {
    // d = −5, −3: d̄ = −4, s_d = √2, half-width = 12.706205 · √2 / √2
    const p = pairedDifference(
      m([
        [0, 85],
        [1, 89],
      ]),
      m([
        [0, 90],
        [1, 92],
      ]),
      'fp32',
    )!;
    expect(p.mean).toBeCloseTo(-4, 12);
    expect(p.ci95![0]).toBeCloseTo(-4 - 12.706204736, 8);
    expect(p.ci95![1]).toBeCloseTo(-4 + 12.706204736, 8);
    expect(p.containsZero).toBe(true);
  });

  it('one pair: the difference, no spread, no interval; no common seed: null', () => {
    expect(pairedDifference(m([[4, 70]]), m([[4, 72.5]]), 'twn')).toEqual({
      reference: 'twn',
      seeds: [4],
      mean: -2.5,
      std: null,
      ci95: null,
      containsZero: null,
    });
    expect(pairedDifference(m([[0, 70]]), m([[1, 72]]), 'twn')).toBeNull();
  });
});
