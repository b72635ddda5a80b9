import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { type BackendInfo, getQuantizer, modelSummary, quantizeModel } from '@trit/quant-core';
import { modelComplexity } from '../models/complexity.js';
import { resnetCifar } from '../models/resnet-cifar.js';
import { resnet18 } from '../models/resnet18.js';
import { loadCheckpoint, readCheckpointIndex } from '../training/checkpoint.js';
import {
  type EpochRecord,
  type LayerStatsRecord,
  type TrainConfigInput,
  type TrainData,
  train,
} from '../training/train.js';
import { resolveMethod } from './method-spec.js';
import { OverallProgress } from './overall-progress.js';
import type { ModelSpec, Preset } from './presets.js';
import { negativeScalesLine } from './warnings.js';

/** Everything one (method, seed) run produced. */
export interface RunResult {
  /** The method's label: a quantizer name, or a variant such as `ttq:init=mean` (`parseMethod`). */
  readonly method: string;
  readonly seed: number;
  readonly quantizer: { readonly name: string; readonly config: Record<string, unknown> };
  readonly protocol: Preset['protocol'];
  readonly epochs: number;
  readonly history: readonly EpochRecord[];
  /** Per-layer statistics before fine-tuning / training started (epoch 0). */
  readonly initialLayers: readonly LayerStatsRecord[];
  readonly finalTestAccuracy: number;
  readonly bestTestAccuracy: number;
  /** Weight memory of the deployed model (quantized kernels at their bit-width, the rest at 32 bits). */
  readonly weightMemoryBytes: number;
  readonly float32MemoryBytes: number;
  readonly compressionRatio: number;
  /** Share of zero codes over the quantized layers' weights. */
  readonly sparsity: number;
  /** Mean training images/s over the run's epochs. */
  readonly trainImagesPerSecond: number;
  /**
   * Σ over the run's epochs of `seconds + (evalSeconds ?? 0)`: its training
   * loops plus the test evaluation after every epoch (records written before
   * the evaluation was timed have no `evalSeconds` and count their training
   * loop only). Checkpoint writes and the FP32 pre-training are excluded.
   */
  readonly wallSeconds: number;
  readonly params: number;
  readonly macs: number;
}

/** The FP32 pre-training of one seed (finetune protocol): the shared starting point of every method. */
export interface PretrainingResult {
  readonly seed: number;
  readonly epochs: number;
  readonly finalTestAccuracy: number;
  readonly bestTestAccuracy: number;
  /** Mean training images/s over the pre-training's epochs. */
  readonly trainImagesPerSecond: number;
  /** Σ over the pre-training's epochs of `seconds + (evalSeconds ?? 0)`, as {@link RunResult.wallSeconds}. */
  readonly wallSeconds: number;
  readonly history: readonly EpochRecord[];
}

export interface BenchOptions {
  readonly preset: Preset;
  readonly methods?: readonly string[];
  readonly seeds?: readonly number[];
  /** Overrides the epochs of the run (scratch) or of fine-tuning (finetune). */
  readonly epochs?: number;
  /** Overrides the pre-training epochs (finetune protocol). */
  readonly pretrainEpochs?: number;
  readonly outDir: string;
  readonly resume?: boolean;
  /** `[i, n]`: run the i-th (1-based) of n slices of the methods x seeds grid. */
  readonly shard?: readonly [number, number];
  readonly loadData: (preset: Preset) => Promise<TrainData>;
  readonly backend: BackendInfo;
  readonly progress?: boolean;
  readonly log?: (line: string) => void;
}

export function buildModel(
  spec: ModelSpec,
  data: Pick<TrainData, 'inputShape' | 'numClasses'>,
  seed: number,
): tf.LayersModel {
  if (spec.type === 'resnet-cifar') {
    return resnetCifar({
      depth: spec.depth,
      shortcut: spec.shortcut,
      widths: spec.widths,
      numClasses: data.numClasses,
      inputShape: [...data.inputShape],
      seed: seed * 1000,
    });
  }
  return resnet18({
    numClasses: data.numClasses,
    inputShape: [...data.inputShape],
    widths: spec.widths,
    seed: seed * 1000,
  });
}

/** The grid of (method, seed) pairs, in a fixed order, and the slice a shard runs. */
export function gridSlice(
  methods: readonly string[],
  seeds: readonly number[],
  shard?: readonly [number, number],
) {
  const grid = seeds.flatMap((seed) => methods.map((method) => ({ method, seed })));
  if (!shard) return grid;
  const [i, n] = shard;
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(i) || i < 1 || i > n) {
    throw new Error(`--shard must be i/N with 1 <= i <= N, got ${i}/${n}`);
  }
  return grid.filter((_, k) => k % n === i - 1);
}

/**
 * `<method>-seed<S>`, with characters that are unsafe in file names on some
 * systems (the `:` of `ttq:init=mean`) replaced by `_`.
 */
export function runDirName(method: string, seed: number): string {
  return `${method.replace(/[^A-Za-z0-9._=+-]/g, '_')}-seed${seed}`;
}

function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 1)}\n`);
  renameSync(tmp, file);
}

/**
 * Wall time of a training history: Σ over its epochs of `seconds + (evalSeconds ?? 0)`,
 * the training loops plus the test evaluations after them (records written
 * before the evaluation was timed count their training loop only).
 */
export function historyWallSeconds(history: readonly EpochRecord[]): number {
  return history.reduce((a, h) => a + h.seconds + (h.evalSeconds ?? 0), 0);
}

/** Mean training images/s over a history's epochs. */
function meanImagesPerSecond(history: readonly EpochRecord[]): number {
  return history.reduce((a, h) => a + h.imagesPerSecond, 0) / Math.max(1, history.length);
}

export function machineInfo() {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
  };
}

/**
 * Runs the preset's methods x seeds (or one shard of that grid). Each run's
 * result goes to `outDir/runs/<method>-seed<S>/result.json` as soon as it is
 * done, so an interrupted sweep resumes where it stopped (`resume`), and
 * shards write disjoint folders that `mergeResults` combines.
 */
export async function runBench(options: BenchOptions): Promise<RunResult[]> {
  const { preset, outDir } = options;
  const log = options.log ?? ((l: string) => console.error(l));
  const methods = options.methods ?? preset.methods;
  // Unknown quantizers, bad options and repeated methods fail before any data is loaded or trained.
  const resolved = new Map(methods.map((m) => [m, resolveMethod(m, preset)]));
  if (resolved.size !== methods.length)
    throw new Error(`a method is listed twice: ${methods.join(', ')}`);
  const seeds = options.seeds ?? preset.seeds;
  const data = await options.loadData(preset);
  mkdirSync(path.join(outDir, 'runs'), { recursive: true });

  const pretrainConfig: TrainConfigInput = {
    ...preset.pretrain,
    ...(options.pretrainEpochs ? { epochs: options.pretrainEpochs } : {}),
  };
  const runConfig: TrainConfigInput =
    preset.protocol === 'finetune'
      ? {
          ...(preset.finetune ?? preset.pretrain),
          ...(options.epochs ? { epochs: options.epochs } : {}),
        }
      : { ...preset.pretrain, ...(options.epochs ? { epochs: options.epochs } : {}) };

  const slice = gridSlice(methods, seeds, options.shard);
  const overall = planProgress(slice, {
    outDir,
    finetune: preset.protocol === 'finetune',
    pretrainEpochs: pretrainConfig.epochs,
    runEpochs: runConfig.epochs,
    resume: options.resume ?? false,
  });
  let mark = performance.now();
  const onEpoch = () => {
    const now = performance.now();
    overall.epochFinished((now - mark) / 1000);
    mark = now;
    log(`[bench] overall: ${overall.line()}`);
  };

  const results: RunResult[] = [];
  for (const { method, seed } of slice) {
    const dir = path.join(outDir, 'runs', runDirName(method, seed));
    const resultFile = path.join(dir, 'result.json');
    if (existsSync(resultFile) && options.resume) {
      log(`[bench] ${method} seed ${seed}: already done, reusing ${resultFile}`);
      results.push(JSON.parse(readFileSync(resultFile, 'utf8')) as RunResult);
      continue;
    }
    const base = buildModel(preset.model, data, seed);
    if (preset.protocol === 'finetune') {
      // The FP32 checkpoint is trained once per seed and shared by every method.
      const pretrainDir = path.join(outDir, 'pretrain', `seed${seed}`);
      const done = path.join(pretrainDir, 'done.json');
      if (!existsSync(done)) {
        log(`[bench] pre-training FP32 (seed ${seed}) for ${pretrainConfig.epochs} epochs`);
        mark = performance.now();
        const r = await train({
          model: base,
          data,
          config: { ...pretrainConfig, seed },
          outDir: pretrainDir,
          resume: options.resume ?? false,
          progress: options.progress,
          label: `fp32-pretrain s${seed}`,
          onEpoch,
        });
        writeJsonAtomic(done, { history: r.history });
      } else {
        await loadCheckpoint(path.join(pretrainDir, 'checkpoint'), base);
        log(`[bench] using the FP32 pre-training of seed ${seed} from ${pretrainDir}`);
      }
    }
    const { spec, config: qconfig } = resolved.get(method)!;
    const { model } = quantizeModel(base, { default: spec.quantizer, defaultConfig: qconfig });
    base.dispose(); // quantizeModel copied its weights
    log(`[bench] ${method} seed ${seed}: training ${runConfig.epochs} epochs (${preset.protocol})`);
    mark = performance.now();
    const r = await train({
      model,
      data,
      config: { ...runConfig, seed },
      outDir: dir,
      resume: options.resume ?? false,
      progress: options.progress,
      label: `${method} s${seed}`,
      onEpoch: (record) => {
        onEpoch();
        const warning = negativeScalesLine(record.layers);
        if (warning)
          log(`[bench] ${method} seed ${seed} epoch ${record.epoch}: warning: ${warning}`);
      },
    });
    const summary = modelSummary(model);
    const complexity = modelComplexity(model);
    const last = r.history[r.history.length - 1]!;
    let zeros = 0;
    let quantized = 0;
    for (const l of last.layers) {
      if (l.bits >= 32) continue;
      zeros += l.share.zero * l.numWeights;
      quantized += l.numWeights;
    }
    const result: RunResult = {
      method,
      seed,
      quantizer: {
        name: spec.quantizer,
        config: getQuantizer(spec.quantizer, qconfig).getConfig(),
      },
      protocol: preset.protocol,
      epochs: r.history.length,
      history: r.history,
      initialLayers: r.initialLayers,
      finalTestAccuracy: last.testAccuracy,
      bestTestAccuracy: Math.max(...r.history.map((h) => h.testAccuracy)),
      weightMemoryBytes: summary.totals.memoryBytes,
      float32MemoryBytes: summary.totals.float32Bytes,
      compressionRatio: summary.totals.compressionRatio,
      sparsity: quantized ? zeros / quantized : 0,
      trainImagesPerSecond: meanImagesPerSecond(r.history),
      wallSeconds: historyWallSeconds(r.history),
      params: complexity.params,
      macs: complexity.macs,
    };
    writeJsonAtomic(resultFile, result);
    results.push(result);
    model.dispose();
  }
  return results;
}

/**
 * Counts the epochs of every phase this sweep (or shard) still has to run:
 * FP32 pre-training once per seed unless done, and each method x seed run
 * without a result. With `resume`, epochs already in a checkpoint are done.
 */
function planProgress(
  slice: readonly { method: string; seed: number }[],
  plan: {
    outDir: string;
    finetune: boolean;
    pretrainEpochs: number;
    runEpochs: number;
    resume: boolean;
  },
): OverallProgress {
  const checkpointed = (dir: string, epochs: number): number => {
    if (!plan.resume) return 0;
    try {
      const epoch = readCheckpointIndex(path.join(dir, 'checkpoint')).state.epoch;
      return typeof epoch === 'number' ? Math.min(epochs, Math.max(0, epoch)) : 0;
    } catch {
      return 0; // no (readable) checkpoint: the phase starts from scratch
    }
  };
  let total = 0;
  let done = 0;
  const pretrainSeeds = new Set<number>();
  for (const { method, seed } of slice) {
    const dir = path.join(plan.outDir, 'runs', runDirName(method, seed));
    if (plan.resume && existsSync(path.join(dir, 'result.json'))) continue;
    const pretrainDir = path.join(plan.outDir, 'pretrain', `seed${seed}`);
    if (
      plan.finetune &&
      !pretrainSeeds.has(seed) &&
      !existsSync(path.join(pretrainDir, 'done.json'))
    ) {
      pretrainSeeds.add(seed);
      total += plan.pretrainEpochs;
      done += checkpointed(pretrainDir, plan.pretrainEpochs);
    }
    total += plan.runEpochs;
    done += checkpointed(dir, plan.runEpochs);
  }
  return new OverallProgress(total, done);
}

/** Reads every finished run under one or more bench output folders. */
export function collectRuns(dirs: readonly string[]): RunResult[] {
  const byKey = new Map<string, RunResult>();
  for (const dir of dirs) {
    const runs = path.join(dir, 'runs');
    if (!existsSync(runs))
      throw new Error(`${dir}: not a trit bench output folder (no runs/ inside)`);
    for (const name of readdirSync(runs).sort()) {
      const file = path.join(runs, name, 'result.json');
      if (!existsSync(file)) continue;
      const r = JSON.parse(readFileSync(file, 'utf8')) as RunResult;
      byKey.set(`${r.method}\u0000${r.seed}`, r);
    }
  }
  return [...byKey.values()];
}

/** Reads one `pretrain/seed<S>/done.json`; anything but `{ history: EpochRecord[] }` with at least one epoch is an error naming the file. */
function readPretraining(file: string, seed: number): PretrainingResult {
  const malformed = (why: string) => new Error(`${file}: malformed done.json (${why})`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw malformed(`not valid JSON: ${(err as Error).message}`);
  }
  const history =
    raw !== null && typeof raw === 'object' ? (raw as { history?: unknown }).history : undefined;
  if (!Array.isArray(history) || history.length === 0)
    throw malformed('expected { "history": [...] } with at least one epoch record');
  history.forEach((h: unknown, i) => {
    if (h === null || typeof h !== 'object') throw malformed(`history[${i}] is not an object`);
    const record = h as Record<string, unknown>;
    for (const key of ['epoch', 'testAccuracy', 'imagesPerSecond', 'seconds', 'evalSeconds']) {
      const v = record[key];
      if (key === 'evalSeconds' && v === undefined) continue; // records of older versions
      if (typeof v !== 'number' || !Number.isFinite(v))
        throw malformed(
          `history[${i}].${key} is ${JSON.stringify(v) ?? 'missing'}, expected a number`,
        );
    }
  });
  const records = history as EpochRecord[];
  return {
    seed,
    epochs: records.length,
    finalTestAccuracy: records[records.length - 1]!.testAccuracy,
    bestTestAccuracy: Math.max(...records.map((h) => h.testAccuracy)),
    trainImagesPerSecond: meanImagesPerSecond(records),
    wallSeconds: historyWallSeconds(records),
    history: records,
  };
}

/**
 * Reads every finished FP32 pre-training (`pretrain/seed<S>/done.json`, finetune
 * protocol) under one or more bench output folders, sorted by seed. Unfinished
 * pre-trainings (no done.json) are skipped; a seed found in several folders
 * (each shard pre-trains its own seeds) is listed once, from the first folder.
 * Folders without `pretrain/` (scratch protocol) contribute nothing.
 */
export function collectPretraining(dirs: readonly string[]): PretrainingResult[] {
  const bySeed = new Map<number, PretrainingResult>();
  for (const dir of dirs) {
    const root = path.join(dir, 'pretrain');
    if (!existsSync(root)) continue;
    for (const name of readdirSync(root)) {
      const m = /^seed(\d+)$/.exec(name);
      if (!m) continue;
      const seed = Number(m[1]);
      const file = path.join(root, name, 'done.json');
      if (bySeed.has(seed) || !existsSync(file)) continue;
      bySeed.set(seed, readPretraining(file, seed));
    }
  }
  return [...bySeed.values()].sort((a, b) => a.seed - b.seed);
}
