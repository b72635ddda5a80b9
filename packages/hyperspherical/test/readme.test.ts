import { readFileSync } from 'node:fs';
import { dequantizeExport } from '@trit/quant-core';
import { describe, expect, it } from 'vitest';
import { readmeExample } from './readme-example.js';

const between = (text: string, start: string, end: string) => {
  const i = text.indexOf(start);
  const j = text.indexOf(end, i);
  if (i < 0 || j < 0) throw new Error(`markers ${start} ... ${end} not found`);
  return text.slice(i + start.length, j).trim();
};

describe('README', () => {
  it('shows exactly the usage example the tests run (with the package import)', () => {
    const example = between(
      readFileSync(new URL('./readme-example.ts', import.meta.url), 'utf8'),
      '// README-EXAMPLE-START',
      '// README-EXAMPLE-END',
    ).replace("from '../src/index.js'", "from '@trit/hyperspherical'");
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(between(readme, '<!-- example:start -->\n```ts', '```\n<!-- example:end -->')).toBe(
      example,
    );
  });

  it('runs the usage example: it ends in phase 2 with an exportable ternary kernel', () => {
    const { state, stats, exported: maybeExported } = readmeExample();
    const exported = maybeExported!;
    // Last step: f = 19/20 = 0.95 -> phase 2, λ = 1, τ = 2 + 2 · 0.45 / 0.5 = 3.8
    expect(state.phase).toBe(2);
    expect(state.lambda).toBe(1);
    expect(state.tau).toBeCloseTo(3.8, 10);
    expect(stats.extra).toMatchObject({ phase: 2, lambda: 1 });
    expect(stats.extra!.cosine).toBeGreaterThan(0);
    expect(stats.extra!.cosine).toBeLessThanOrEqual(1);
    expect(exported.shape).toEqual([3, 3, 8, 16]);
    expect(new Set(exported.codes)).toEqual(new Set([-1, 0, 1]));
    const alpha = stats.scales.alpha as number;
    expect(alpha).toBeGreaterThan(0);
    expect(exported.positive[0]).toBeCloseTo(alpha, 6);
    expect(new Set(dequantizeExport(exported)).size).toBe(3);
  });
});
