import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { Rng } from '../src/random.js';
import { expectClose, seededRandom } from '../src/testing.js';

describe('seededRandom', () => {
  it('is mulberry32: known first outputs for seed 1', () => {
    const next = seededRandom(1);
    // Reference uint32 outputs of mulberry32(1) (computed independently), divided by 2^32.
    expect(next()).toBe(2693262067 / 4294967296);
    expect(next()).toBe(11749833 / 4294967296);
    expect(next()).toBe(2265367787 / 4294967296);
  });

  it('gives the same stream for the same seed and another one for another seed', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const c = seededRandom(43);
    const sa = Array.from({ length: 100 }, () => a());
    expect(Array.from({ length: 100 }, () => b())).toEqual(sa);
    expect(Array.from({ length: 100 }, () => c())).not.toEqual(sa);
    for (const v of sa) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(1);
    }
  });
});

describe('Rng', () => {
  it('is the mulberry32 stream of seededRandom, with int and shuffle on top', () => {
    const r = new Rng(1);
    expect([r.nextUint32(), r.nextUint32(), r.nextUint32()]).toEqual([
      2693262067, 11749833, 2265367787,
    ]);
    const a = new Rng(7);
    const b = seededRandom(7);
    for (let i = 0; i < 10; i++) expect(a.next()).toBe(b());
    expect(() => new Rng(Number.NaN)).toThrow('Rng: seed must be a finite number, got NaN');
  });
});

describe('expectClose', () => {
  it('is |actual − expected| ≤ atol + rtol·|expected|, elementwise', () => {
    expect(() => expectClose([1, 2.5], [1, 2.5000009])).not.toThrow();
    expect(() => expectClose([1, 2.5], [1, 2.500002])).toThrow(
      'expectClose: element 1 is 2.5, expected 2.500002 within 0.000001',
    );
    expect(() => expectClose([100], [100.01], 1e-3)).toThrow('element 0');
    expect(() => expectClose([100], [100.01], { atol: 1e-3, rtol: 1e-4 })).not.toThrow();
    expect(() => expectClose([1, 2], [1])).toThrow('expectClose: 2 values, expected 1');
    expect(() => expectClose([Number.NaN], [0], 1)).toThrow('element 0 is NaN');
  });

  it('compares float32 data with the float32 nearest each literal (tol 0: bit-exact)', () => {
    expect(() => expectClose(new Float32Array([0.1]), [0.1], 0)).not.toThrow();
    expect(() => expectClose([Math.fround(0.1)], [0.1], 0)).toThrow('element 0');
    const t = tf.tensor1d([0.3, -0.7]);
    expect(() => expectClose(t, [0.3, -0.7], 0)).not.toThrow();
    t.dispose();
  });
});
