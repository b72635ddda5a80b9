import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const example = readFileSync(new URL('./readme-example.ts', import.meta.url), 'utf8');

describe('README usage example', () => {
  afterEach(() => vi.restoreAllMocks());

  it('is test/readme-example.ts, verbatim', () => {
    const block = /## Usage[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme);
    expect(block, 'README.md needs a ```ts block under "## Usage"').not.toBeNull();
    expect(block![1]).toBe(example);
  });

  it('runs and prints what its comments say', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    await import('./readme-example.js');
    const calls = log.mock.calls;
    expect(calls).toHaveLength(4);
    expect(calls[0]![0]).toEqual([
      [-0.5, 0],
      [0, 0],
      [1.5, 1.5],
    ]);
    expect(calls[1]).toEqual(['1.200', '0.800']);
    const [share, scales, extra] = calls[2]!;
    expect(share).toEqual({ negative: 1 / 6, zero: 3 / 6, positive: 2 / 6 });
    expect(Object.keys(scales)).toEqual(['wp', 'wn']);
    expect(extra).toMatchObject({ wpNegative: 0, wnNegative: 0 });
    expect(Array.from(calls[3]![0] as Int8Array)).toEqual([-1, 0, 0, 0, 1, 1]);
  });
});
