/**
 * The README's end-to-end example (examples/usage.ts): shown verbatim, and
 * it runs: quantize, train, export, save, load with the runtime, and the
 * runtime's output is tfjs's.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { maxAbsDiff } from '@trit/quant-core/testing';
import { describe, expect, it, vi } from 'vitest';
import { usage } from '../examples/usage.js';

const exampleSource = readFileSync(new URL('../examples/usage.ts', import.meta.url), 'utf8');
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README example (examples/usage.ts)', () => {
  it('is shown verbatim in the README', () => {
    expect(readme).toContain(`\`\`\`ts\n${exampleSource.trimEnd()}\n\`\`\``);
  });

  it('runs end to end; the saved model gives tfjs predict within 1e-5', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trit-export-readme-'));
    const logged: unknown[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((v: unknown) => {
      logged.push(v);
    });
    try {
      const { model, exported, probs, image } = await usage(dir);
      expect(readdirSync(dir).sort()).toEqual(['model.bin', 'model.json']);
      expect(exported.warnings).toEqual([]);
      // The first conv stays float32 with its BatchNorm and ReLU folded/fused; the others are TWN.
      const ops = exported.manifest.ops;
      expect(ops.map((o) => o.op)).toEqual([
        'input',
        'conv2d',
        'conv2d',
        'maxPool',
        'flatten',
        'dense',
        'dense',
      ]);
      expect(ops[1]!.fused?.length).toBe(2);
      const kernels = ops.flatMap((o) =>
        o.op === 'conv2d' || o.op === 'dense' ? [o.kernel.encoding] : [],
      );
      expect(kernels).toEqual(['float32', 'ternary', 'ternary', 'float32']);
      const ref = tf.tidy(
        () =>
          (model.predict(tf.tensor4d(image, [1, 8, 8, 1])) as tf.Tensor).dataSync() as Float32Array,
      );
      expect(probs.shape).toEqual([1, 2]);
      expect(maxAbsDiff(probs.data, ref)).toBeLessThan(1e-5);
      expect(logged).toHaveLength(2);
      expect(logged[1]).toEqual(probs.data);
    } finally {
      spy.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
