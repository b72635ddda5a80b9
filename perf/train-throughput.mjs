#!/usr/bin/env node
// Training throughput of ResNet-20 with each quantizer, through trit's own
// training loop (quantizer schedules, regularizers, weight decay, clipping,
// NaN checks and all), on random CIFAR-shaped data.
//
//   node perf/train-throughput.mjs [--methods fp32,bwn,twn,ttq,sq,hla] [--batch 128] [--steps 8] [--rounds 3]
//
// Each run is a fresh process (so no method inherits another's memory state)
// training 2 epochs of `steps` steps; the first is warm-up, the second is
// timed. Each round runs every quantized method once between two FP32 runs,
// and a method's step time is compared with the mean of those two; the table
// gives the median over rounds and the range, since a single run on a shared
// virtual machine can be 20% off.
import '@trit/twn';
import '@trit/ttq';
import '@trit/smart-quant';
import '@trit/hyperspherical';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatBackend, Rng, resnetCifar, train } from '@trit/cli';
import { BACKENDS, initBackend, quantizeModel } from '@trit/quant-core';
import { intFlag } from './lib/flags.mjs';

const { values: opts } = parseArgs({
  options: {
    methods: { type: 'string', default: 'fp32,bwn,twn,ttq,sq,hla' },
    batch: { type: 'string', default: '128' },
    steps: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
    backend: { type: 'string', default: 'tensorflow' },
    child: { type: 'string' },
  },
});
const batch = intFlag('batch', opts.batch, 1);
const steps = intFlag('steps', opts.steps, 1);
const backend = BACKENDS.find((b) => b === opts.backend);
if (!backend) {
  console.error(`--backend must be one of ${BACKENDS.join(', ')}, got '${opts.backend}'`);
  process.exit(1);
}
const info = await initBackend({ prefer: backend, quiet: Boolean(opts.child) });

/**
 * Random normalized images, fixed per step, so every method sees the same data.
 * @returns {import('@trit/cli').TrainData}
 */
function randomData() {
  const pixels = 32 * 32 * 3;
  const rng = new Rng(1);
  const x = Float32Array.from({ length: batch * pixels }, () => rng.next() * 2 - 1);
  const labels = Int32Array.from({ length: batch }, () => rng.int(10));
  const indices = Uint32Array.from({ length: batch }, (_, i) => i);
  /**
   * @param {number} epoch
   * @param {number} step
   * @returns {import('@trit/cli').Batch}
   */
  const batchOf = (epoch, step) => ({
    x,
    shape: [batch, 32, 32, 3],
    y: labels,
    size: batch,
    indices,
    epoch,
    step,
  });
  return {
    inputShape: [32, 32, 3],
    numClasses: 10,
    numTrain: batch * steps,
    numTest: batch,
    *trainBatches(epoch) {
      for (let step = 0; step < steps; step++) yield batchOf(epoch, step);
    },
    *testBatches() {
      yield batchOf(0, 0);
    },
  };
}

/** @typedef {{ method: string, imagesPerSecond: number, stepSeconds: number, ratio?: number }} Run */
/**
 * One method's second epoch (the first includes tracing and warm-up).
 * @param {string} method
 * @returns {Promise<Run>}
 */
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
  if (!timed)
    throw new Error(`${method}: training recorded ${r.history.length} epochs, expected 2`);
  return { method, imagesPerSecond: timed.imagesPerSecond, stepSeconds: timed.seconds / steps };
}

if (opts.child) {
  process.stdout.write(`\nRESULT ${JSON.stringify(await measure(opts.child))}\n`);
  process.exit(0);
}

const methods = opts.methods.split(',');
const others = methods.filter((m) => m !== 'fp32');
const rounds = intFlag('rounds', opts.rounds, 1);

/**
 * @param {string} method
 * @returns {Run}
 */
function runChild(method) {
  const args = [
    fileURLToPath(import.meta.url),
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
  return JSON.parse(line.slice(7));
}

/** @param {number[]} xs not empty */
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  const at = (/** @type {number} */ i) => /** @type {number} */ (s[i]);
  return s.length % 2 ? at(m) : (at(m - 1) + at(m)) / 2;
};

// Rounds of [fp32, the others...] and a closing fp32: each quantized run is
// compared with the mean of the FP32 runs just before and after it, so slow
// drift of this machine's speed cancels; the table gives medians over rounds.
/** @type {Run[]} */
const fp32Runs = [];
/** @type {Map<string, Run[]>} */
const byMethod = new Map(others.map((m) => [m, []]));
/** @param {string} method */
const runsOf = (method) => {
  const runs = byMethod.get(method);
  if (!runs) throw new Error(`no runs for ${method}`);
  return runs;
};
const measureFp32 = () => {
  const r = runChild('fp32');
  fp32Runs.push(r);
  console.error(`[throughput] fp32: ${r.imagesPerSecond.toFixed(1)} images/s`);
};
if (methods.includes('fp32')) measureFp32();
for (let round = 0; round < rounds; round++) {
  const inRound = [];
  for (const method of others) {
    const r = runChild(method);
    inRound.push(r);
    console.error(
      `[throughput] round ${round + 1}/${rounds} ${method}: ${r.imagesPerSecond.toFixed(1)} images/s`,
    );
  }
  if (methods.includes('fp32')) {
    measureFp32();
    const [before, after] = fp32Runs.slice(-2);
    if (!before || !after) throw new Error('an FP32 run before and after each round is missing');
    const ref = (before.stepSeconds + after.stepSeconds) / 2;
    for (const r of inRound) runsOf(r.method).push({ ...r, ratio: r.stepSeconds / ref });
  } else {
    for (const r of inRound) runsOf(r.method).push(r); // no FP32 to compare with
  }
}
/**
 * @param {string} method
 * @param {Run[]} runs
 */
const summarize = (method, runs) => ({
  method,
  imagesPerSecond: median(runs.map((r) => r.imagesPerSecond)),
  stepSeconds: median(runs.map((r) => r.stepSeconds)),
  ratio: median(runs.map((r) => r.ratio ?? 1)),
  range: fp32Runs.length && runs.length > 1 ? runs.map((r) => r.ratio ?? 1) : [],
  note: `${runs.length} run${runs.length > 1 ? 's' : ''}: ${runs.map((r) => r.imagesPerSecond.toFixed(1)).join(', ')} images/s`,
});
const rows = [
  ...(fp32Runs.length ? [{ ...summarize('fp32', fp32Runs), ratio: 1, range: [] }] : []),
  ...others.map((m) => summarize(m, runsOf(m))),
];

console.log(
  `\nResNet-20 training throughput through trit's training loop, batch ${batch}, ${steps} timed steps per run, ${rounds} round${rounds > 1 ? 's' : ''}`,
);
console.log(
  `backend: ${formatBackend({ ...info })}; ` +
    `machine: ${os.cpus()[0]?.model} x${os.cpus().length}; load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
);
console.log(
  '| method | images/s (median) | s/step (median) | step time vs FP32 (median) | range over rounds | runs |',
);
console.log('| --- | ---: | ---: | ---: | --- | --- |');
for (const r of rows) {
  const rel = fp32Runs.length ? `${r.ratio.toFixed(3)}x` : 'n/a';
  const range = r.range.length
    ? `${Math.min(...r.range).toFixed(3)}–${Math.max(...r.range).toFixed(3)}x`
    : '';
  console.log(
    `| ${r.method} | ${r.imagesPerSecond.toFixed(1)} | ${r.stepSeconds.toFixed(3)} | ${rel} | ${range} | ${r.note} |`,
  );
}
