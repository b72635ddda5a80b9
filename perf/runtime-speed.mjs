#!/usr/bin/env node
/**
 * Batch-1 inference latency of @trit/runtime (computing from packed ternary
 * codes) against tfjs float32, on the pure-JS `cpu` backend and on the
 * native `tensorflow` backend (tfjs-node).
 *
 *   (a) one 4096x4096 dense layer: runtime ternary (TWN-style symmetric and
 *       TTQ-style asymmetric scales), runtime binary, tfjs matMul;
 *   (b) a CIFAR ResNet-20 (3 stages x 3 basic blocks, 16/32/64 channels,
 *       option-A shortcuts, BatchNorm folded, first conv and last dense in
 *       float32) with random ternary weights, against the same network as
 *       tfjs fused conv2d ops with the dequantized kernels.
 *
 *   (c) with --model <dir>: a real model exported by `trit export` (e.g. a
 *       trained ResNet-20 from a bench run): the runtime loading model.json +
 *       model.bin, against the same network as tfjs fused ops with the
 *       dequantized kernels; with --run <run-dir> also the trained tfjs
 *       LayersModel itself (quantized layers, BatchNorm not folded). Inputs
 *       are the first test images of the model's dataset, preprocessed as in
 *       training (needs the benchmark built), else random.
 *
 * The runtime runs on its WebAssembly SIMD kernels on one thread and on
 * --threads threads (default: the machine's), and on its TypeScript
 * fallback; ResNet-20 also at batch --batch (default 32), as throughput.
 * With --browser, the same cases in headless Chromium against
 * @tensorflow/tfjs-backend-wasm (perf/runtime-browser.mjs).
 *
 * Usage: node perf/runtime-speed.mjs [--runs N] [--warmup N] [--json out.json]
 *          [--threads N] [--batch N] [--browser]
 *          [--model <exported-dir>] [--run <run-dir>] [--only-model] [--data-dir DIR]
 * Needs the runtime built (npx tsc -p packages/runtime/tsconfig.build.json).
 * Each engine is measured after its warm-up runs; median, min and p90 are
 * reported, and the load average before and after (the machine may be shared).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { intFlag } from './lib/flags.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '..', 'packages', 'runtime', 'dist', 'index.js');
if (!existsSync(dist)) {
  console.error(
    'packages/runtime/dist is missing: run `npx tsc -p packages/runtime/tsconfig.build.json` first',
  );
  process.exit(1);
}
const runtime = await import('@trit/runtime');
const { encodeModel, decodeModel } = runtime;
const { dequantize, tfjsFromManifest } = await import('./lib/tfjs-graph.mjs');

// parseArgs rejects unknown flags and a flag without its value (a typo used to be ignored silently).
const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '5' },
    json: { type: 'string' },
    model: { type: 'string' },
    run: { type: 'string' },
    'data-dir': { type: 'string' },
    'only-model': { type: 'boolean', default: false },
    threads: { type: 'string' },
    batch: { type: 'string', default: '32' },
    browser: { type: 'boolean', default: false },
  },
});
const RUNS = intFlag('runs', flags.runs, 1);
const WARMUP = intFlag('warmup', flags.warmup, 0);
const jsonOut = flags.json;
const modelDir = flags.model;
const runDir = flags.run;
const dataDir = flags['data-dir'];
const onlyModel = flags['only-model'];
// The runtime's kernels: WebAssembly SIMD on 1 and on THREADS threads, and the TypeScript fallback.
const THREADS = intFlag('threads', flags.threads ?? String(availableParallelism()), 1);
const BATCH = intFlag('batch', flags.batch, 1);
/** @typedef {{ label: string, backend: import('@trit/runtime').Backend, threads: number, kind: string }} Engine */
/** @type {Engine[]} */
const ENGINES = [
  { label: 'wasm SIMD, 1 thread', backend: 'wasm', threads: 1, kind: 'wasm' },
  ...(THREADS > 1
    ? /** @type {Engine[]} */ ([
        { label: `wasm SIMD, ${THREADS} threads`, backend: 'wasm', threads: THREADS, kind: 'wasm' },
      ])
    : []),
  { label: 'TypeScript', backend: 'js', threads: 1, kind: 'pure JS' },
];
/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Models and inputs the --browser run measures again in headless Chromium. */
/** @type {import('./runtime-browser.mjs').BrowserCase[]} */
const browserCases = [];
/**
 * Decodes for one engine, runs once and lets worker threads boot before timing.
 * @param {import('@trit/runtime').Manifest} manifest
 * @param {Uint8Array} binary
 * @param {Engine} engine
 * @param {Float32Array} x
 */
async function prepared(manifest, binary, engine, x) {
  const model = decodeModel(manifest, binary, { backend: engine.backend, threads: engine.threads });
  model.predict(x);
  if (engine.threads > 1) await sleep(300);
  return model;
}
const loadBefore = loadavg();

process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
// The float32 baseline at its best: oneDNN on, as trit's initBackend sets it
// (TensorFlow enables it itself only on AVX512-VNNI/AMX CPUs).
process.env.TF_ENABLE_ONEDNN_OPTS ??= '1';
/** @type {typeof import('@tensorflow/tfjs')} */
let tf;
let nativeOk = false;
try {
  tf = await import('@tensorflow/tfjs-node');
  nativeOk = true;
} catch (e) {
  const message = e instanceof Error ? e.message : String(e);
  console.warn(`tfjs-node unavailable (${message.split('\n')[0]}); native rows skipped`);
  tf = await import('@tensorflow/tfjs');
}

// ---------------------------------------------------------------------------
// The same mulberry32 stream the tests use.
const { seededRandom } = await import('@trit/quant-core/testing');
const rand = seededRandom(42);
/** @param {number} n */
const uniform = (n, lo = -1, hi = 1) =>
  Float32Array.from({ length: n }, () => lo + (hi - lo) * rand());

/**
 * Random ternary (zeros share ~`zeros`) or binary codes for `shape`, with scales.
 * @param {number[]} shape
 * @param {{ bits?: 1 | 2, asymmetric?: boolean, perChannel?: boolean, zeros?: number }} [options]
 * @returns {import('@trit/runtime').QuantizedKernel}
 */
function quantKernel(
  shape,
  { bits = 2, asymmetric = false, perChannel = false, zeros = 0.4 } = {},
) {
  const n = shape.reduce((a, b) => a * b, 1);
  const codes = new Int8Array(n);
  for (let i = 0; i < n; i++) {
    const r = rand();
    codes[i] =
      bits === 1 ? (r < 0.5 ? -1 : 1) : r < zeros ? 0 : r < zeros + (1 - zeros) / 2 ? 1 : -1;
  }
  const len = perChannel ? /** @type {number} */ (shape[shape.length - 1]) : 1;
  const positive = uniform(len, 0.05, 0.15);
  const negative = asymmetric ? uniform(len, 0.05, 0.15) : positive.slice();
  return { bits, shape, codes, positive, negative };
}

/**
 * @param {() => unknown} fn
 * @returns {{ median: number, min: number, p90: number }}
 */
function measure(fn) {
  for (let i = 0; i < WARMUP; i++) fn();
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return {
    // RUNS >= 1, so every index is in range.
    median: /** @type {number} */ (times[times.length >> 1]),
    min: /** @type {number} */ (times[0]),
    p90: /** @type {number} */ (times[Math.floor(times.length * 0.9)]),
  };
}

/**
 * @param {ArrayLike<number>} a
 * @param {ArrayLike<number>} b
 */
function maxAbsDiff(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(Number(a[i]) - Number(b[i])));
  return m;
}

/** @typedef {{ group: string, engine: string, kind: string, median: number, min: number, p90: number, bytes?: number, maxAbsDiff?: number, batch?: number }} Row */
/** @type {Row[]} */
const rows = [];
/**
 * @param {string} group
 * @param {string} engine
 * @param {string} kind
 * @param {{ median: number, min: number, p90: number }} stats
 * @param {{ bytes?: number, maxAbsDiff?: number, batch?: number }} [extra]
 */
function record(group, engine, kind, stats, extra = {}) {
  rows.push({ group, engine, kind, ...stats, ...extra });
  console.error(`  ${group} | ${engine} | ${stats.median.toFixed(2)} ms`);
}

/**
 * @param {string} name
 * @param {() => void} fn
 */
async function withBackend(name, fn) {
  if (!(await tf.setBackend(name))) throw new Error(`backend ${name} unavailable`);
  await tf.ready();
  return fn();
}

// ---------------------------------------------------------------------------
// (a) 4096 x 4096 dense layer, batch 1.
const N = 4096;
if (!onlyModel) {
  const group = `dense ${N}x${N}`;
  const x = uniform(N);
  /** @type {[string, import('@trit/runtime').QuantizedKernel][]} */
  const variants = [
    ['ternary, per-layer scale (TWN)', quantKernel([N, N])],
    ['ternary, asymmetric Wp/Wn (TTQ)', quantKernel([N, N], { asymmetric: true })],
    ['binary 1-bit (BWN)', quantKernel([N, N], { bits: 1 })],
  ];
  /** @type {{ kernel: import('@trit/runtime').QuantizedKernel, y: Float32Array } | undefined} */
  let reference;
  for (const [label, kernel] of variants) {
    const { manifest, binary } = encodeModel({
      ops: [
        { op: 'input', name: 'x', shape: [N] },
        { op: 'dense', name: 'fc', inputs: ['x'], kernel },
      ],
    });
    /** @type {Float32Array | undefined} */
    let first;
    for (const engine of ENGINES) {
      const model = await prepared(manifest, binary, engine, x);
      const y = model.predict(x).data;
      first ??= y;
      if (label.startsWith('ternary, per-layer')) {
        reference ??= { kernel, y };
        if (engine === ENGINES[0])
          browserCases.push({
            group: `Chromium: ${group} (TWN)`,
            encoded: { manifest, binary },
            x,
          });
      }
      record(
        group,
        `runtime ${label}, ${engine.label}`,
        engine.kind,
        measure(() => model.predict(x)),
        {
          bytes: binary.length,
          maxAbsDiff: maxAbsDiff(y, first),
        },
      );
      model.dispose();
    }
  }
  if (!reference) throw new Error('no TWN-style variant was measured');
  for (const backend of nativeOk ? ['cpu', 'tensorflow'] : ['cpu']) {
    await withBackend(backend, () => {
      const w = tf.tensor2d(dequantize(reference.kernel), [N, N]);
      const xt = tf.tensor2d(x, [1, N]);
      const run = () => {
        const y = tf.matMul(xt, w);
        const d = y.dataSync();
        y.dispose();
        return d;
      };
      const diff = maxAbsDiff(run(), reference.y);
      record(
        group,
        `tfjs float32 matMul (${backend})`,
        backend === 'cpu' ? 'pure JS' : 'native',
        measure(run),
        {
          bytes: N * N * 4,
          maxAbsDiff: diff,
        },
      );
      tf.dispose([w, xt]);
    });
  }
}

// ---------------------------------------------------------------------------
// (b) ResNet-20 (CIFAR, option A), batch 1.
if (!onlyModel) {
  const group = 'ResNet-20 32x32x3';
  /** @type {import('@trit/runtime').OpSpec[]} */
  const ops = [{ op: 'input', name: 'image', shape: [32, 32, 3] }];
  /**
   * @param {string} name
   * @param {string} input
   * @param {number} c
   * @returns {import('@trit/runtime').BatchNormSpec}
   */
  const bn = (name, input, c) => ({
    op: 'batchNorm',
    name,
    inputs: [input],
    mean: uniform(c, -0.1, 0.1),
    variance: uniform(c, 0.5, 1.5),
    gamma: uniform(c, 0.8, 1.2),
    beta: uniform(c, -0.1, 0.1),
  });
  // Stem: float conv 3 -> 16 + BN + ReLU.
  const stem = { shape: [3, 3, 3, 16], values: uniform(3 * 3 * 3 * 16, -0.3, 0.3) };
  ops.push(
    { op: 'conv2d', name: 'stem', inputs: ['image'], kernel: stem, padding: 'same' },
    bn('stem_bn', 'stem', 16),
    {
      op: 'relu',
      name: 'stem_relu',
      inputs: ['stem_bn'],
    },
  );
  let prev = 'stem_relu';
  let cin = 16;
  for (const [stage, cout] of [16, 32, 64].entries()) {
    for (let block = 0; block < 3; block++) {
      const p = `s${stage}b${block}`;
      const stride = stage > 0 && block === 0 ? 2 : 1;
      const k1 = quantKernel([3, 3, cin, cout], { asymmetric: true });
      const k2 = quantKernel([3, 3, cout, cout], { asymmetric: true });
      ops.push(
        {
          op: 'conv2d',
          name: `${p}_c1`,
          inputs: [prev],
          kernel: k1,
          quantizer: 'ttq',
          strides: stride,
          padding: 'same',
        },
        bn(`${p}_bn1`, `${p}_c1`, cout),
        { op: 'relu', name: `${p}_r1`, inputs: [`${p}_bn1`] },
        {
          op: 'conv2d',
          name: `${p}_c2`,
          inputs: [`${p}_r1`],
          kernel: k2,
          quantizer: 'ttq',
          padding: 'same',
        },
        bn(`${p}_bn2`, `${p}_c2`, cout),
      );
      let shortcut = prev;
      if (stride !== 1 || cin !== cout) {
        ops.push(
          { op: 'subsample', name: `${p}_sub`, inputs: [prev], strides: 2 },
          {
            op: 'zeroPad',
            name: `${p}_pad`,
            inputs: [`${p}_sub`],
            channels: [(cout - cin) / 2, (cout - cin) / 2],
          },
        );
        shortcut = `${p}_pad`;
      }
      ops.push(
        { op: 'add', name: `${p}_add`, inputs: [`${p}_bn2`, shortcut] },
        { op: 'relu', name: `${p}_out`, inputs: [`${p}_add`] },
      );
      prev = `${p}_out`;
      cin = cout;
    }
  }
  ops.push(
    { op: 'globalAvgPool', name: 'gap', inputs: [prev] },
    {
      op: 'dense',
      name: 'fc',
      inputs: ['gap'],
      kernel: { shape: [64, 10], values: uniform(640, -0.3, 0.3) },
      bias: uniform(10),
    },
  );
  const { manifest, binary } = encodeModel({ ops });
  const x = uniform(32 * 32 * 3);
  /** @type {Float32Array | undefined} */
  let ours;
  /** @type {import('@trit/runtime').ModelSummary | undefined} */
  let summary;
  const xb = uniform(BATCH * 32 * 32 * 3);
  const batchGroup = `ResNet-20 batch ${BATCH}`;
  browserCases.push(
    { group: `Chromium: ${group}`, encoded: { manifest, binary }, x },
    { group: `Chromium: ${batchGroup}`, encoded: { manifest, binary }, x: xb, batch: BATCH },
  );
  for (const engine of ENGINES) {
    const model = await prepared(manifest, binary, engine, x);
    summary = model.summary();
    const y = model.predict(x).data;
    ours ??= y;
    record(
      group,
      `runtime (ternary TTQ convs, BN folded), ${engine.label}`,
      engine.kind,
      measure(() => model.predict(x)),
      {
        bytes: binary.length,
        maxAbsDiff: maxAbsDiff(y, ours),
      },
    );
    if (engine.backend === 'wasm')
      record(
        batchGroup,
        `runtime, ${engine.label}`,
        engine.kind,
        measure(() => model.predict(xb)),
        {
          bytes: binary.length,
          batch: BATCH,
        },
      );
    model.dispose();
  }

  if (!ours || !summary) throw new Error('no runtime engine was measured');
  // The same network in tfjs float32, from the *folded* manifest (same math, dequantized kernels).
  for (const backend of nativeOk ? ['cpu', 'tensorflow'] : ['cpu']) {
    await withBackend(backend, () => {
      const net = tfjsFromManifest(tf, runtime, manifest, binary);
      const diff = maxAbsDiff(net.run(x), ours);
      record(
        group,
        `tfjs float32 fused ops (${backend})`,
        backend === 'cpu' ? 'pure JS' : 'native',
        measure(() => net.run(x)),
        {
          bytes: summary.float32Bytes,
          maxAbsDiff: diff,
        },
      );
      if (backend === 'tensorflow')
        record(
          batchGroup,
          `tfjs float32 fused ops (${backend})`,
          'native',
          measure(() => net.run(xb)),
          {
            bytes: summary.float32Bytes,
            batch: BATCH,
          },
        );
      net.dispose();
    });
  }
  console.error(
    `  ResNet-20: ${summary.parameters} parameters, ${summary.quantizedWeights} ternary; ` +
      `${binary.length} bytes vs ${summary.float32Bytes} as float32 (${summary.compression.toFixed(1)}x); ` +
      `quantized kernels ${summary.quantizedCompression.toFixed(1)}x`,
  );
}

// ---------------------------------------------------------------------------
// (c) A model exported by `trit export` (e.g. a trained ResNet-20), batch 1.
if (modelDir) {
  const { loadModelFromDir } = await import('@trit/runtime/node');
  const { readFile } = await import('node:fs/promises');
  const model = await loadModelFromDir(modelDir);
  const manifest = model.manifest;
  const binary = new Uint8Array(await readFile(join(modelDir, manifest.binary.file)));
  // What `trit export` writes (as `trit infer` reads it); fields may be absent in other exports.
  const meta = /** @type {Partial<import('@trit/cli').ExportMetadata>} */ (manifest.metadata ?? {});
  const modelInput = model.inputs[0];
  if (!modelInput) throw new Error(`${modelDir}: the model has no input`);
  const inShape = modelInput.shape;
  const size = inShape.reduce((a, b) => a * b, 1);
  const name = meta.source?.run ?? modelDir;
  const group = `${name} [${inShape.join('x')}]`;
  // Real inputs when the export says how to make them (as `trit infer`), else random.
  /** @type {Float32Array[]} */
  let images = [];
  let inputs = 'random uniform [-1, 1]';
  // The CLI package, for real test images and the trained LayersModel. By name,
  // not by a path into packages/ (a path went stale when packages/benchmark
  // became packages/cli, and the rows fell back to random inputs unnoticed).
  /** @type {typeof import('@trit/cli') | null} */
  let bench = null;
  try {
    bench = await import('@trit/cli');
  } catch (e) {
    const why = `@trit/cli cannot be loaded (${e instanceof Error ? e.message.split('\n')[0] : e}); build it first`;
    if (runDir) throw new Error(`--run ${runDir} needs the trained model: ${why}`);
    console.warn(`${why}; inputs will be random`);
  }
  if (bench && meta.data?.type === 'dataset' && meta.preprocessing?.type === 'normalize') {
    const test = await bench.loadDataset(meta.data.name, 'test', { dataDir });
    const it = new bench.BatchIterator(test, {
      batchSize: RUNS + WARMUP,
      normalize: { mean: meta.preprocessing.mean, std: meta.preprocessing.std },
    });
    const first = it.epoch(0).next().value;
    if (!first) throw new Error(`${meta.data.name}: the test split has no images`);
    for (let i = 0; i < first.size; i++) images.push(first.x.slice(i * size, (i + 1) * size));
    inputs = `the first ${images.length} ${meta.data.name} test images, normalized as in training`;
  } else if (bench && meta.data?.type === 'synthetic') {
    const d = bench.syntheticData(meta.data);
    // testBatches is an Iterable (not necessarily an iterator): take its first batch.
    for (const b of d.testBatches(RUNS + WARMUP)) {
      for (let i = 0; i < b.size; i++) images.push(b.x.slice(i * size, (i + 1) * size));
      break;
    }
    inputs = `the first ${images.length} synthetic test images`;
  } else {
    images = Array.from({ length: RUNS + WARMUP }, () => uniform(size));
  }
  const firstImage = images[0];
  if (!firstImage) throw new Error(`${modelDir}: no input images (${inputs})`);
  console.error(`  ${group}: inputs = ${inputs}`);
  // Each timed call gets the next image (the runtime skips all-zero groups, so inputs matter).
  /**
   * @template T
   * @param {(x: Float32Array) => T} fn
   */
  const cycling = (fn) => {
    let i = 0;
    // images is not empty (firstImage), so the index is always in range.
    return () => fn(/** @type {Float32Array} */ (images[i++ % images.length]));
  };
  const summary = model.summary();
  const ours = model.predict(firstImage).data;
  model.dispose();
  for (const engine of ENGINES) {
    const m = await prepared(manifest, binary, engine, firstImage);
    record(
      group,
      `runtime (exported model.json + model.bin), ${engine.label}`,
      engine.kind,
      measure(cycling((x) => m.predict(x))),
      { bytes: binary.length, maxAbsDiff: maxAbsDiff(m.predict(firstImage).data, ours) },
    );
    m.dispose();
  }
  for (const backend of nativeOk ? ['cpu', 'tensorflow'] : ['cpu']) {
    await withBackend(backend, () => {
      const net = tfjsFromManifest(tf, runtime, manifest, binary);
      const diff = maxAbsDiff(net.run(firstImage), ours);
      record(
        group,
        `tfjs float32 fused ops (${backend})`,
        backend === 'cpu' ? 'pure JS' : 'native',
        measure(cycling(net.run)),
        {
          bytes: summary.float32Bytes,
          maxAbsDiff: diff,
        },
      );
      net.dispose();
    });
  }
  if (runDir && bench) {
    const run = await bench.loadRun(runDir);
    const bytes = (await bench.tfjsSavedSize(run.model)).weightsBytes;
    for (const backend of nativeOk ? ['cpu', 'tensorflow'] : ['cpu']) {
      await withBackend(backend, () => {
        /** @param {Float32Array} x */
        const predict = (x) =>
          tf.tidy(() => {
            const y = run.model.predict(tf.tensor(x, [1, ...inShape]));
            if (Array.isArray(y)) throw new Error(`${runDir}: the model has several outputs`);
            return y.dataSync();
          });
        const diff = maxAbsDiff(predict(firstImage), ours);
        record(
          group,
          `tfjs trained LayersModel.predict (${backend})`,
          backend === 'cpu' ? 'pure JS' : 'native',
          measure(cycling(predict)),
          { bytes, maxAbsDiff: diff },
        );
      });
    }
    run.model.dispose();
  }
  console.error(
    `  ${name}: ${summary.parameters} parameters, ${summary.quantizedWeights} quantized; ` +
      `${binary.length} bytes of tensors vs ${summary.float32Bytes} as float32 (${summary.compression.toFixed(1)}x)`,
  );
}

// ---------------------------------------------------------------------------
let browserFacts = null;
if (flags.browser && browserCases.length > 0) {
  const { browserBench } = await import('./runtime-browser.mjs');
  const b = await browserBench(browserCases, { runs: RUNS, warmup: WARMUP, threads: THREADS });
  rows.push(...b.rows.map((r) => ({ ...r, bytes: 0 })));
  browserFacts = b.facts;
}
const loadAfter = loadavg();
/**
 * @param {unknown} s
 * @param {number} n
 */
const pad = (s, n) => String(s).padEnd(n);
/** @param {number[]} l */
const la = (l) => l.map((v) => v.toFixed(2)).join(' ');
console.log(
  `\nLatency (batch 1 unless the case says otherwise), median of ${RUNS} runs after ${WARMUP} warm-up runs (node ${process.version}); ` +
    `load average (1, 5, 15 min) ${la(loadBefore)} before, ${la(loadAfter)} after; ` +
    `tfjs-node with TF_ENABLE_ONEDNN_OPTS=${process.env.TF_ENABLE_ONEDNN_OPTS}\n`,
);
console.log(
  `${pad('case', 40)} ${pad('engine', 62)} ${pad('kind', 8)} ${pad('median ms', 10)} ${pad('min ms', 8)} ${pad('p90 ms', 8)} ${pad('vs tfjs-node', 13)} weights`,
);
for (const group of [...new Set(rows.map((r) => r.group))]) {
  const inGroup = rows.filter((r) => r.group === group);
  // Speed-up against tfjs float32 on the native backend (Node) or tfjs-backend-wasm (Chromium).
  const native = inGroup.find(
    (r) => r.engine.includes('(tensorflow)') || r.engine.includes('(tfjs-backend-wasm)'),
  );
  for (const r of inGroup) {
    const speedup = native ? `${(native.median / r.median).toFixed(2)}x` : '';
    const mb = r.bytes ? `${(r.bytes / 1024 / 1024).toFixed(2)} MiB` : '';
    const diff =
      r.maxAbsDiff !== undefined
        ? `  (max |diff| vs runtime ${r.maxAbsDiff.toExponential(1)})`
        : '';
    const perSec = r.batch ? `  (${((r.batch * 1000) / r.median).toFixed(0)} images/s)` : '';
    console.log(
      `${pad(group, 40)} ${pad(r.engine, 62)} ${pad(r.kind, 8)} ${pad(r.median.toFixed(2), 10)} ${pad(r.min.toFixed(2), 8)} ${pad(r.p90.toFixed(2), 8)} ${pad(speedup, 13)} ${mb}${diff}${perSec}`,
    );
  }
}
if (browserFacts)
  console.log(
    `\nChromium: ${browserFacts.userAgent}; crossOriginIsolated ${browserFacts.crossOriginIsolated}, ` +
      `${browserFacts.hardwareConcurrency} hardware threads; tfjs-backend-wasm SIMD ${browserFacts.tfjsWasmSimd}, ` +
      `threads ${browserFacts.tfjsWasmThreads}`,
  );
if (jsonOut)
  writeFileSync(
    jsonOut,
    `${JSON.stringify({ runs: RUNS, warmup: WARMUP, node: process.version, loadBefore, loadAfter, rows, browser: browserFacts }, null, 2)}\n`,
  );
