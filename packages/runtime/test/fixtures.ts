import type { GraphSpec } from '../src/index.js';
import { floatKernel, quantKernel, rng, uniform } from './helpers.js';

/**
 * A small graph with every kind of tensor: a float conv, a ternary
 * asymmetric conv with a BatchNorm to fold, a binary 1x1 conv, a residual
 * add, a global pool and a per-channel ternary dense with softmax.
 */
export function smallGraph(seed = 1): GraphSpec {
  const rand = rng(seed);
  return {
    ops: [
      { op: 'input', name: 'image', shape: [6, 6, 3] },
      {
        op: 'conv2d',
        name: 'conv1',
        inputs: ['image'],
        kernel: floatKernel(rand, [3, 3, 3, 8]),
        bias: uniform(rand, 8),
        padding: 'same',
        activation: 'relu',
      },
      {
        op: 'conv2d',
        name: 'conv2',
        inputs: ['conv1'],
        kernel: quantKernel(rand, [3, 3, 8, 8], { asymmetric: true }),
        quantizer: 'ttq',
        padding: 'same',
      },
      {
        op: 'batchNorm',
        name: 'bn2',
        inputs: ['conv2'],
        mean: uniform(rand, 8),
        variance: uniform(rand, 8, 0.5, 1.5),
        gamma: uniform(rand, 8, 0.5, 1.5),
        beta: uniform(rand, 8),
      },
      { op: 'relu', name: 'relu2', inputs: ['bn2'] },
      {
        op: 'conv2d',
        name: 'conv3',
        inputs: ['relu2'],
        kernel: quantKernel(rand, [1, 1, 8, 8], { bits: 1 }),
        quantizer: 'bwn',
      },
      { op: 'add', name: 'add', inputs: ['conv3', 'conv1'] },
      { op: 'relu', name: 'relu3', inputs: ['add'] },
      { op: 'globalAvgPool', name: 'gap', inputs: ['relu3'] },
      {
        op: 'dense',
        name: 'fc',
        inputs: ['gap'],
        kernel: quantKernel(rand, [8, 5], { scales: 'channel' }),
        quantizer: 'twn',
        bias: uniform(rand, 5),
      },
      { op: 'softmax', name: 'probs', inputs: ['fc'] },
    ],
    metadata: { dataset: 'none', note: 'test fixture' },
  };
}
