/**
 * The README's usage example, run as written (the test checks the README
 * still contains this exact code), and docs/format.md's example manifest,
 * regenerated from its graph.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeModel, encodeModel, type GraphSpec } from '../src/index.js';

const root = join(import.meta.dirname, '..');

describe('README usage example', () => {
  it('runs and gives the hand-computed outputs', () => {
    // --- begin README example ---
    // A 4 -> 3 TTQ-style dense layer. The kernel is what a quantizer's
    // exportTernary() returns: codes (row-major [in, out]) and the magnitudes of
    // the +1 and -1 levels (here per layer, Wp = 0.5, Wn = 0.25).
    const graph: GraphSpec = {
      ops: [
        { op: 'input', name: 'x', shape: [4] },
        {
          op: 'dense',
          name: 'fc',
          inputs: ['x'],
          quantizer: 'ttq',
          kernel: {
            bits: 2,
            shape: [4, 3],
            codes: Int8Array.from([1, 0, -1, 0, 1, 1, -1, -1, 0, 0, 0, 1]),
            positive: Float32Array.of(0.5),
            negative: Float32Array.of(0.25),
          },
          bias: Float32Array.of(0.1, 0, -0.1),
          activation: 'relu',
        },
      ],
    };
    const { manifest, binary } = encodeModel(graph); // manifest: JSON-able object; binary: Uint8Array
    const model = decodeModel(manifest, binary);
    const y = model.predict(Float32Array.of(1, 2, 3, 4));
    // --- end README example ---
    expect(y.shape).toEqual([1, 3]);
    // o0: 0.5*1 - 0.25*3 + 0.1 = -0.15 -> relu 0; o1: 0.5*2 - 0.25*3 = 0.25; o2: 0.5*(2+4) - 0.25*1 - 0.1 = 2.65
    expect(y.data[0]).toBe(0);
    expect(y.data[1]).toBeCloseTo(0.25, 6);
    expect(y.data[2]).toBeCloseTo(2.65, 6);
  });

  it('is the code in README.md', async () => {
    const readme = await readFile(join(root, 'README.md'), 'utf8');
    const self = await readFile(join(root, 'test', 'readme.test.ts'), 'utf8');
    const example = self
      .slice(
        self.indexOf('// --- begin README example ---\n') + 32,
        self.indexOf('    // --- end README example ---'),
      )
      .split('\n')
      .map((l) => l.slice(4))
      .join('\n')
      .trim();
    expect(example.length).toBeGreaterThan(500);
    expect(readme).toContain(example);
  });
});

describe('docs/format.md example', () => {
  it('is what encodeModel writes for its graph', async () => {
    const doc = await readFile(join(root, '..', '..', 'docs', 'format.md'), 'utf8');
    const section = doc.slice(doc.indexOf('## Example'));
    const json = section.slice(
      section.indexOf('```json') + 7,
      section.indexOf('```', section.indexOf('```json') + 7),
    );
    const graph: GraphSpec = {
      ops: [
        { op: 'input', name: 'image', shape: [8, 8, 3] },
        {
          op: 'conv2d',
          name: 'conv1',
          inputs: ['image'],
          kernel: { shape: [3, 3, 3, 16], values: new Float32Array(432).fill(0.01) },
          padding: 'same',
        },
        {
          op: 'batchNorm',
          name: 'bn1',
          inputs: ['conv1'],
          mean: new Float32Array(16),
          variance: new Float32Array(16).fill(1),
        },
        { op: 'relu', name: 'relu1', inputs: ['bn1'] },
        {
          op: 'conv2d',
          name: 'conv2',
          inputs: ['relu1'],
          kernel: {
            bits: 2,
            shape: [3, 3, 16, 16],
            codes: new Int8Array(2304),
            positive: Float32Array.of(0.2),
            negative: Float32Array.of(0.3),
          },
          quantizer: 'ttq',
          padding: 'same',
        },
        {
          op: 'batchNorm',
          name: 'bn2',
          inputs: ['conv2'],
          mean: new Float32Array(16),
          variance: new Float32Array(16).fill(1),
        },
        { op: 'relu', name: 'relu2', inputs: ['bn2'] },
        { op: 'globalAvgPool', name: 'gap', inputs: ['relu2'] },
        {
          op: 'dense',
          name: 'fc',
          inputs: ['gap'],
          kernel: { shape: [16, 10], values: new Float32Array(160) },
          bias: new Float32Array(10),
        },
        { op: 'softmax', name: 'probs', inputs: ['fc'] },
      ],
      metadata: { dataset: 'cifar10' },
    };
    expect(JSON.parse(JSON.stringify(encodeModel(graph).manifest))).toEqual(JSON.parse(json));
  });
});
