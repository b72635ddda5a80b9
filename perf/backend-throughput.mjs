#!/usr/bin/env node
// Training throughput of a CIFAR ResNet-20 on random data, per tfjs backend.
//
//   npm run bench:backend -- [--steps 10] [--warmup 2] [--batch 128]
//                            [--cpu-steps 1] [--cpu-batch 32] [--backends tensorflow,cpu,wasm]
//
// Each backend runs in its own child process (a backend is process-global and
// the native one cannot be unloaded). The pure-JS cpu backend is ~1000x slower,
// so it gets its own (smaller) step count and batch; images/s is what compares.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { intFlag } from './lib/flags.mjs';

const { values: opts } = parseArgs({
  options: {
    steps: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    batch: { type: 'string', default: '128' },
    'cpu-steps': { type: 'string', default: '1' },
    'cpu-batch': { type: 'string', default: '32' },
    backends: { type: 'string', default: 'tensorflow,cpu,wasm' },
    child: { type: 'string' },
  },
});

/**
 * @typedef {{ backend: string, error: string } | { backend: string, error?: undefined, tensorflowVersion: string | undefined, oneDNN: boolean | undefined, threads: number | undefined, batch: number, steps: number, secondsPerStep: number, imagesPerSecond: number }} Row
 */
/**
 * Times `steps` trainOnBatch calls of ResNet-20 on `backend` after `warmup` untimed ones.
 * @param {string} backend
 * @param {number} steps
 * @param {number} warmup
 * @param {number} batch
 * @returns {Promise<Row>}
 */
async function measure(backend, steps, warmup, batch) {
  const tf = await import('@tensorflow/tfjs');
  const { BACKENDS, initBackend } = await import('@trit/quant-core');
  const { resnetCifar } = await import('@trit/cli');
  const prefer = BACKENDS.find((b) => b === backend);
  if (!prefer) return { backend, error: `unknown backend; valid: ${BACKENDS.join(', ')}` };
  const info = await initBackend({ prefer, quiet: true });
  if (info.name !== backend) return { backend, error: info.fallbackReason ?? `got ${info.name}` };
  const model = resnetCifar({ depth: 20, seed: 1 });
  model.compile({
    optimizer: tf.train.momentum(0.1, 0.9),
    loss: (y, logits) => tf.losses.softmaxCrossEntropy(y, logits),
  });
  const x = tf.randomNormal([batch, 32, 32, 3], 0, 1, 'float32', 1);
  const y = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32', 2), 10).toFloat();
  const times = [];
  try {
    for (let i = 0; i < warmup + steps; i++) {
      const t0 = performance.now();
      await model.trainOnBatch(x, y);
      if (i >= warmup) times.push((performance.now() - t0) / 1000);
    }
  } catch (err) {
    const message = String(err instanceof Error ? err.message : err);
    return { backend, error: message.split('\n', 1)[0] ?? message };
  }
  const total = times.reduce((a, b) => a + b, 0);
  return {
    backend,
    tensorflowVersion: info.tensorflowVersion,
    oneDNN: info.oneDNN,
    threads: info.threads,
    batch,
    steps,
    secondsPerStep: total / steps,
    imagesPerSecond: (batch * steps) / total,
  };
}

if (opts.child) {
  // Written by the parent below: backend:steps:warmup:batch.
  const [backend = '', steps = '', warmup = '', batch = ''] = opts.child.split(':');
  const r = await measure(
    backend,
    intFlag('child steps', steps, 1),
    intFlag('child warmup', warmup, 0),
    intFlag('child batch', batch, 1),
  );
  process.stdout.write(`\nRESULT ${JSON.stringify(r)}\n`);
  process.exit(0);
}

/** @type {Row[]} */
const rows = [];
for (const backend of opts.backends.split(',')) {
  const isCpu = backend === 'cpu';
  const steps = isCpu
    ? intFlag('cpu-steps', opts['cpu-steps'], 1)
    : intFlag('steps', opts.steps, 1);
  const warmup = isCpu ? 0 : intFlag('warmup', opts.warmup, 0);
  const batch = isCpu
    ? intFlag('cpu-batch', opts['cpu-batch'], 1)
    : intFlag('batch', opts.batch, 1);
  console.error(`[bench] ${backend}: ${warmup} warm-up + ${steps} steps at batch ${batch}...`);
  const r = spawnSync(
    process.execPath,
    [fileURLToPath(import.meta.url), '--child', `${backend}:${steps}:${warmup}:${batch}`],
    {
      encoding: 'utf8',
      env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
      maxBuffer: 1 << 26,
    },
  );
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  rows.push(
    line
      ? JSON.parse(line.slice(7))
      : { backend, error: `child exited with ${r.status}: ${r.stderr.slice(-300)}` },
  );
}

console.log(`\nResNet-20 (CIFAR, 0.27M params) training throughput, random data`);
console.log(
  `machine: ${os.cpus()[0]?.model} x${os.cpus().length}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}\n`,
);
console.log('| backend | batch | steps | s/step | images/s | notes |');
console.log('| --- | ---: | ---: | ---: | ---: | --- |');
for (const r of rows) {
  if (r.error !== undefined) {
    console.log(`| ${r.backend} | | | | n/a | ${r.error} |`);
  } else {
    const notes = r.tensorflowVersion
      ? `TensorFlow ${r.tensorflowVersion}, oneDNN ${r.oneDNN ? 'on' : 'off'}, ${r.threads} threads`
      : `${r.threads ?? '?'} thread(s)`;
    console.log(
      `| ${r.backend} | ${r.batch} | ${r.steps} | ${r.secondsPerStep.toFixed(3)} | ${r.imagesPerSecond.toFixed(r.imagesPerSecond < 10 ? 2 : 1)} | ${notes} |`,
    );
  }
}
