import '@trit/ttq';
import '@trit/smart-quant';
import { describe, expect, it } from 'vitest';
import { parseMethod, resolveMethod } from '../src/bench/method-spec.js';
import { runDirName } from '../src/bench/run.js';

describe('parseMethod', () => {
  it('a plain quantizer name has no options', () => {
    expect(parseMethod('ttq')).toEqual({ label: 'ttq', quantizer: 'ttq', options: {} });
  });

  it('options after colons: numbers, booleans and strings', () => {
    expect(parseMethod('sq:lambda=0.001:gamma=2:binaryMargin=1e-2')).toEqual({
      label: 'sq:lambda=0.001:gamma=2:binaryMargin=1e-2',
      quantizer: 'sq',
      options: { lambda: 0.001, gamma: 2, binaryMargin: 0.01 },
    });
    expect(parseMethod('ttq:init=mean').options).toEqual({ init: 'mean' });
    expect(parseMethod('x:a=true:b=false:c=-3:d=1x').options).toEqual({
      a: true,
      b: false,
      c: -3,
      d: '1x',
    });
  });

  it('malformed labels are errors naming the label and the part', () => {
    expect(() => parseMethod(':init=mean')).toThrow(
      'method ":init=mean": no quantizer name before the options',
    );
    expect(() => parseMethod('ttq:init')).toThrow(
      'method "ttq:init": option "init" is not key=value (write e.g. ttq:threshold=0.1)',
    );
    expect(() => parseMethod('ttq:init=')).toThrow('option "init=" is not key=value');
    expect(() => parseMethod('ttq:=mean')).toThrow('option "=mean" is not key=value');
    expect(() => parseMethod('ttq:')).toThrow('option "" is not key=value');
    expect(() => parseMethod('ttq:init=mean:init=one')).toThrow(
      'method "ttq:init=mean:init=one": option "init" is given twice',
    );
  });
});

describe('resolveMethod', () => {
  const preset = { quantizerConfigs: { sq: { lambda: 0.5, gamma: 3 } } };

  it("the label's options override the preset's config of that quantizer", () => {
    expect(resolveMethod('sq:gamma=1', preset)).toEqual({
      spec: { label: 'sq:gamma=1', quantizer: 'sq', options: { gamma: 1 } },
      config: { lambda: 0.5, gamma: 1 },
    });
    expect(resolveMethod('ttq', preset).config).toEqual({});
  });

  it("unknown quantizers and the quantizer's own option errors, prefixed with the method", () => {
    expect(() => resolveMethod('nope:x=1', preset)).toThrow(
      /^unknown quantizer "nope"; registered: /,
    );
    expect(() => resolveMethod('ttq:inti=mean', preset)).toThrow(
      'method "ttq:inti=mean": ttq: unknown option "inti"; valid options: threshold, init',
    );
    expect(() => resolveMethod('ttq:threshold=2', preset)).toThrow(
      'method "ttq:threshold=2": ttq: option "threshold" must be < 1, got 2',
    );
    expect(() => resolveMethod('ttq:init=zero', preset)).toThrow(/^method "ttq:init=zero": ttq: /);
  });
});

describe('runDirName', () => {
  it('plain names unchanged; a variant’s colons become underscores', () => {
    expect(runDirName('ttq', 3)).toBe('ttq-seed3');
    expect(runDirName('ttq:init=mean', 0)).toBe('ttq_init=mean-seed0');
    expect(runDirName('sq:lambda=0.001:gamma=2', 1)).toBe('sq_lambda=0.001_gamma=2-seed1');
  });
});
