/**
 * `trit infer`: top-1 accuracy and batch-1 latency of an exported model,
 * computed by `@trit/runtime` alone (no tfjs in the forward pass), on a split
 * of the data the model was trained on, preprocessed exactly as the trainer
 * did (the normalization stored in the export's metadata).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TritFormatError, type TritModel } from '@trit/runtime';
import { loadModelFromDir } from '@trit/runtime/node';
import { type Batch, BatchIterator } from '../data/batches.js';
import { ensureImported, loadDataset, resolveSplit } from '../data/load.js';
import { syntheticData } from '../training/synthetic-data.js';
import type { ExportMetadata } from './export-run.js';

/** Options of {@link inferExported}. */
export interface InferOptions {
  /** `synthetic` (the smoke preset's generated task) or a cached dataset name. */
  readonly dataset: string;
  /** `test` (default), `val` (= test) or `train` (in order, not augmented). */
  readonly split?: string;
  readonly dataDir?: string;
  /** Use only the first `limit` images. */
  readonly limit?: number;
  /** Batch size of the accuracy pass (default 32). */
  readonly batchSize?: number;
  /** Single-image predictions timed for the latency: the first images used (default 100). */
  readonly latencySamples?: number;
  /** Untimed single-image predictions first (default 5). */
  readonly warmup?: number;
}

/** What {@link inferExported} measured. */
export interface InferReport {
  readonly modelDir: string;
  readonly dataset: string;
  readonly split: string;
  readonly images: number;
  readonly correct: number;
  /** Top-1 accuracy in [0, 1]. */
  readonly accuracy: number;
  /** Batch-1 latency over `samples` single-image predictions. */
  readonly latency: {
    readonly samples: number;
    readonly medianMs: number;
    readonly minMs: number;
    readonly p90Ms: number;
    /** `1000 / medianMs`. */
    readonly imagesPerSecond: number;
  };
  /** The accuracy pass: images/s at `batchSize`. */
  readonly throughput: { readonly batchSize: number; readonly imagesPerSecond: number };
  /** Notes (e.g. a dataset other than the one the model was trained on). */
  readonly notes: readonly string[];
}

interface Samples {
  /** Batches of normalized NHWC images and labels. */
  batches(batchSize: number): Iterable<Batch>;
  readonly count: number;
  readonly shape: readonly number[];
}

function positiveInt(v: number | undefined, what: string, fallback: number): number {
  const n = v ?? fallback;
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`${what} must be a positive integer, got ${v}`);
  return n;
}

async function samplesFor(
  meta: Partial<ExportMetadata>,
  options: InferOptions,
  notes: string[],
): Promise<Samples> {
  const split = resolveSplit(options.split ?? 'test');
  if (options.dataset === 'synthetic') {
    const d = meta.data;
    if (d?.type !== 'synthetic') {
      throw new Error(
        `--dataset synthetic: this model was not exported from a run on the synthetic task ` +
          `(its metadata.data is ${JSON.stringify(d ?? null)}), so the generator's options are unknown`,
      );
    }
    const data = syntheticData({
      size: d.size,
      numClasses: d.numClasses,
      numTrain: d.numTrain,
      numTest: d.numTest,
    });
    const count = split === 'test' ? data.numTest : data.numTrain;
    return {
      count,
      shape: data.inputShape,
      batches: (bs) =>
        split === 'test' ? data.testBatches(bs) : data.trainBatches(0, bs, 0, false),
    };
  }
  const pre = meta.preprocessing;
  if (pre?.type !== 'normalize') {
    throw new Error(
      `this export records no input normalization (metadata.preprocessing is ${JSON.stringify(pre ?? null)}); ` +
        're-export the run with `trit export <run> --dataset <name> [--data-dir DIR]` so the training statistics are stored',
    );
  }
  if (meta.data?.type === 'dataset' && meta.data.name !== options.dataset) {
    notes.push(
      `the model was trained on ${meta.data.name}; ${options.dataset} is normalized with ${meta.data.name}'s training statistics`,
    );
  }
  await ensureImported(options.dataset, { dataDir: options.dataDir });
  const data = await loadDataset(options.dataset, split, { dataDir: options.dataDir });
  if (Math.abs(pre.pixelScale - 1 / 255) > 1e-12) {
    throw new Error(
      `metadata.preprocessing.pixelScale ${pre.pixelScale} is not 1/255, the scale of the data layer`,
    );
  }
  const normalize = { mean: pre.mean, std: pre.std };
  return {
    count: data.count,
    shape: [data.height, data.width, data.channels],
    batches: (bs) => new BatchIterator(data, { batchSize: bs, normalize }).epoch(0),
  };
}

function argmaxRows(
  y: Float32Array,
  rows: number,
  classes: number,
  out: Int32Array,
  at: number,
): void {
  for (let r = 0; r < rows; r++) {
    let best = 0;
    let bestValue = y[r * classes]!;
    for (let c = 1; c < classes; c++) {
      const v = y[r * classes + c]!;
      if (v > bestValue) {
        bestValue = v;
        best = c;
      }
    }
    out[at + r] = best;
  }
}

/**
 * Loads `dir/model.json` + its binary with the runtime (every check of the
 * format); errors name the folder and keep the runtime's `code`.
 */
export async function loadExported(dir: string): Promise<TritModel> {
  if (!existsSync(join(dir, 'model.json'))) {
    throw new Error(`${dir} has no model.json: not a folder written by \`trit export\``);
  }
  try {
    return await loadModelFromDir(dir);
  } catch (err) {
    if (!(err instanceof TritFormatError)) throw err;
    let hint = '';
    if (err.code === 'unknown-format') {
      try {
        const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as Record<
          string,
          unknown
        >;
        if ('class_name' in json || 'modelTopology' in json)
          hint =
            '; its model.json is a tfjs model (a bench run folder?): export it first with `trit export <run> --out <dir>`';
      } catch {
        // not JSON: the runtime's message says so
      }
    }
    throw new TritFormatError(err.code, `cannot load ${dir}: ${err.message}${hint}`);
  }
}

/**
 * `model.predict`, with a result that is not finite (the runtime refuses to
 * return one: weights that overflow float32, e.g. a scale of 3e38) reported
 * as an error naming the folder and the images, so no accuracy is ever
 * computed over NaN logits.
 */
function predictChecked(
  model: TritModel,
  dir: string,
  first: number,
  x: Parameters<TritModel['predict']>[0],
) {
  try {
    return model.predict(x);
  } catch (err) {
    if (!(err instanceof TritFormatError) || err.code !== 'non-finite') throw err;
    throw new TritFormatError(
      'non-finite',
      `${dir}: the model's output is not finite on the batch starting at image ${first} ` +
        `(${err.message}); no accuracy is reported over non-finite outputs`,
    );
  }
}

/**
 * Loads an exported model with the runtime and measures top-1 accuracy on a
 * data split and batch-1 latency. The model's metadata supplies the
 * preprocessing; a dataset whose image shape differs from the model input is
 * an error.
 */
export async function inferExported(dir: string, options: InferOptions): Promise<InferReport> {
  const batchSize = positiveInt(options.batchSize, '--batch-size', 32);
  const latencySamples = positiveInt(options.latencySamples, '--latency-samples', 100);
  const warmup = options.warmup ?? 5;
  if (!Number.isInteger(warmup) || warmup < 0)
    throw new Error(`--warmup must be a non-negative integer, got ${warmup}`);
  const limit = options.limit === undefined ? undefined : positiveInt(options.limit, '--limit', 1);
  const model = await loadExported(dir);
  const meta = (model.manifest.metadata ?? {}) as Partial<ExportMetadata>;
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new Error(`${dir}: inference needs a single-input, single-output model`);
  }
  const notes: string[] = [];
  const samples = await samplesFor(meta, options, notes);
  const inShape = model.inputs[0]!.shape;
  if (inShape.length !== samples.shape.length || inShape.some((d, i) => d !== samples.shape[i])) {
    throw new Error(
      `${options.dataset} images are [${samples.shape.join(', ')}] but the model input is [${inShape.join(', ')}]`,
    );
  }
  const outShape = model.outputs[0]!.shape;
  const classes = outShape[outShape.length - 1]!;
  const total = Math.min(samples.count, limit ?? samples.count);
  const imageSize = inShape.reduce((a, b) => a * b, 1);

  // Accuracy pass, batched.
  let seen = 0;
  let correct = 0;
  const predicted = new Int32Array(total);
  const firstImages: Float32Array[] = [];
  const t0 = performance.now();
  for (const b of samples.batches(batchSize)) {
    if (seen >= total) break;
    const n = Math.min(b.size, total - seen);
    const x = n === b.size ? b.x : b.x.subarray(0, n * imageSize);
    const y = predictChecked(model, dir, seen, { shape: [n, ...inShape], data: x }).data;
    argmaxRows(y, n, classes, predicted, seen);
    for (let i = 0; i < n; i++) {
      if (predicted[seen + i] === b.y[i]) correct++;
      if (firstImages.length < latencySamples)
        firstImages.push(x.slice(i * imageSize, (i + 1) * imageSize));
    }
    seen += n;
  }
  const passSeconds = (performance.now() - t0) / 1000;

  // Batch-1 latency: warm-up predictions, then each collected image once, timed.
  for (let i = 0; i < warmup && firstImages.length > 0; i++)
    model.predict(firstImages[i % firstImages.length]!);
  const times: number[] = [];
  for (const img of firstImages) {
    const s = performance.now();
    model.predict(img);
    times.push(performance.now() - s);
  }
  times.sort((a, b) => a - b);
  const medianMs = times[times.length >> 1]!;
  return {
    modelDir: dir,
    dataset: options.dataset,
    split: resolveSplit(options.split ?? 'test'),
    images: seen,
    correct,
    accuracy: seen > 0 ? correct / seen : 0,
    latency: {
      samples: times.length,
      medianMs,
      minMs: times[0]!,
      p90Ms: times[Math.min(times.length - 1, Math.floor(times.length * 0.9))]!,
      imagesPerSecond: 1000 / medianMs,
    },
    throughput: { batchSize, imagesPerSecond: seen / passSeconds },
    notes,
  };
}

/** The report as text. */
export function formatInferReport(r: InferReport): string {
  const lines = [
    `${r.modelDir} on ${r.dataset} (${r.split}), @trit/runtime:`,
    `top-1 accuracy: ${(100 * r.accuracy).toFixed(2)}% (${r.correct}/${r.images})`,
    `batch-1 latency: median ${r.latency.medianMs.toFixed(3)} ms, min ${r.latency.minMs.toFixed(3)} ms, ` +
      `p90 ${r.latency.p90Ms.toFixed(3)} ms over ${r.latency.samples} images = ${r.latency.imagesPerSecond.toFixed(1)} images/s`,
    `accuracy pass at batch ${r.throughput.batchSize} (data preparation included): ${r.throughput.imagesPerSecond.toFixed(1)} images/s`,
  ];
  for (const n of r.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}
