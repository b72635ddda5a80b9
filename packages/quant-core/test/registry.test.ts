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

describe('registry input checks', () => {
  it.each([
    ['a number', 5, 'got 5'],
    ['an array', [], 'got an array ([])'],
    ['a string', 'string', 'got "string"'],
    ['null', null, 'got null'],
    ['a Map', new Map(), 'got a Map'],
  ])(
    'getQuantizer(name, %s) is a clear error, not silently the defaults',
    (_label, config, got) => {
      for (const name of ['bwn', 'fp32']) {
        expect(() => getQuantizer(name, config as never)).toThrow(
          `${name}: the config must be an object of options such as { threshold: 0.05 } (or undefined), ${got}`,
        );
      }
    },
  );

  it('direct construction checks the config the same way', () => {
    expect(() => new BWNQuantizer(7 as never)).toThrow('bwn: the config must be an object');
  });

  it('getQuantizer with a name that is not a string names the value and the registered names', () => {
    expect(() => getQuantizer(5 as never)).toThrow(
      /^getQuantizer: the name must be a registry name such as "ttq", got 5; registered: .*bwn/,
    );
  });

  it('registerQuantizer refuses a factory that is not a function, at registration', () => {
    expect(() =>
      registerQuantizer({ name: 'not-a-factory', description: 'x' }, 5 as never),
    ).toThrow(
      'registerQuantizer: "not-a-factory": the factory must be a function (config) => Quantizer, got 5',
    );
    expect(listQuantizers()).not.toContain('not-a-factory');
    expect(() =>
      registerQuantizer({ name: 'obj-factory', description: 'x' }, new FP32Quantizer() as never),
    ).toThrow('the factory must be a function (config) => Quantizer, got a FP32Quantizer');
  });

  it('registerQuantizer refuses info that is not { name, description, paper? }', () => {
    expect(() => registerQuantizer(null as never, () => new FP32Quantizer())).toThrow(
      'registerQuantizer: info must be { name, description, paper? }, got null',
    );
    expect(() => registerQuantizer({ name: 7 } as never, () => new FP32Quantizer())).toThrow(
      'registerQuantizer: invalid name 7',
    );
    expect(() =>
      registerQuantizer({ name: 'no-description' } as never, () => new FP32Quantizer()),
    ).toThrow('registerQuantizer: "no-description": description must be a string, got undefined');
    expect(() =>
      registerQuantizer(
        { name: 'bad-paper', description: 'x', paper: 3 } as never,
        () => new FP32Quantizer(),
      ),
    ).toThrow('registerQuantizer: "bad-paper": paper must be a string when given, got 3');
  });
});
