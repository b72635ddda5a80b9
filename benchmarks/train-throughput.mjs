#!/usr/bin/env node
// Training throughput of ResNet-20 with each quantizer, through trit's own
// training loop (quantizer schedules, regularizers, weight decay, clipping,
// NaN checks and all), on random CIFAR-shaped data.
//
//   node benchmarks/train-throughput.mjs [--methods fp32,bwn,twn,ttq,sq,hla] [--batch 128] [--steps 8]
//
// Each method runs 2 epochs of `steps` steps; the first is warm-up, the second
// is timed. Prints images/s and each method's step time relative to FP32.
import '@trit/twn';
import '@trit/ttq';
import '@trit/smart-quant';
import '@trit/hyperspherical';
import os from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend, quantizeModel } from '@trit/quant-core';
import { mulberry32, resnetCifar, train } from '@trit/benchmark';

const { values: opts } = parseArgs({
  options: {
    methods: { type: 'string', default: 'fp32,bwn,twn,ttq,sq,hla' },
    batch: { type: 'string', default: '128' },
    steps: { type: 'string', default: '8' },
    backend: { type: 'string', default: 'tensorflow' },
  },
});
const batch = Number(opts.batch);
const steps = Number(opts.steps);
const info = await initBackend({ prefer: opts.backend });

/** Random normalized images, fixed per step, so every method sees the same data. */
function randomData() {
  const pixels = 32 * 32 * 3;
  const rand = mulberry32(1);
  const x = Float32Array.from({ length: batch * pixels }, () => rand() * 2 - 1);
  const labels = Int32Array.from({ length: batch }, () => Math.floor(rand() * 10));
  return {
    inputShape: [32, 32, 3],
    numClasses: 10,
    numTrain: batch * steps,
    numTest: batch,
    *trainBatches() {
      for (let s = 0; s < steps; s++) yield { x, labels, count: batch };
    },
    *testBatches() {
      yield { x, labels, count: batch };
    },
  };
}

const rows = [];
for (const method of opts.methods.split(',')) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'trit-throughput-'));
  const { model } = quantizeModel(resnetCifar({ depth: 20, seed: 1 }), { default: method });
  const r = await train({
    model,
    data: randomData(),
    config: {
      epochs: 2,
      batchSize: batch,
      optimizer: { type: 'sgd', lr: 0.01, momentum: 0.9 },
      schedule: { type: 'constant' },
    },
    outDir: dir,
    progress: false,
  });
  const timed = r.history[1];
  rows.push({ method, imagesPerSecond: timed.imagesPerSecond, stepSeconds: timed.seconds / steps });
  model.dispose();
  rmSync(dir, { recursive: true, force: true });
  console.error(`[throughput] ${method}: ${timed.imagesPerSecond.toFixed(1)} images/s`);
}

const fp32 = rows.find((r) => r.method === 'fp32');
console.log(`\nResNet-20 training throughput through trit's training loop, batch ${batch}, ${steps} timed steps per method`);
console.log(
  `backend: ${info.name}${info.tensorflowVersion ? ` (TensorFlow ${info.tensorflowVersion}, ${info.threads} threads)` : ''}; ` +
    `machine: ${os.cpus()[0]?.model} x${os.cpus().length}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`,
);
console.log('| method | images/s | s/step | step time vs FP32 |');
console.log('| --- | ---: | ---: | ---: |');
for (const r of rows) {
  const rel = fp32 ? `${(r.stepSeconds / fp32.stepSeconds).toFixed(3)}x` : 'n/a';
  console.log(`| ${r.method} | ${r.imagesPerSecond.toFixed(1)} | ${r.stepSeconds.toFixed(3)} | ${rel} |`);
}
