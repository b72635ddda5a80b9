import { describe, expect, it } from 'vitest';
import {
  BWNQuantizer,
  FP32Quantizer,
  getQuantizer,
  listQuantizers,
  quantizerInfo,
  registerQuantizer,
} from '../src/index.js';

describe('registry', () => {
  it('has the baselines registered on import', () => {
    expect(listQuantizers()).toEqual(expect.arrayContaining(['fp32', 'bwn']));
    expect(getQuantizer('bwn')).toBeInstanceOf(BWNQuantizer);
    expect(getQuantizer('fp32')).toBeInstanceOf(FP32Quantizer);
  });

  it('makes a new instance per call (one per layer)', () => {
    expect(getQuantizer('bwn')).not.toBe(getQuantizer('bwn'));
  });

  it('rejects an unknown name and lists the registered ones', () => {
    expect(() => getQuantizer('tnn')).toThrow(
      /unknown quantizer "tnn"; registered: .*fp32.*bwn|unknown quantizer "tnn"; registered: .*bwn.*fp32/,
    );
    expect(() => getQuantizer('tnn')).toThrow(/import "@trit\/ttq"/);
    expect(() => quantizerInfo('tnn')).toThrow('unknown quantizer "tnn"');
  });

  it('rejects registering a different quantizer under a taken name', () => {
    expect(() =>
      registerQuantizer({ name: 'bwn', description: 'impostor' }, () => new BWNQuantizer()),
    ).toThrow('a different quantizer is already registered as "bwn"');
  });

  it('accepts re-registering the same factory (a module evaluated twice)', () => {
    const factory = () => new FP32Quantizer();
    registerQuantizer({ name: 'twice', description: 'x' }, factory);
    expect(() => registerQuantizer({ name: 'twice', description: 'x' }, factory)).not.toThrow();
    expect(listQuantizers().filter((n) => n === 'twice')).toHaveLength(1);
  });

  it('rejects names that are not lowercase identifiers', () => {
    for (const name of ['TTQ', '2bit', 'my_quant', '']) {
      expect(() =>
        registerQuantizer({ name, description: 'x' }, () => new FP32Quantizer()),
      ).toThrow(`invalid name "${name}"`);
    }
  });

  it('returns description and paper', () => {
    expect(quantizerInfo('bwn')).toEqual({
      name: 'bwn',
      description: expect.stringContaining('binary'),
      paper: expect.stringContaining('arXiv:1603.05279'),
    });
  });

  it('validates the config through the factory', () => {
    expect(() => getQuantizer('bwn', { delta: 0.7 })).toThrow(
      'bwn: unknown option "delta"; valid options: (none)',
    );
  });
});
