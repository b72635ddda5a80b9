import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { testBackends } from '@trit/quant-core/testing';
import { describe, expect, it, vi } from 'vitest';
import { expectClose, rel } from './helpers.js';

const exampleSource = readFileSync(new URL('../examples/usage.ts', import.meta.url), 'utf8');
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README usage example (examples/usage.ts)', () => {
  it('is shown verbatim in the README', () => {
    expect(readme).toContain('```ts\n' + exampleSource.trimEnd() + '\n```');
  });

  it('runs and prints the values its comments state', async () => {
    await testBackends(); // the native backend when it loads, as a user would have
    const before = tf.memory().numTensors;
    const logged: unknown[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((value: unknown) => {
      logged.push(value);
    });
    try {
      await import('../examples/usage.js');
    } finally {
      spy.mockRestore();
    }
    expect(logged).toHaveLength(7);
    const [q, grad, alpha, codes, dequantized, loss, latent] = logged as [
      number[],
      number[],
      number[],
      number[],
      number[],
      number,
      number[][],
    ];
    // 1. mean|W| = 2.29 / 6, Δ = 0.26716667, α = 2.2 / 3
    expectClose(q, [-0.73333333, 0, 0, 0, 0.73333333, 0.73333333], rel(1e-6));
    // 2. identity STE
    expectClose(grad, [1, 2, 3, 4, 5, 6], rel(0));
    // 3. δ = 0.75 per channel: column 0 Δ = 0.225 -> α0 = 0.6; column 1 Δ = 0.875 -> α1 = 1.5
    expectClose(alpha, [0.6, 1.5], rel(1e-6));
    expect(codes).toEqual([1, -1, 0, 1, 0, 0]);
    expectClose(dequantized, [0.6, -1.5, 0, 1.5, 0, 0], rel(1e-6));
    // 4. latent [[0.5, -0.2], [0.1, 0.9]]: mean|W| = 1.7 / 4 = 0.425, Δ = 0.2975
    //    -> kept 0.5, 0.9 -> α = 0.7 -> Q = [[0.7, 0], [0, 0.7]]; X = I so prediction = Q
    //    loss = ((0.7 − 1)² + 0 + 0 + (0.7 − 1)²) / 4 = 0.18 / 4 = 0.045
    //    dL/dQ = 2 (Q − Y) / 4 = [[-0.15, 0], [0, -0.15]] = dL/dW (identity STE)
    //    SGD, lr 0.1: W − 0.1 · dL/dW = [[0.515, -0.2], [0.1, 0.915]]
    expectClose([loss], [0.045], rel(1e-6));
    expectClose(latent.flat(), [0.515, -0.2, 0.1, 0.915], rel(1e-6));
    // the example cleans up after itself
    expect(tf.memory().numTensors).toBe(before);
  });
});
