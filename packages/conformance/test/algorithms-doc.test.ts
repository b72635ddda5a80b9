/**
 * docs/algorithms.md agrees with the code: every number of its worked example
 * (the quantized kernel, the gradients to the kernel and to every per-layer
 * parameter, the regularizers) is what the registered quantizers compute.
 */
import '@trit/twn';
import '@trit/ttq';
import '@trit/smart-quant';
import '@trit/hyperspherical';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { getQuantizer, initBackend, type QuantizerConfig } from '@trit/quant-core';
import { beforeAll, describe, expect, it } from 'vitest';

const DOC = new URL('../../../docs/algorithms.md', import.meta.url);
/** A number of the doc, and the place it is rounded to (integers count as exact to 1e-6). */
interface DocNumber {
  readonly value: number;
  readonly unit: number;
}

function docNumber(text: string): DocNumber {
  const value = Number(text);
  if (text === '' || !Number.isFinite(value)) {
    throw new Error(`docs/algorithms.md: "${text}" is not a number`);
  }
  const decimals = text.split('.')[1]?.length ?? 0;
  return { value, unit: 10 ** -Math.max(decimals, 6) };
}

/**
 * How far the code may be from a number of the doc: half a unit of its last
 * printed place (the doc rounds), plus float32 rounding and the difference
 * between the native and the cpu backends (about 1e-7 relative).
 */
function tolerance({ value, unit }: DocNumber): number {
  return unit / 2 + 1.5e-7 * Math.abs(value);
}

/** The rows of the markdown table whose header row starts with `firstHeader`, by first cell. */
function tableRows(markdown: string, firstHeader: string): Map<string, string[]> {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`| ${firstHeader} |`));
  if (start < 0) throw new Error(`docs/algorithms.md: no table with header "${firstHeader}"`);
  const rows = new Map<string, string[]>();
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    rows.set(cells[0]!, cells);
  }
  return rows;
}

/** `[-0.9, 0, 1]` as numbers. */
function numbers(cell: string): DocNumber[] {
  const m = /^\[(.*)\]$/.exec(cell);
  if (!m) throw new Error(`docs/algorithms.md: "${cell}" is not a list of numbers`);
  return m[1]!.split(',').map((s) => docNumber(s.trim()));
}

/** `wp: 11, wn: -1` as `{ wp: 11, wn: -1 }` (empty cell: `{}`). */
function named(cell: string): Record<string, DocNumber> {
  if (cell === '') return {};
  return Object.fromEntries(
    cell.split(',').map((part) => {
      const [name, value] = part.split(':').map((s) => s.trim());
      return [name!, docNumber(value ?? '')];
    }),
  );
}

function expectNumbers(actual: ArrayLike<number>, expected: DocNumber[], what: string): void {
  const values = Array.from(actual);
  expect(values.length, what).toBe(expected.length);
  values.forEach((v, i) => {
    const e = expected[i]!;
    expect(Math.abs(v - e.value), `${what}[${i}]: code ${v}, doc ${e.value}`).toBeLessThanOrEqual(
      tolerance(e),
    );
  });
}

/** The cases of the worked example: row label → quantizer, config and run fraction. */
const CASES: Record<string, { name: string; config: QuantizerConfig; fraction: number }> = {
  fp32: { name: 'fp32', config: {}, fraction: 0 },
  bwn: { name: 'bwn', config: {}, fraction: 0 },
  twn: { name: 'twn', config: {}, fraction: 0 },
  ttq: { name: 'ttq', config: {}, fraction: 0 },
  'ttq init=mean': { name: 'ttq', config: { init: 'mean' }, fraction: 0 },
  sq: { name: 'sq', config: {}, fraction: 0 },
  'hla phase 2': { name: 'hla', config: {}, fraction: 0.75 },
};

/** The regularizer rows: label → quantizer, config and run fraction (HLA's λ = λ_max = 1 in phase 2). */
const REGULARIZER_CASES: typeof CASES = {
  sq: { name: 'sq', config: {}, fraction: 0 },
  'hla λ = 1': { name: 'hla', config: {}, fraction: 0.75 },
};

const doc = readFileSync(DOC, 'utf8');
const W = [-0.9, -0.05, 0, 0.04, 0.3, 1];
const G = [1, 2, 3, 4, 5, 6];

beforeAll(async () => {
  await initBackend({ quiet: true });
});

/** A quantizer at `fraction` of a run, the kernel as a variable and its parameters from their inits. */
function setUp({ name, config, fraction }: (typeof CASES)[string]) {
  const q = getQuantizer(name, config);
  q.onStep({ epoch: Math.round(fraction * 4), epochs: 4, step: 0, stepsPerEpoch: 1 });
  const w = tf.variable(tf.tensor1d(W));
  const params = Object.fromEntries(
    q.paramSpecs().map((s) => [s.name, tf.variable(tf.scalar(s.init(w)))]),
  );
  return { q, w, params };
}

describe('docs/algorithms.md worked example', () => {
  it('states the kernel and the upstream gradient the test uses', () => {
    expect(doc).toContain('`W = [-0.9, -0.05, 0, 0.04, 0.3, 1]`, `g = [1, 2, 3, 4, 5, 6]`');
  });

  const rows = tableRows(doc, 'case | parameters');
  it('has a row for every case and a case for every row', () => {
    expect([...rows.keys()].sort()).toEqual(Object.keys(CASES).sort());
  });

  for (const [label, spec] of Object.entries(CASES)) {
    it(`${label}: Q, ∂L/∂W and the parameter gradients are the code's`, () => {
      const row = rows.get(label);
      if (!row) throw new Error(`docs/algorithms.md: no worked-example row "${label}"`);
      const [, , qCell, dwCell, otherCell] = row;
      const { q, w, params } = setUp(spec);
      const g = tf.tensor1d(G);
      const vars = [w, ...Object.values(params)];
      const { value, grads } = tf.variableGrads(
        () => tf.sum(tf.mul(q.quantize(w, params), g)) as tf.Scalar,
        vars,
      );
      const quantized = q.quantize(w, params);
      expectNumbers(quantized.dataSync(), numbers(qCell!), `${label} Q`);
      expectNumbers(grads[w.name]!.dataSync(), numbers(dwCell!), `${label} ∂L/∂W`);
      const other = named(otherCell!);
      expect(Object.keys(other).sort(), `${label}: gradients listed`).toEqual(
        Object.keys(params).sort(),
      );
      for (const [name, expected] of Object.entries(other)) {
        expectNumbers(grads[params[name]!.name]!.dataSync(), [expected], `${label} ∂L/∂${name}`);
      }
      tf.dispose([value, quantized, g, ...vars, ...Object.values(grads)]);
    });
  }

  const regRows = tableRows(doc, 'case | R');
  it('has a regularizer row for every method with a regularizer', () => {
    expect([...regRows.keys()].sort()).toEqual(Object.keys(REGULARIZER_CASES).sort());
  });

  for (const [label, spec] of Object.entries(REGULARIZER_CASES)) {
    it(`${label}: R and its gradients are the code's`, () => {
      const row = regRows.get(label);
      if (!row) throw new Error(`docs/algorithms.md: no regularizer row "${label}"`);
      const [, rCell, dwCell, otherCell] = row;
      const { q, w, params } = setUp(spec);
      const vars = [w, ...Object.values(params)];
      const { value, grads } = tf.variableGrads(() => q.regularizer(w, params)!, vars);
      expectNumbers(value.dataSync(), [docNumber(rCell!)], `${label} R`);
      expectNumbers(grads[w.name]!.dataSync(), numbers(dwCell!), `${label} ∂R/∂W`);
      for (const [name, expected] of Object.entries(named(otherCell!))) {
        expectNumbers(grads[params[name]!.name]!.dataSync(), [expected], `${label} ∂R/∂${name}`);
      }
      tf.dispose([value, ...vars, ...Object.values(grads)]);
    });
  }
});
