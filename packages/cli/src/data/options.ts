import { RESIZE_FITS, type ResizePolicy } from './decode.js';
import { DatasetError } from './errors.js';
import type { PerClass } from './presets.js';

/** Throws `BAD_OPTION` for keys of `given` not in `allowed`. */
export function checkKeys(owner: string, given: object, allowed: readonly string[]): void {
  for (const key of Object.keys(given)) {
    if (!allowed.includes(key)) {
      throw new DatasetError(
        'BAD_OPTION',
        `${owner}: unknown option "${key}"; valid options: ${allowed.join(', ')}`,
      );
    }
  }
}

export function checkPositiveInt(owner: string, field: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new DatasetError(
      'BAD_OPTION',
      `${owner}: option "${field}" must be a positive integer, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

export function checkEnum<T extends string>(
  owner: string,
  field: string,
  value: unknown,
  allowed: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T)) {
    throw new DatasetError(
      'BAD_OPTION',
      `${owner}: option "${field}" must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${JSON.stringify(value)}`,
    );
  }
  return value as T;
}

/** Normalizes a {@link PerClass} option to per-split counts. */
export function resolvePerClass(
  owner: string,
  value: PerClass | undefined,
): { train: number | undefined; test: number | undefined } {
  if (value === undefined) return { train: undefined, test: undefined };
  if (typeof value === 'number') {
    const n = checkPositiveInt(owner, 'perClass', value);
    return { train: n, test: n };
  }
  if (typeof value !== 'object' || value === null) {
    throw new DatasetError(
      'BAD_OPTION',
      `${owner}: option "perClass" must be a positive integer or { train?, test? }, got ${JSON.stringify(value)}`,
    );
  }
  checkKeys(`${owner}: perClass`, value, ['train', 'test']);
  return {
    train: checkPositiveInt(owner, 'perClass.train', value.train),
    test: checkPositiveInt(owner, 'perClass.test', value.test),
  };
}

export function checkResize(owner: string, value: unknown): ResizePolicy | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) {
    throw new DatasetError(
      'BAD_OPTION',
      `${owner}: option "resize" must be { width, height, fit? }, got ${JSON.stringify(value)}`,
    );
  }
  checkKeys(`${owner}: resize`, value, ['width', 'height', 'fit']);
  const r = value as ResizePolicy;
  const width = checkPositiveInt(owner, 'resize.width', r.width);
  const height = checkPositiveInt(owner, 'resize.height', r.height);
  if (width === undefined || height === undefined) {
    throw new DatasetError('BAD_OPTION', `${owner}: option "resize" needs both width and height`);
  }
  const fit = checkEnum(owner, 'resize.fit', r.fit, RESIZE_FITS) ?? 'cover';
  return { width, height, fit };
}

/** Parses `--per-class` text: `N` or `train=N,test=M`. */
export function parsePerClass(text: string): PerClass {
  if (/^\d+$/.test(text.trim())) return Number(text);
  const out: { train?: number; test?: number } = {};
  for (const part of text.split(',')) {
    const m = /^\s*(train|test)\s*=\s*(\d+)\s*$/.exec(part);
    if (!m) {
      throw new DatasetError(
        'BAD_OPTION',
        `invalid per-class value ${JSON.stringify(text)}: use N or train=N,test=M`,
      );
    }
    out[m[1] as 'train' | 'test'] = Number(m[2]);
  }
  return out;
}

/** Parses `--resize` text: `WxH` (e.g. `64x64`). */
export function parseSize(text: string): { width: number; height: number } {
  const m = /^\s*(\d+)\s*[xX]\s*(\d+)\s*$/.exec(text);
  if (!m)
    throw new DatasetError(
      'BAD_OPTION',
      `invalid size ${JSON.stringify(text)}: use WIDTHxHEIGHT, e.g. 64x64`,
    );
  return { width: Number(m[1]), height: Number(m[2]) };
}
