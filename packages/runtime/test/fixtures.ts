import type { GraphSpec, OpSpec } from '../src/index.js';
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

/**
 * A CIFAR-style ResNet in small: float stem, ternary TTQ convs with folded
 * BatchNorms, a strided stage with an option-A shortcut, a binary conv, a
 * dense head. Big enough (16x16, 32 channels) for layers over the
 * worker-thread threshold.
 */
export function resnetish(seed: number): GraphSpec {
  const rand = rng(seed);
  const bn = (name: string, input: string, c: number): OpSpec => ({
    op: 'batchNorm',
    name,
    inputs: [input],
    mean: uniform(rand, c, -0.1, 0.1),
    variance: uniform(rand, c, 0.5, 1.5),
    gamma: uniform(rand, c, 0.8, 1.2),
    beta: uniform(rand, c, -0.1, 0.1),
  });
  return {
    ops: [
      { op: 'input', name: 'image', shape: [16, 16, 3] },
      {
        op: 'conv2d',
        name: 'stem',
        inputs: ['image'],
        kernel: floatKernel(rand, [3, 3, 3, 32]),
        padding: 'same',
        activation: 'relu',
      },
      {
        op: 'conv2d',
        name: 'c1',
        inputs: ['stem'],
        kernel: quantKernel(rand, [3, 3, 32, 32], { asymmetric: true }),
        padding: 'same',
      },
      bn('bn1', 'c1', 32),
      { op: 'relu', name: 'r1', inputs: ['bn1'] },
      {
        op: 'conv2d',
        name: 'c2',
        inputs: ['r1'],
        kernel: quantKernel(rand, [3, 3, 32, 32], { scales: 'channel' }),
        padding: 'same',
      },
      { op: 'add', name: 'sum1', inputs: ['c2', 'stem'] },
      { op: 'relu', name: 'add1', inputs: ['sum1'] },
      {
        op: 'conv2d',
        name: 'down',
        inputs: ['add1'],
        kernel: quantKernel(rand, [3, 3, 32, 48], { asymmetric: true }),
        strides: 2,
        padding: 'same',
        activation: 'relu',
      },
      {
        op: 'conv2d',
        name: 'bin',
        inputs: ['down'],
        kernel: quantKernel(rand, [3, 3, 48, 48], { bits: 1 }),
        padding: 'same',
      },
      { op: 'subsample', name: 'sub', inputs: ['add1'], strides: 2 },
      { op: 'zeroPad', name: 'pad', inputs: ['sub'], channels: [8, 8] },
      { op: 'add', name: 'sum2', inputs: ['bin', 'pad'] },
      { op: 'relu', name: 'add2', inputs: ['sum2'] },
      { op: 'globalAvgPool', name: 'gap', inputs: ['add2'] },
      {
        op: 'dense',
        name: 'fc',
        inputs: ['gap'],
        kernel: quantKernel(rand, [48, 10], { asymmetric: true }),
        bias: uniform(rand, 10),
      },
    ],
  };
}
