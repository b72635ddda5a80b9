// runBench in a long-lived process (a notebook, a server, a test runner): sweeps must not accumulate tensors.
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { type BackendInfo, initBackend } from '@trit/quant-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBench } from '../src/bench/run.js';
import { removeDir, smokeStudy, tempDir } from './bench-support.js';

let backend: BackendInfo;
let work: string;
beforeAll(async () => {
  backend = await initBackend({ quiet: true });
  work = tempDir('trit-bench-memory-');
});
afterAll(() => {
  removeDir(work);
  tf.disposeVariables();
});

describe('runBench memory', () => {
  it('two smoke sweeps of every method in one process leave as many tensors as there were before', async () => {
    const sweep = (name: string) =>
      runBench({
        study: smokeStudy({
          methods: ['fp32', 'bwn', 'twn', 'ttq', 'sq', 'hla'],
          pretrainEpochs: 1,
          epochs: 1,
        }),
        outDir: path.join(work, name),
        backend,
        progress: false,
        log: () => {},
      });
    const before = tf.memory().numTensors;
    const first = await sweep('first');
    const afterFirst = tf.memory().numTensors;
    const second = await sweep('second');
    const afterSecond = tf.memory().numTensors;
    expect(first.map((r) => r.method)).toEqual(['fp32', 'bwn', 'twn', 'ttq', 'sq', 'hla']);
    expect(second.map((r) => r.finalTestAccuracy)).toEqual(first.map((r) => r.finalTestAccuracy));
    expect({ afterFirst, afterSecond }).toEqual({ afterFirst: before, afterSecond: before });
  });
});
