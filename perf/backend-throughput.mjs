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
import { parseArgs } from 'node:util';

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

async function measure(backend, steps, warmup, batch) {
  const tf = await import('@tensorflow/tfjs');
  const { initBackend } = await import('@trit/quant-core');
  const { resnetCifar } = await import('@trit/cli');
  const info = await initBackend({ prefer: backend, quiet: true });
  if (info.name !== backend) return { backend, error: info.fallbackReason };
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
    return { backend, error: String(err instanceof Error ? err.message : err).split('\n')[0] };
  }
  const total = times.reduce((a, b) => a + b, 0);
  return {
    backend,
    tensorflowVersion: info.tensorflowVersion,
    threads: info.threads,
    batch,
    steps,
    secondsPerStep: total / steps,
    imagesPerSecond: (batch * steps) / total,
  };
}

if (opts.child) {
  const [backend, steps, warmup, batch] = opts.child.split(':');
  const r = await measure(backend, Number(steps), Number(warmup), Number(batch));
  process.stdout.write(`\nRESULT ${JSON.stringify(r)}\n`);
  process.exit(0);
}

const rows = [];
for (const backend of opts.backends.split(',')) {
  const isCpu = backend === 'cpu';
  const steps = Number(isCpu ? opts['cpu-steps'] : opts.steps);
  const warmup = isCpu ? 0 : Number(opts.warmup);
  const batch = Number(isCpu ? opts['cpu-batch'] : opts.batch);
  console.error(`[bench] ${backend}: ${warmup} warm-up + ${steps} steps at batch ${batch}...`);
  const r = spawnSync(
    process.execPath,
    [process.argv[1], '--child', `${backend}:${steps}:${warmup}:${batch}`],
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
  if (r.error) {
    console.log(`| ${r.backend} | | | | n/a | ${r.error} |`);
  } else {
    const notes = r.tensorflowVersion
      ? `TensorFlow ${r.tensorflowVersion}, ${r.threads} threads`
      : `${r.threads ?? '?'} thread(s)`;
    console.log(
      `| ${r.backend} | ${r.batch} | ${r.steps} | ${r.secondsPerStep.toFixed(3)} | ${r.imagesPerSecond.toFixed(r.imagesPerSecond < 10 ? 2 : 1)} | ${notes} |`,
    );
  }
}
