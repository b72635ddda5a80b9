import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { assertFiniteKernel, checkNumber, resolveConfig } from '../src/index.js';

const defaults = { delta: 0.7, perChannel: false, init: 'one' };
const rules = { delta: { min: 0, max: 1, exclusiveMin: true }, init: ['one', 'mean'] } as const;

describe('resolveConfig', () => {
  it('fills defaults and keeps given values', () => {
    expect(resolveConfig('twn', defaults, undefined, rules)).toEqual(defaults);
    expect(resolveConfig('twn', defaults, { delta: 0.75, perChannel: true }, rules)).toEqual({
      delta: 0.75,
      perChannel: true,
      init: 'one',
    });
  });

  it('ignores keys given as undefined', () => {
    expect(resolveConfig('twn', defaults, { delta: undefined }, rules).delta).toBe(0.7);
  });

  it('rejects an unknown key, naming the quantizer and listing the valid ones', () => {
    expect(() => resolveConfig('twn', defaults, { detla: 0.7 }, rules)).toThrow(
      'twn: unknown option "detla"; valid options: delta, perChannel, init',
    );
  });

  it('rejects a wrong type', () => {
    expect(() => resolveConfig('twn', defaults, { perChannel: 'yes' }, rules)).toThrow(
      'twn: option "perChannel" must be a boolean, got "yes"',
    );
    expect(() => resolveConfig('twn', defaults, { delta: '0.7' }, rules)).toThrow(
      'twn: option "delta" must be a number, got "0.7"',
    );
  });

  it('rejects out-of-range numbers with the bound and the value', () => {
    expect(() => resolveConfig('twn', defaults, { delta: 0 }, rules)).toThrow(
      'twn: option "delta" must be > 0, got 0',
    );
    expect(() => resolveConfig('twn', defaults, { delta: 1.5 }, rules)).toThrow(
      'twn: option "delta" must be <= 1, got 1.5',
    );
    expect(() => resolveConfig('twn', defaults, { delta: Number.NaN }, rules)).toThrow(
      'twn: option "delta" must be a finite number, got NaN',
    );
  });

  it('rejects a value outside an enumeration', () => {
    expect(() => resolveConfig('ttq', defaults, { init: 'zero' }, rules)).toThrow(
      'ttq: option "init" must be one of "one", "mean", got "zero"',
    );
  });
});

describe('checkNumber', () => {
  it('checks integers and exclusive bounds', () => {
    expect(() => checkNumber('hla', 'tau', 2.5, { integer: true })).toThrow(
      'hla: option "tau" must be an integer, got 2.5',
    );
    expect(() => checkNumber('hla', 'tau', 3, { max: 3, exclusiveMax: true })).toThrow(
      'must be < 3, got 3',
    );
    expect(() => checkNumber('hla', 'tau', 3, { min: 0, max: 3 })).not.toThrow();
  });
});

describe('assertFiniteKernel', () => {
  it('passes finite kernels and names the first bad value and its index', () => {
    expect(() => assertFiniteKernel(tf.tensor1d([0, 1, -2]), 'twn')).not.toThrow();
    expect(() => assertFiniteKernel(tf.tensor1d([0, Number.NaN, 1]), 'twn')).toThrow(
      'twn: the kernel (shape [3]) contains NaN at flat index 1',
    );
    expect(() =>
      assertFiniteKernel(
        tf.tensor2d([
          [0, 1],
          [Number.POSITIVE_INFINITY, 1],
        ]),
        'ttq',
      ),
    ).toThrow('ttq: the kernel (shape [2, 2]) contains Infinity at flat index 2');
  });
});
