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
 * @tensorflow/tfjs-backend-wasm (benchmarks/runtime-browser.mjs).
 *
 * Usage: node benchmarks/runtime-speed.mjs [--runs N] [--warmup N] [--json out.json]
 *          [--threads N] [--batch N] [--browser]
 *          [--model <exported-dir>] [--run <run-dir>] [--only-model] [--data-dir DIR]
 * Needs the runtime built (npx tsc -p packages/runtime/tsconfig.build.json).
 * Each engine is measured after its warm-up runs; median, min and p90 are
 * reported, and the load average before and after (the machine may be shared).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '..', 'packages', 'runtime', 'dist', 'index.js');
if (!existsSync(dist)) {
  console.error(
    'packages/runtime/dist is missing: run `npx tsc -p packages/runtime/tsconfig.build.json` first',
  );
  process.exit(1);
}
const { encodeModel, decodeModel, manifestTensors, unpackTrits, unpackBits } = await import(dist);
const benchDist = join(here, '..', 'packages', 'benchmark', 'dist', 'index.js');

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const RUNS = Number(opt('runs', 30));
const WARMUP = Number(opt('warmup', 5));
const jsonOut = opt('json', null);
const modelDir = opt('model', null);
const runDir = opt('run', null);
const dataDir = opt('data-dir', undefined);
const onlyModel = args.includes('--only-model');
// The runtime's kernels: WebAssembly SIMD on 1 and on THREADS threads, and the TypeScript fallback.
const THREADS = Number(opt('threads', (await import('node:os')).availableParallelism()));
const BATCH = Number(opt('batch', 32));
const ENGINES = [
  { label: 'wasm SIMD, 1 thread', backend: 'wasm', threads: 1, kind: 'wasm' },
  ...(THREADS > 1
    ? [{ label: `wasm SIMD, ${THREADS} threads`, backend: 'wasm', threads: THREADS, kind: 'wasm' }]
    : []),
  { label: 'TypeScript', backend: 'js', threads: 1, kind: 'pure JS' },
];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Decodes for one engine, runs once and lets worker threads boot before timing. */
async function prepared(manifest, binary, engine, x) {
  const model = decodeModel(manifest, binary, { backend: engine.backend, threads: engine.threads });
  model.predict(x);
  if (engine.threads > 1) await sleep(300);
  return model;
}
const loadBefore = (await import('node:os')).loadavg();

process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
let tf;
let nativeOk = false;
try {
  tf = await import('@tensorflow/tfjs-node');
  nativeOk = true;
} catch (e) {
  console.warn(`tfjs-node unavailable (${e.message.split('\n')[0]}); native rows skipped`);
  tf = await import('@tensorflow/tfjs');
}

// ---------------------------------------------------------------------------
// The same mulberry32 stream the tests use.
const { seededRandom } = await import('@trit/quant-core/testing');
const rand = seededRandom(42);
const uniform = (n, lo = -1, hi = 1) =>
  Float32Array.from({ length: n }, () => lo + (hi - lo) * rand());

/** Random ternary (zeros share ~`zeros`) or binary codes for `shape`, with scales. */
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
  const len = perChannel ? shape[shape.length - 1] : 1;
  const positive = uniform(len, 0.05, 0.15);
  const negative = asymmetric ? uniform(len, 0.05, 0.15) : positive.slice();
  return { bits, shape, codes, positive, negative };
}

/** The float kernel a quantized kernel stands for (the tfjs side only). */
function dequantize(k) {
  const cout = k.shape[k.shape.length - 1];
  const out = new Float32Array(k.codes.length);
  for (let i = 0; i < out.length; i++) {
    const c = i % cout;
    const p = k.positive.length === 1 ? k.positive[0] : k.positive[c];
    const n = k.negative.length === 1 ? k.negative[0] : k.negative[c];
    out[i] = k.codes[i] > 0 ? p : k.codes[i] < 0 ? -n : 0;
  }
  return out;
}

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
    median: times[times.length >> 1],
    min: times[0],
    p90: times[Math.floor(times.length * 0.9)],
  };
}

function maxAbsDiff(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const rows = [];
function record(group, engine, kind, stats, extra = {}) {
  rows.push({ group, engine, kind, ...stats, ...extra });
  console.error(`  ${group} | ${engine} | ${stats.median.toFixed(2)} ms`);
}

async function withBackend(name, fn) {
  if (!(await tf.setBackend(name))) throw new Error(`backend ${name} unavailable`);
  await tf.ready();
  return fn();
}

/** Float32 values of the float tensor `<op>/<role>` of a manifest (format version 2), or null. */
function floatTensor(manifest, binary, name) {
  const t = manifestTensors(manifest).find((e) => e.name === name);
  return t
    ? new Float32Array(binary.slice(t.byteOffset, t.byteOffset + t.byteLength).buffer)
    : null;
}

/**
 * The network of an encoded model as tfjs ops (the folded graph, with every
 * quantized kernel dequantized from its packed codes and stored scales).
 * Returns `{ run(x) -> Float32Array, dispose() }` for the active backend.
 */
function tfjsFromManifest(manifest, binary) {
  const weights = new Map();
  for (const op of manifest.ops) {
    if (op.op !== 'conv2d' && op.op !== 'dense') continue;
    const k = op.kernel;
    const float = (role) => floatTensor(manifest, binary, `${op.name}/${role}`);
    let w;
    if (k.encoding === 'float32') w = float('kernel');
    else {
      const t = manifestTensors(manifest).find((e) => e.name === `${op.name}/codes`);
      const packed = binary.subarray(t.byteOffset, t.byteOffset + t.byteLength);
      const codes =
        k.encoding === 'ternary' ? unpackTrits(packed, k.shape) : unpackBits(packed, k.shape);
      // Levels: `negative` absent = `positive`; an optional per-channel `scale` multiplies both.
      const cout = k.shape[k.shape.length - 1];
      const scale = float('scale');
      const level = (v) =>
        Float32Array.from({ length: cout }, (_, c) => {
          const x = v.length === 1 ? v[0] : v[c];
          return scale ? Math.fround(x * (scale.length === 1 ? scale[0] : scale[c])) : x;
        });
      const positive = float('positive');
      w = dequantize({
        shape: k.shape,
        codes,
        positive: level(positive),
        negative: level(float('negative') ?? positive),
      });
    }
    const bias = float('bias');
    weights.set(op.name, { w: tf.tensor(w, k.shape), b: bias ? tf.tensor1d(bias) : null });
  }
  const affines = new Map();
  for (const op of manifest.ops) {
    if (op.op === 'affine')
      affines.set(op.name, {
        scale: tf.tensor1d(floatTensor(manifest, binary, `${op.name}/scale`)),
        shift: tf.tensor1d(floatTensor(manifest, binary, `${op.name}/shift`)),
      });
  }
  const input = manifest.ops.find((o) => o.op === 'input');
  const act = (y, a) => (a === 'relu' ? tf.relu(y) : a === 'softmax' ? tf.softmax(y) : y);
  const run = (x) => {
    const out = tf.tidy(() => {
      const vals = new Map();
      const get = (n) => vals.get(n);
      for (const op of manifest.ops) {
        let y;
        switch (op.op) {
          case 'input':
            y = tf.tensor(x, [x.length / input.shape.reduce((a, b) => a * b, 1), ...input.shape]);
            break;
          case 'conv2d': {
            const { w, b } = weights.get(op.name);
            y = tf.fused.conv2d({
              x: get(op.inputs[0]),
              filter: w,
              strides: op.strides ?? [1, 1],
              pad: op.padding,
              bias: b ?? undefined,
              activation: op.activation === 'relu' ? 'relu' : 'linear',
            });
            if (op.activation === 'softmax') y = tf.softmax(y);
            break;
          }
          case 'dense': {
            const { w, b } = weights.get(op.name);
            const t = get(op.inputs[0]);
            y = tf.fused.matMul({
              a: t.rank === 2 ? t : tf.reshape(t, [-1, t.shape[t.rank - 1]]),
              b: w,
              bias: b ?? undefined,
              activation: op.activation === 'relu' ? 'relu' : 'linear',
            });
            if (op.activation === 'softmax') y = tf.softmax(y);
            break;
          }
          case 'affine': {
            const { scale, shift } = affines.get(op.name);
            y = act(tf.add(tf.mul(get(op.inputs[0]), scale), shift), op.activation);
            break;
          }
          case 'subsample': {
            const t = get(op.inputs[0]);
            y = tf.stridedSlice(t, [0, 0, 0, 0], t.shape, [1, ...op.strides, 1]);
            break;
          }
          case 'zeroPad':
            y = tf.pad(get(op.inputs[0]), [
              [0, 0],
              ...(op.padding ?? [
                [0, 0],
                [0, 0],
              ]),
              op.channels ?? [0, 0],
            ]);
            break;
          case 'add':
            y = act(tf.addN(op.inputs.map(get)), op.activation);
            break;
          case 'relu':
            y = tf.relu(get(op.inputs[0]));
            break;
          case 'softmax':
            y = tf.softmax(get(op.inputs[0]));
            break;
          case 'globalAvgPool':
            y = tf.mean(get(op.inputs[0]), [1, 2]);
            break;
          case 'maxPool':
          case 'avgPool':
            y = (op.op === 'maxPool' ? tf.maxPool : tf.avgPool)(
              get(op.inputs[0]),
              op.poolSize,
              op.strides,
              op.padding,
            );
            break;
          case 'flatten': {
            const t = get(op.inputs[0]);
            y = tf.reshape(t, [t.shape[0], -1]);
            break;
          }
          default:
            throw new Error(`no tfjs mapping for ${op.op}`);
        }
        vals.set(op.name, y);
        // The last name of a fused chain (a folded BN's ReLU) refers to the same output.
        if (op.fused?.length) vals.set(op.fused[op.fused.length - 1], y);
      }
      return vals.get(manifest.outputs[0]);
    });
    const d = out.dataSync();
    out.dispose();
    return d;
  };
  const dispose = () => {
    for (const { w, b } of weights.values()) tf.dispose([w, ...(b ? [b] : [])]);
    for (const { scale, shift } of affines.values()) tf.dispose([scale, shift]);
  };
  return { run, dispose };
}

// ---------------------------------------------------------------------------
// (a) 4096 x 4096 dense layer, batch 1.
const N = 4096;
if (!onlyModel) {
  const group = `dense ${N}x${N}`;
  const x = uniform(N);
  const variants = [
    ['ternary, per-layer scale (TWN)', quantKernel([N, N])],
    ['ternary, asymmetric Wp/Wn (TTQ)', quantKernel([N, N], { asymmetric: true })],
    ['binary 1-bit (BWN)', quantKernel([N, N], { bits: 1 })],
  ];
  let reference;
  for (const [label, kernel] of variants) {
    const { manifest, binary } = encodeModel({
      ops: [
        { op: 'input', name: 'x', shape: [N] },
        { op: 'dense', name: 'fc', inputs: ['x'], kernel },
      ],
    });
    let first;
    for (const engine of ENGINES) {
      const model = await prepared(manifest, binary, engine, x);
      const y = model.predict(x).data;
      first ??= y;
      if (label.startsWith('ternary, per-layer')) reference ??= { kernel, y, bytes: binary.length };
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
  const ops = [{ op: 'input', name: 'image', shape: [32, 32, 3] }];
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
  let ours;
  let summary;
  const xb = uniform(BATCH * 32 * 32 * 3);
  const batchGroup = `ResNet-20 batch ${BATCH}`;
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

  // The same network in tfjs float32, from the *folded* manifest (same math, dequantized kernels).
  for (const backend of nativeOk ? ['cpu', 'tensorflow'] : ['cpu']) {
    await withBackend(backend, () => {
      const net = tfjsFromManifest(manifest, binary);
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
  const { loadModelFromDir } = await import(
    join(here, '..', 'packages', 'runtime', 'dist', 'node.js')
  );
  const { readFile } = await import('node:fs/promises');
  const model = await loadModelFromDir(modelDir);
  const manifest = model.manifest;
  const binary = new Uint8Array(await readFile(join(modelDir, manifest.binary.file)));
  const meta = manifest.metadata ?? {};
  const inShape = model.inputs[0].shape;
  const size = inShape.reduce((a, b) => a * b, 1);
  const name = meta.source?.run ?? modelDir;
  const group = `${name} [${inShape.join('x')}]`;
  // Real inputs when the export says how to make them (as `trit infer`), else random.
  let images = [];
  let inputs = 'random uniform [-1, 1]';
  const bench = existsSync(benchDist) ? await import(benchDist) : null;
  if (bench && meta.data?.type === 'dataset' && meta.preprocessing?.type === 'normalize') {
    const test = await bench.loadDataset(meta.data.name, 'test', { dataDir });
    const it = new bench.BatchIterator(test, {
      batchSize: RUNS + WARMUP,
      normalize: { mean: meta.preprocessing.mean, std: meta.preprocessing.std },
    });
    const first = it.epoch(0).next().value;
    for (let i = 0; i < first.size; i++) images.push(first.x.slice(i * size, (i + 1) * size));
    inputs = `the first ${images.length} ${meta.data.name} test images, normalized as in training`;
  } else if (bench && meta.data?.type === 'synthetic') {
    const d = bench.syntheticData(meta.data);
    const b = d.testBatches(RUNS + WARMUP).next().value;
    for (let i = 0; i < b.count; i++) images.push(b.x.slice(i * size, (i + 1) * size));
    inputs = `the first ${images.length} synthetic test images`;
  } else {
    images = Array.from({ length: RUNS + WARMUP }, () => uniform(size));
  }
  console.error(`  ${group}: inputs = ${inputs}`);
  // Each timed call gets the next image (the runtime skips all-zero groups, so inputs matter).
  const cycling = (fn) => {
    let i = 0;
    return () => fn(images[i++ % images.length]);
  };
  const summary = model.summary();
  const ours = model.predict(images[0]).data;
  model.dispose();
  for (const engine of ENGINES) {
    const m = await prepared(manifest, binary, engine, images[0]);
    record(
      group,
      `runtime (exported model.json + model.bin), ${engine.label}`,
      engine.kind,
      measure(cycling((x) => m.predict(x))),
      { bytes: binary.length, maxAbsDiff: maxAbsDiff(m.predict(images[0]).data, ours) },
    );
    m.dispose();
  }
  for (const backend of nativeOk ? ['cpu', 'tensorflow'] : ['cpu']) {
    await withBackend(backend, () => {
      const net = tfjsFromManifest(manifest, binary);
      const diff = maxAbsDiff(net.run(images[0]), ours);
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
        const predict = (x) =>
          tf.tidy(() => run.model.predict(tf.tensor(x, [1, ...inShape])).dataSync());
        const diff = maxAbsDiff(predict(images[0]), ours);
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
const loadAfter = (await import('node:os')).loadavg();
const pad = (s, n) => String(s).padEnd(n);
const la = (l) => l.map((v) => v.toFixed(2)).join(' ');
console.log(
  `\nLatency (batch 1 unless the case says otherwise), median of ${RUNS} runs after ${WARMUP} warm-up runs (node ${process.version}); ` +
    `load average (1, 5, 15 min) ${la(loadBefore)} before, ${la(loadAfter)} after\n`,
);
console.log(
  `${pad('case', 30)} ${pad('engine', 62)} ${pad('kind', 8)} ${pad('median ms', 10)} ${pad('min ms', 8)} ${pad('p90 ms', 8)} ${pad('vs tfjs-node', 13)} weights`,
);
for (const group of [...new Set(rows.map((r) => r.group))]) {
  const inGroup = rows.filter((r) => r.group === group);
  const native = inGroup.find((r) => r.engine.includes('(tensorflow)'));
  for (const r of inGroup) {
    const speedup = native ? `${(native.median / r.median).toFixed(2)}x` : '';
    const mb = `${(r.bytes / 1024 / 1024).toFixed(2)} MiB`;
    const diff =
      r.maxAbsDiff !== undefined
        ? `  (max |diff| vs runtime ${r.maxAbsDiff.toExponential(1)})`
        : '';
    const perSec = r.batch ? `  (${((r.batch * 1000) / r.median).toFixed(0)} images/s)` : '';
    console.log(
      `${pad(group, 30)} ${pad(r.engine, 62)} ${pad(r.kind, 8)} ${pad(r.median.toFixed(2), 10)} ${pad(r.min.toFixed(2), 8)} ${pad(r.p90.toFixed(2), 8)} ${pad(speedup, 13)} ${mb}${diff}${perSec}`,
    );
  }
}
if (jsonOut)
  writeFileSync(
    jsonOut,
    `${JSON.stringify({ runs: RUNS, warmup: WARMUP, node: process.version, loadBefore, loadAfter, rows }, null, 2)}\n`,
  );
