#!/usr/bin/env node
// Input-pipeline benchmark: how many training images per second the dataset
// layer prepares from the cache (shuffle + pad-4 random crop + flip + per-channel
// normalization into Float32 NHWC batches), and optionally how fast a real import is.
//
//   node perf/input-pipeline.mjs [--dataset cifar10] [--import <archive|dir>]
//        [--data-dir DIR] [--batch-size 128] [--epochs 3] [--seed 0] [--no-tensors]
//
// Example (the full CIFAR-10 JPEG copy into the default cache):
//   node perf/input-pipeline.mjs --import ../shared/datasets/cifar10-jpeg.tar.gz
//
// Needs the built package: npx tsc -p packages/cli/tsconfig.build.json
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { intFlag } from './lib/flags.mjs';

const { values: args } = parseArgs({
  options: {
    dataset: { type: 'string', default: 'cifar10' },
    import: { type: 'string' },
    'data-dir': { type: 'string' },
    'batch-size': { type: 'string', default: '128' },
    epochs: { type: 'string', default: '3' },
    seed: { type: 'string', default: '0' },
    'no-tensors': { type: 'boolean', default: false },
  },
});

// The data layer alone (not all of @trit/cli, which loads tfjs), from the built package.
/** @type {typeof import('../packages/cli/dist/data/index.js')} */
let data;
try {
  data = await import('../packages/cli/dist/data/index.js');
} catch (err) {
  console.error(
    `cannot load packages/cli/dist (${err instanceof Error ? err.message : err}); build it first:\n  npx tsc -p packages/cli/tsconfig.build.json`,
  );
  process.exit(1);
}
const { importDataset, loadDataset, trainBatches, evalBatches, resolveDataDir, formatBytes } = data;
const dataDir = resolveDataDir(args['data-dir']);
const batchSize = intFlag('batch-size', args['batch-size'], 1);
const epochs = intFlag('epochs', args.epochs, 1);
const seed = intFlag('seed', args.seed, 0);
/** @param {number} n */
const fmt = (n) => Math.round(n).toLocaleString('en-US');

console.log(
  `node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ${loadavg()[0]?.toFixed(2)}`,
);
console.log(`cache: ${dataDir}`);

if (args.import) {
  let phase = '';
  const r = await importDataset(args.dataset, {
    from: args.import,
    dataDir,
    onProgress: (e) => {
      const key = `${e.phase} ${e.split ?? ''}`.trim();
      if (key !== phase) {
        phase = key;
        console.log(`  ${key}: ${e.total === undefined ? '?' : fmt(e.total)} ${e.unit}`);
      }
    },
  });
  console.log(
    `import: ${fmt(r.images)} images (${fmt(r.splits.train.count)} train + ${fmt(r.splits.test.count)} test) in ${r.seconds.toFixed(1)} s = ${fmt(r.imagesPerSecond)} images/s` +
      ` (read archive + decode ${r.layout} + write cache) -> ${r.path}`,
  );
}

let t0 = performance.now();
const train = await loadDataset(args.dataset, 'train', { dataDir });
const loadSeconds = (performance.now() - t0) / 1000;
console.log(
  `load: ${fmt(train.count)} train images ${train.width}x${train.height}x${train.channels} (${formatBytes(train.images.length)}) in ${loadSeconds.toFixed(3)} s`,
);

/**
 * Images per second over `epochs` epochs, after one warm-up epoch.
 * @param {string} label
 * @param {() => import('../packages/cli/dist/data/index.js').BatchIterator} makeIterator
 * @param {(b: import('../packages/cli/dist/data/index.js').Batch) => void} [consume]
 */
function measure(label, makeIterator, consume) {
  const it = makeIterator();
  for (const b of it.epoch(0)) consume?.(b); // warm-up epoch
  let images = 0;
  t0 = performance.now();
  for (let e = 1; e <= epochs; e++) {
    for (const b of it.epoch(e)) {
      consume?.(b);
      images += b.size;
    }
  }
  const rate = images / ((performance.now() - t0) / 1000);
  console.log(
    `${label}: ${fmt(rate)} images/s (${epochs} epochs of ${fmt(train.count)}, batch ${batchSize})`,
  );
  return rate;
}

const trainRate = measure('train batches (shuffle + pad-4 crop + flip + normalize)', () =>
  trainBatches(train, { batchSize, seed }),
);
measure('eval batches (normalize only)', () => evalBatches(train, { batchSize }));

if (!args['no-tensors']) {
  const tf = await import('@tensorflow/tfjs');
  await tf.setBackend('cpu');
  const { batchToTensors } = data;
  measure(
    'train batches + tf.tensor4d/tensor1d (cpu backend)',
    () => trainBatches(train, { batchSize, seed }),
    (b) => {
      const { xs, ys } = batchToTensors(b);
      xs.dispose();
      ys.dispose();
    },
  );
}

console.log(`prepared images/s: ${fmt(trainRate)}`);
