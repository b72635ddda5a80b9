#!/usr/bin/env node
// Training throughput of ResNet-20 with each quantizer, through trit's own
// training loop (quantizer schedules, regularizers, weight decay, clipping,
// NaN checks and all), on random CIFAR-shaped data.
//
//   node benchmarks/train-throughput.mjs [--methods fp32,bwn,twn,ttq,sq,hla] [--batch 128] [--steps 8]
//
// Each method runs in its own process (so no method inherits another's memory
// state) for 2 epochs of `steps` steps; the first is warm-up, the second is
// timed. FP32 is measured before and after the others, and the quantized
// methods are compared with the mean of the two. Prints images/s and each
// method's step time relative to FP32.
import '@trit/twn';
import '@trit/ttq';
import '@trit/smart-quant';
import '@trit/hyperspherical';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Rng, resnetCifar, train } from '@trit/benchmark';
import { initBackend, quantizeModel } from '@trit/quant-core';

const { values: opts } = parseArgs({
  options: {
    methods: { type: 'string', default: 'fp32,bwn,twn,ttq,sq,hla' },
    batch: { type: 'string', default: '128' },
    steps: { type: 'string', default: '8' },
    backend: { type: 'string', default: 'tensorflow' },
    child: { type: 'string' },
  },
});
const batch = Number(opts.batch);
const steps = Number(opts.steps);
const info = await initBackend({ prefer: opts.backend, quiet: Boolean(opts.child) });

/** Random normalized images, fixed per step, so every method sees the same data. */
function randomData() {
  const pixels = 32 * 32 * 3;
  const rng = new Rng(1);
  const x = Float32Array.from({ length: batch * pixels }, () => rng.next() * 2 - 1);
  const labels = Int32Array.from({ length: batch }, () => rng.int(10));
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

async function measure(method) {
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
  rmSync(dir, { recursive: true, force: true });
  const timed = r.history[1];
  return { method, imagesPerSecond: timed.imagesPerSecond, stepSeconds: timed.seconds / steps };
}

if (opts.child) {
  process.stdout.write(`\nRESULT ${JSON.stringify(await measure(opts.child))}\n`);
  process.exit(0);
}

const methods = opts.methods.split(',');
const order = methods.includes('fp32')
  ? ['fp32', ...methods.filter((m) => m !== 'fp32'), 'fp32']
  : methods;
const runs = [];
for (const method of order) {
  const args = [
    process.argv[1],
    '--child',
    method,
    '--batch',
    String(batch),
    '--steps',
    String(steps),
    '--backend',
    opts.backend,
  ];
  const r = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`${method} failed: ${r.stderr.slice(-500)}`);
  const row = JSON.parse(line.slice(7));
  runs.push(row);
  console.error(`[throughput] ${method}: ${row.imagesPerSecond.toFixed(1)} images/s`);
}
const fp32Runs = runs.filter((r) => r.method === 'fp32');
const rows = fp32Runs.length
  ? [
      {
        method: 'fp32',
        imagesPerSecond: fp32Runs.reduce((a, r) => a + r.imagesPerSecond, 0) / fp32Runs.length,
        stepSeconds: fp32Runs.reduce((a, r) => a + r.stepSeconds, 0) / fp32Runs.length,
        note: `mean of ${fp32Runs.map((r) => r.imagesPerSecond.toFixed(1)).join(' and ')}`,
      },
      ...runs.filter((r) => r.method !== 'fp32'),
    ]
  : runs;

const fp32 = rows.find((r) => r.method === 'fp32');
console.log(
  `\nResNet-20 training throughput through trit's training loop, batch ${batch}, ${steps} timed steps per method`,
);
console.log(
  `backend: ${info.name}${info.tensorflowVersion ? ` (TensorFlow ${info.tensorflowVersion}, ${info.threads} threads)` : ''}; ` +
    `machine: ${os.cpus()[0]?.model} x${os.cpus().length}; load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
);
console.log('| method | images/s | s/step | step time vs FP32 | notes |');
console.log('| --- | ---: | ---: | ---: | --- |');
for (const r of rows) {
  const rel = fp32 ? `${(r.stepSeconds / fp32.stepSeconds).toFixed(3)}x` : 'n/a';
  console.log(
    `| ${r.method} | ${r.imagesPerSecond.toFixed(1)} | ${r.stepSeconds.toFixed(3)} | ${rel} | ${r.note ?? ''} |`,
  );
}
