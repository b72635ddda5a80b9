import { readFileSync } from 'node:fs';
import { testBackends } from '@trit/quant-core/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';

await testBackends();

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const example = readFileSync(new URL('./readme-example.ts', import.meta.url), 'utf8');

describe('README', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('shows the usage example this test runs, verbatim', () => {
    const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    expect(block).toBe(example.replace("'../src/index.js'", "'@trit/smart-quant'"));
  });

  it('the usage example runs and prints a consistent layer report', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    await import('./readme-example.js');
    const [precision, extra] = log.mock.calls[0]! as [number, Record<string, number>];
    expect([1, 2]).toContain(precision);
    expect(extra.bits).toBe(precision);
    expect(extra.beta).toBeGreaterThanOrEqual(Math.fround(Math.PI / 4));
    expect(extra.beta).toBeLessThanOrEqual(Math.fround(Math.PI / 2 - 1e-4));
    // β moved from its init 3π/8 under the regularizer
    expect(Math.abs(extra.beta! - (3 * Math.PI) / 8)).toBeGreaterThan(0.05);
    const report = log.mock.calls[1]![0] as {
      weights: number;
      bits: number;
      allTernaryBits: number;
    };
    expect(report.weights).toBe(3 * 3 * 16 * 32);
    expect(report.bits).toBe(4608 * precision);
    expect(report.allTernaryBits).toBe(4608 * 2);
    expect(log.mock.calls[2]).toEqual([precision, 4608]);
  });
});
