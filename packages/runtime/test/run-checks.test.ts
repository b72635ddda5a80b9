/**
 * What `run`/`predict` accept and what they refuse before computing (null,
 * arrays of the wrong type, NaN inputs), Float64Array input, and results that
 * are not finite (weights overflowing float32): an error naming the op.
 */
import { describe, expect, it } from 'vitest';
import {
  decodeModel,
  encodeModel,
  type GraphSpec,
  TritFormatError,
  type TritModel,
} from '../src/index.js';
import { smallGraph } from './fixtures.js';
import { rng, uniform } from './helpers.js';

function failure(fn: () => unknown): TritFormatError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TritFormatError);
    return e as TritFormatError;
  }
  throw new Error('expected a TritFormatError, but the call succeeded');
}

const small = (() => {
  const { manifest, binary } = encodeModel(smallGraph());
  return decodeModel(manifest, binary);
})();
const x = uniform(rng(2), 2 * 6 * 6 * 3);

describe('feeds are checked before any compute', () => {
  it.each([
    [
      'null',
      null,
      /^feeds must be a Float32Array, \{ shape, data \} or an object of input name -> tensor, got null$/,
    ],
    ['undefined', undefined, /got undefined undefined$/],
    ['a number', 5, /got number 5$/],
    ['a string', 'image', /got string image$/],
    ['a plain array', [0.1, 0.2], /got an array$/],
  ])('predict(%s) is a clear bad-input error', (_label, feeds, message) => {
    const e = failure(() => small.predict(feeds as never));
    expect(e.code).toBe('bad-input');
    expect(e.message).toMatch(message);
  });

  it('refuses typed arrays other than float32/float64, saying what to do', () => {
    for (const data of [new Uint8Array(108), new Int32Array(108), new Float32Array(108).buffer]) {
      const e = failure(() => small.predict(data as never));
      expect(e.code).toBe('bad-input');
    }
    expect(failure(() => small.predict(new Uint8Array(108) as never)).message).toBe(
      'input "image": data must be a Float32Array (or a Float64Array, converted to float32), got a Uint8Array; ' +
        'convert it, with the preprocessing the model expects',
    );
    expect(
      failure(() => small.predict({ shape: [1, 6, 6, 3], data: Array(108).fill(0) } as never))
        .message,
    ).toBe(
      'input "image": data must be a Float32Array (or a Float64Array, converted to float32), got an array',
    );
    expect(failure(() => small.run({ image: null } as never)).message).toBe(
      'input "image": data must be a Float32Array (or a Float64Array, converted to float32), got null',
    );
  });

  it('accepts a Float64Array, converted to float32: the same result as the rounded Float32Array', () => {
    const x64 = Float64Array.from(x, (v, i) => v + 1e-12 * i); // below float32 resolution
    const expected = small.predict(x).data;
    expect([...small.predict(x64).data]).toEqual([...expected]);
    expect([...small.predict({ shape: [2, 6, 6, 3], data: x64 }).data]).toEqual([...expected]);
    expect([...small.run({ image: x64 }).probs!.data]).toEqual([...expected]);
  });

  it('refuses NaN and ±Infinity inputs, and float64 values beyond float32, naming input, index and sample', () => {
    const bad = x.slice();
    bad[150] = Number.NaN;
    const e = failure(() => small.predict(bad));
    expect(e.code).toBe('non-finite');
    expect(e.message).toBe('input "image" holds NaN at index 150 (sample 1)');
    const big = Float64Array.from(x);
    big[3] = 1e39;
    expect(failure(() => small.predict(big)).message).toBe(
      `input "image" holds Infinity at index 3 (sample 0): 1e+39 is beyond float32's range`,
    );
  });

  it('checks the outputs argument', () => {
    for (const outputs of ['probs', [], [1], null]) {
      const e = failure(() => small.run(x, outputs as never));
      expect(e.code).toBe('bad-input');
      expect(e.message).toMatch(/^outputs must be a non-empty array of op names, got /);
    }
  });

  it('an object of feeds by name still names an unknown input and a bad shape', () => {
    expect(failure(() => small.run({ img: x })).message).toBe(
      'feed "img" is not an input of the model (inputs: image)',
    );
    expect(
      failure(() => small.predict({ shape: [2, 6, 6, -3], data: x } as never)).message,
    ).toMatch(/^input "image": shape must be an array of non-negative integers/);
  });
});

describe('results that are not finite are errors naming the op', () => {
  /** input [4] -> dense fc1 (ternary, scale `scale`) -> relu -> dense fc2 (float) -> softmax. */
  function scaled(scale: number): TritModel {
    const graph: GraphSpec = {
      ops: [
        { op: 'input', name: 'x', shape: [4] },
        {
          op: 'dense',
          name: 'fc1',
          inputs: ['x'],
          kernel: {
            bits: 2,
            shape: [4, 3],
            codes: Int8Array.from([1, -1, 0, 1, 1, -1, 0, 1, 1, -1, 0, 1]),
            positive: new Float32Array([scale]),
            negative: new Float32Array([scale]),
          },
          quantizer: 'twn',
        },
        { op: 'relu', name: 'relu1', inputs: ['fc1'] },
        {
          op: 'dense',
          name: 'fc2',
          inputs: ['relu1'],
          kernel: { shape: [3, 2], values: new Float32Array([1, -1, 2, 0.5, -0.5, 1]) },
        },
        { op: 'softmax', name: 'probs', inputs: ['fc2'] },
      ],
    };
    const { manifest, binary } = encodeModel(graph);
    return decodeModel(manifest, binary);
  }

  it('a scale of 3e38 (a valid float32) overflows: an error naming the first op, not NaN probabilities', () => {
    const ok = scaled(0.5).predict(new Float32Array([1, 2, 3, 4]));
    expect(ok.data.every(Number.isFinite)).toBe(true);
    const model = scaled(3e38);
    // Sample 0 stays finite; sample 1 overflows in fc1 (1·3e38 + 2·3e38 ...).
    const input = new Float32Array([0, 0, 0, 1e-38, 1, 2, 3, 4]);
    const e = failure(() => model.predict(input));
    expect(e.code).toBe('non-finite');
    expect(e.message).toMatch(
      /^output "probs" holds NaN at index 2 \(sample 1\): op "fc1" \(dense, with relu1 fused in\) produced (-?)Infinity at index \d of its output from finite inputs; its weights overflow float32/,
    );
  });

  it('the same for intermediate outputs asked for by name', () => {
    const e = failure(() => scaled(3e38).run(new Float32Array([1, 2, 3, 4]), ['fc1']));
    expect(e.message).toMatch(/^output "fc1" holds Infinity at index \d \(sample 0\): op "fc1"/);
  });
});
