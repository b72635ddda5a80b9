import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import {
  type BackendInfo,
  getQuantizer,
  modelSummary,
  quantizeModel,
  quantLayers,
} from '@trit/quant-core';
import { z } from 'zod';
import { writeJsonAtomic } from '../atomic-write.js';
import { modelComplexity } from '../models/complexity.js';
import { buildRegisteredModel } from '../models/registry.js';
import { loadCheckpoint, readCheckpointIndex } from '../training/checkpoint.js';
import {
  type EpochRecord,
  epochLine,
  type LayerStatsRecord,
  type TrainData,
  train,
} from '../training/train.js';
import { loadStudyData } from './data-sources.js';
import { type FolderLock, isLockFile, lockFolder } from './folder-lock.js';
import {
  checkFolder,
  claimFolder,
  describeDifference,
  type PretrainIdentity,
  RUN_FORMAT_VERSION,
  type RunIdentity,
  StaleResultsError,
} from './identity.js';
import { OverallProgress } from './overall-progress.js';
import {
  MalformedResultError,
  PretrainDoneSchema,
  RunResultSchema,
  readValidated,
} from './result-schema.js';
import {
  type ModelSpec,
  methodLabel,
  parseStudy,
  portableStudy,
  type ResolvedMethod,
  resolveStudy,
  resolveStudyPaths,
  type Study,
} from './study.js';
import { negativeScalesLine, runawayScalesLine } from './warnings.js';

/** Everything one (method, seed) run produced. */
export interface RunResult {
  /** The method's label: a quantizer name, or a variant such as `ttq:init=mean` (`parseMethod`). */
  readonly method: string;
  readonly seed: number;
  readonly quantizer: { readonly name: string; readonly config: Record<string, unknown> };
  readonly protocol: Study['protocol'];
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
  /**
   * The backend and machine of the process that finished the run (a resumed
   * run's earlier epochs may have run elsewhere; its history's per-epoch
   * speeds are each their own). Absent in results written before trit recorded them.
   */
  readonly backend?: Record<string, unknown>;
  readonly machine?: Record<string, unknown>;
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
  /** As {@link RunResult.backend}: of the process that finished the pre-training. */
  readonly backend?: Record<string, unknown>;
  readonly machine?: Record<string, unknown>;
}

export interface BenchOptions {
  /** The study to run (see {@link resolveStudy}); CLI overrides are applied before. */
  readonly study: Study;
  readonly outDir: string;
  /** Reuse finished runs and continue checkpoints whose recorded configuration matches. */
  readonly resume?: boolean;
  /** `[i, n]`: run the i-th (1-based) of n slices of the methods x seeds grid. */
  readonly shard?: readonly [number, number];
  /** Loads the study's data (default: {@link loadStudyData}). */
  readonly loadData?: (study: Study) => Promise<TrainData>;
  readonly backend: BackendInfo;
  readonly progress?: boolean;
  readonly log?: (line: string) => void;
  /** FP32 pre-training only (finetune protocol): stop once the shared checkpoints exist. */
  readonly pretrainOnly?: boolean;
}

/** Builds a study's model (by registry name) for the data, seeded. */
export function buildModel(
  spec: ModelSpec,
  data: Pick<TrainData, 'inputShape' | 'numClasses'>,
  seed: number,
): tf.LayersModel {
  return buildRegisteredModel(spec, data, seed);
}

/**
 * The grid of (method, seed) pairs, in a fixed order (seed-major: the study's
 * seeds, then any further seed a row names), and the slice a shard runs.
 * `seedsOf` gives a row's own seeds (a method entry's `seeds`); rows without
 * run every seed of `seeds`.
 */
export function gridSlice(
  methods: readonly string[],
  seeds: readonly number[],
  shard?: readonly [number, number],
  seedsOf: (method: string) => readonly number[] = () => seeds,
) {
  const order = [
    ...new Set([...seeds, ...methods.flatMap((m) => [...seedsOf(m)].sort((a, b) => a - b))]),
  ];
  const grid = order.flatMap((seed) =>
    methods.filter((m) => seedsOf(m).includes(seed)).map((method) => ({ method, seed })),
  );
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

/** The folder of a study's FP32 pre-training for `seed` (finetune protocol): its `pretrainFrom`, or `<out>/pretrain/seed<S>`. */
export function pretrainDir(
  outDir: string,
  seed: number,
  study?: Pick<Study, 'pretrainFrom'>,
): string {
  return study?.pretrainFrom ?? path.join(outDir, 'pretrain', `seed${seed}`);
}

/** The seed whose FP32 pre-training a run of `seed` starts from: the study's `pretrainSeed` if shared. */
export function pretrainSeedFor(study: Pick<Study, 'pretrainSeed'>, seed: number): number {
  return study.pretrainSeed ?? seed;
}

/** What a study's FP32 pre-training with `seed` is. */
export function pretrainIdentity(study: Study, seed: number): PretrainIdentity {
  return {
    kind: 'pretrain',
    version: RUN_FORMAT_VERSION,
    data: study.data,
    model: study.model,
    train: { ...study.pretrain, seed },
  };
}

/** What a study's run of `method` with `seed` is. */
export function runIdentity(study: Study, method: ResolvedMethod, seed: number): RunIdentity {
  return {
    kind: 'run',
    version: RUN_FORMAT_VERSION,
    data: study.data,
    model: study.model,
    protocol: study.protocol,
    method: method.label,
    quantizer: {
      name: method.quantizer,
      config: getQuantizer(method.quantizer, { ...method.quantizerConfig }).getConfig(),
    },
    train: { ...method.train, seed },
    pretraining:
      study.protocol === 'finetune' ? pretrainIdentity(study, pretrainSeedFor(study, seed)) : null,
  };
}

/**
 * Runs the study's methods x seeds (or one shard of that grid). Each run's
 * result goes to `outDir/runs/<label>-seed<S>/result.json` as soon as it is
 * done, so an interrupted sweep resumes where it stopped (`resume`), and
 * shards write disjoint folders that `trit bench merge` combines. Every run
 * and pre-training folder records its full configuration (`identity.json`);
 * a folder whose record differs from what this study would run stops the
 * sweep with a {@link StaleResultsError} naming the field, so results of
 * another configuration are never reused or mixed in.
 */
export async function runBench(options: BenchOptions): Promise<RunResult[]> {
  const { outDir } = options;
  const log = options.log ?? ((l: string) => console.error(l));
  // Unknown quantizers, bad options and repeated methods fail before any data is loaded or trained.
  const resolved = resolveStudy(options.study);
  checkNotAFile(outDir);
  // One process per folder: the lock is taken before the folder is judged, so a second process
  // is told that the folder is in use, not that it holds runs.
  const created = !existsSync(outDir);
  mkdirSync(outDir, { recursive: true });
  // A sweep that fails before writing anything leaves no folder behind; rmdir removes only an
  // empty one, so another process's lock or files in it are never removed.
  const removeIfEmpty = () => {
    if (!created) return;
    try {
      rmdirSync(outDir);
    } catch {
      // Not empty: it holds runs, outputs or another process's lock.
    }
  };
  let lock: FolderLock;
  try {
    lock = lockFolder(outDir, log);
  } catch (err) {
    removeIfEmpty();
    throw err;
  }
  try {
    return await sweep(options, resolved, lock, log);
  } finally {
    lock.release();
    removeIfEmpty();
  }
}

async function sweep(
  options: BenchOptions,
  { study, methods }: ReturnType<typeof resolveStudy>,
  lock: FolderLock,
  log: (line: string) => void,
): Promise<RunResult[]> {
  const { outDir } = options;
  const resume = options.resume ?? false;
  const folderStudy = checkStudyFolder(outDir, study, resume);
  const byLabel = new Map(methods.map((m) => [m.label, m]));
  const slice = gridSlice(
    methods.map((m) => m.label),
    study.seeds,
    options.shard,
    (label) => byLabel.get(label)!.seeds,
  );
  // Check every folder this sweep will touch before training anything.
  for (const { method, seed } of slice) {
    const dir = path.join(outDir, 'runs', runDirName(method, seed));
    if (existsSync(dir)) checkFolder(dir, runIdentity(study, byLabel.get(method)!, seed), 'a run');
    if (study.protocol === 'finetune') {
      const ps = pretrainSeedFor(study, seed);
      const pdir = pretrainDir(outDir, ps, study);
      if (existsSync(pdir)) checkFolder(pdir, pretrainIdentity(study, ps), 'an FP32 pre-training');
    }
  }
  const data = await (options.loadData ?? ((s: Study) => loadStudyData(s.data)))(study);
  // Every check passed and the data loaded: the folder becomes this study's.
  recordStudy(outDir, folderStudy);
  mkdirSync(path.join(outDir, 'runs'), { recursive: true });

  const overall = planProgress(slice, {
    outDir,
    study,
    pretrainOnly: options.pretrainOnly ?? false,
    epochsOf: (label) => byLabel.get(label)!.train.epochs,
    resume,
  });
  // What every result and done.json of this invocation records it ran on.
  const recordedOn = { backend: { ...options.backend }, machine: machineInfo() };
  let mark = performance.now();
  // Without progress bars (batch jobs, logs) each epoch's result is a log line of its own.
  const onEpoch = (label: string, record: EpochRecord, epochs: number) => {
    if (options.progress === false) log(`[bench] ${epochLine(label, record, epochs)}`);
    const now = performance.now();
    overall.epochFinished((now - mark) / 1000);
    mark = now;
    log(`[bench] overall: ${overall.line()}`);
  };

  /** Trains (or resumes) the FP32 pre-training of `seed` unless done; loads it into `model`. */
  const pretrained = async (model: tf.LayersModel, seed: number): Promise<void> => {
    const dir = pretrainDir(outDir, seed, study);
    const done = path.join(dir, 'done.json');
    if (existsSync(done)) {
      await loadCheckpoint(path.join(dir, 'checkpoint'), model);
      log(`[bench] using the FP32 pre-training of seed ${seed} from ${dir}`);
      return;
    }
    mkdirSync(dir, { recursive: true });
    claimFolder(dir, pretrainIdentity(study, seed), 'an FP32 pre-training');
    lock.setCurrent(path.relative(outDir, dir));
    log(`[bench] pre-training FP32 (seed ${seed}) for ${study.pretrain.epochs} epochs`);
    mark = performance.now();
    const r = await train({
      model,
      data,
      config: { ...study.pretrain, seed },
      outDir: dir,
      resume,
      progress: options.progress,
      label: `fp32-pretrain s${seed}`,
      log: (line) => log(`[bench] FP32 pre-training (seed ${seed}): ${line}`),
      onEpoch: (record) => onEpoch(`fp32-pretrain s${seed}`, record, study.pretrain.epochs),
    });
    writeJsonAtomic(done, { history: r.history, ...recordedOn });
    lock.setCurrent(undefined);
  };

  const results: RunResult[] = [];
  if (options.pretrainOnly) {
    if (study.protocol !== 'finetune')
      throw new Error('--pretrain-only: the study has no pre-training (protocol "scratch")');
    for (const seed of new Set(slice.map((r) => pretrainSeedFor(study, r.seed)))) {
      const base = buildModel(study.model, data, seed);
      await pretrained(base, seed);
      base.dispose();
    }
    return results;
  }
  for (const { method, seed } of slice) {
    const m = byLabel.get(method)!;
    const dir = path.join(outDir, 'runs', runDirName(method, seed));
    const resultFile = path.join(dir, 'result.json');
    if (existsSync(resultFile) && resume) {
      log(`[bench] ${method} seed ${seed}: already done, reusing ${resultFile}`);
      results.push(readValidated(resultFile, RunResultSchema, 'result.json') as RunResult);
      continue;
    }
    const base = buildModel(study.model, data, seed);
    // The FP32 checkpoint is shared by every method (and by every seed with `pretrainSeed`).
    if (study.protocol === 'finetune') await pretrained(base, pretrainSeedFor(study, seed));
    const { model } = quantizeModel(base, {
      default: m.quantizer,
      defaultConfig: { ...m.quantizerConfig },
    });
    base.dispose(); // quantizeModel copied its weights
    mkdirSync(dir, { recursive: true });
    const identity = runIdentity(study, m, seed);
    claimFolder(dir, identity, 'a run');
    lock.setCurrent(path.relative(outDir, dir));
    log(`[bench] ${method} seed ${seed}: training ${m.train.epochs} epochs (${study.protocol})`);
    mark = performance.now();
    // The scales before training (the run's initialLayers), for the runaway-scale warning.
    const initial = quantLayers(model).map((l) => ({ layer: l.name, ...l.stats() }));
    const r = await train({
      model,
      data,
      config: identity.train,
      outDir: dir,
      resume,
      progress: options.progress,
      label: `${method} s${seed}`,
      log: (line) => log(`[bench] ${method} seed ${seed}: ${line}`),
      onEpoch: (record) => {
        onEpoch(`${method} s${seed}`, record, m.train.epochs);
        for (const warning of [
          negativeScalesLine(record.layers),
          runawayScalesLine(initial, record.layers),
        ])
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
      quantizer: identity.quantizer,
      protocol: study.protocol,
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
      ...recordedOn,
    };
    writeJsonAtomic(resultFile, result);
    lock.setCurrent(undefined);
    results.push(result);
    model.dispose();
  }
  return results;
}

/** The parts of a study that every run of one output folder must share. */
export function studyIdentity(study: Study): Record<string, unknown> {
  return {
    version: RUN_FORMAT_VERSION,
    data: study.data,
    model: study.model,
    protocol: study.protocol,
    pretrainSeed: study.pretrainSeed ?? null,
    pretrain: study.pretrain,
    finetune: study.finetune ?? null,
    quantizerConfigs: study.quantizerConfigs,
  };
}

/** The file in a bench output folder that records its study. */
export const STUDY_FILE = 'study.json';

const StudyRecordSchema = z.object({
  format: z.literal('trit-study'),
  study: z.record(z.string(), z.unknown()),
});

/** Reads `<dir>/study.json`: the study the folder's runs belong to (undefined if none). */
export function readStudyRecord(dir: string): Study | undefined {
  const file = path.join(dir, STUDY_FILE);
  if (!existsSync(file)) return undefined;
  const record = readValidated(file, StudyRecordSchema, 'study record');
  try {
    return parseStudy(resolveStudyPaths(record.study, dir), file);
  } catch (err) {
    throw new MalformedResultError(
      `${file}: the recorded study is not valid: ${(err as Error).message}`,
    );
  }
}

/** Method entries and seeds of two studies together (the first's order, then the second's additions). */
export function unionStudy(a: Study, b: Study): Study {
  const have = new Set(a.methods.map(methodLabel));
  // A row b also has is recorded as b gives it: its runs are checked against b's entry
  // (their identity.json), so the record must not keep an entry no run uses any more.
  const fromB = new Map(b.methods.map((e) => [methodLabel(e), e]));
  return {
    ...a,
    methods: [
      ...a.methods.map((e) => fromB.get(methodLabel(e)) ?? e),
      ...b.methods.filter((e) => !have.has(methodLabel(e))),
    ],
    seeds: [...new Set([...a.seeds, ...b.seeds])],
    imports: [...new Set([...a.imports, ...b.imports])],
  };
}

/** Whether a bench folder holds any run or pre-training (not just its study record). */
function hasRuns(outDir: string): boolean {
  const nonEmpty = (d: string) => existsSync(d) && readdirSync(d).length > 0;
  return nonEmpty(path.join(outDir, 'runs')) || nonEmpty(path.join(outDir, 'pretrain'));
}

/** `--out` may be missing or a folder, never a file. */
function checkNotAFile(outDir: string): void {
  if (existsSync(outDir) && !statSync(outDir).isDirectory())
    throw new StaleResultsError(`--out ${outDir} is a file, not a folder`);
}

/**
 * Checks that `outDir` may become (or already is) this study's folder and
 * returns what to record there: a new or empty folder takes the study; a
 * folder of the same study (data, model, protocol, training and quantizer
 * configs; methods and seeds may grow) is continued with `resume` only;
 * anything else is an error that names the difference, so unrelated files
 * are never overwritten and runs of another study never mixed in. Nothing is
 * written here ({@link recordStudy} does, once the sweep really starts).
 */
export function checkStudyFolder(outDir: string, study: Study, resume: boolean): Study {
  checkNotAFile(outDir);
  const entries = existsSync(outDir) ? readdirSync(outDir).filter((e) => !isLockFile(e)) : [];
  const recorded = readStudyRecord(outDir);
  if (recorded === undefined) {
    if (entries.length > 0)
      throw new StaleResultsError(
        `--out ${outDir} is not empty and is not a trit bench folder of a recorded study (no ${STUDY_FILE}${
          entries.includes('runs') ? '; its runs were written by an older trit' : ''
        }); choose a new or empty folder`,
      );
    return study;
  }
  const diff = describeDifference(studyIdentity(recorded), studyIdentity(study));
  if (diff)
    throw new StaleResultsError(
      `--out ${outDir} holds runs of a different study: ${diff}; start fresh with a new --out folder`,
    );
  if (!resume && hasRuns(outDir))
    throw new StaleResultsError(
      `--out ${outDir} already holds runs of this study; pass --resume to continue it (finished runs whose configuration matches are reused), or choose a new --out folder`,
    );
  return unionStudy(recorded, study);
}

/** Writes a bench folder's study record (`study.json`). */
export function recordStudy(outDir: string, study: Study): void {
  mkdirSync(outDir, { recursive: true });
  writeJsonAtomic(path.join(outDir, STUDY_FILE), {
    format: 'trit-study',
    study: portableStudy(study, outDir),
  });
}

/**
 * Counts the epochs of every phase this sweep (or shard) still has to run:
 * FP32 pre-training once per pre-training seed unless done, and each
 * method x seed run without a result. With `resume`, epochs already in a
 * checkpoint are done.
 */
function planProgress(
  slice: readonly { method: string; seed: number }[],
  plan: {
    outDir: string;
    study: Study;
    pretrainOnly: boolean;
    epochsOf: (label: string) => number;
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
  const { study } = plan;
  let total = 0;
  let done = 0;
  const pretrainSeeds = new Set<number>();
  for (const { method, seed } of slice) {
    const dir = path.join(plan.outDir, 'runs', runDirName(method, seed));
    if (!plan.pretrainOnly && plan.resume && existsSync(path.join(dir, 'result.json'))) continue;
    const ps = pretrainSeedFor(study, seed);
    const pdir = pretrainDir(plan.outDir, ps, study);
    if (
      study.protocol === 'finetune' &&
      !pretrainSeeds.has(ps) &&
      !existsSync(path.join(pdir, 'done.json'))
    ) {
      pretrainSeeds.add(ps);
      total += study.pretrain.epochs;
      done += checkpointed(pdir, study.pretrain.epochs);
    }
    if (plan.pretrainOnly) continue;
    const epochs = plan.epochsOf(method);
    total += epochs;
    done += checkpointed(dir, epochs);
  }
  return new OverallProgress(total, done);
}

/**
 * Reads every finished run under one or more bench output folders. Each
 * `result.json` is validated (a malformed one is an error naming the file and
 * field). With `study`, each run's recorded configuration must be the one
 * the study gives its method and seed (else a {@link StaleResultsError}).
 */
export function collectRuns(dirs: readonly string[], study?: Study): RunResult[] {
  const byKey = new Map<string, RunResult>();
  const methods = study ? new Map(resolveStudy(study).methods.map((m) => [m.label, m])) : undefined;
  for (const dir of dirs) {
    const runs = path.join(dir, 'runs');
    if (!existsSync(runs))
      throw new Error(`${dir}: not a trit bench output folder (no runs/ inside)`);
    for (const name of readdirSync(runs).sort()) {
      const runDir = path.join(runs, name);
      const file = path.join(runDir, 'result.json');
      if (!existsSync(file)) continue;
      const r = readValidated(file, RunResultSchema, 'result.json') as RunResult;
      if (study && methods) {
        const m = methods.get(r.method);
        if (!m)
          throw new StaleResultsError(
            `${file}: method "${r.method}" is not a method of study "${study.name}" (${[...methods.keys()].join(', ')})`,
          );
        if (!checkFolder(runDir, runIdentity(study, m, r.seed), 'a run'))
          throw new StaleResultsError(
            `${runDir}: a finished run without its recorded configuration (identity.json)`,
          );
      }
      const key = `${r.method}\u0000${r.seed}`;
      if (!byKey.has(key)) byKey.set(key, r);
    }
  }
  return [...byKey.values()];
}

/** Reads one `pretrain/seed<S>/done.json`, validated; a malformed one is an error naming the file. */
function readPretraining(file: string, seed: number): PretrainingResult {
  const done = readValidated(file, PretrainDoneSchema, 'done.json');
  const records = done.history as EpochRecord[];
  return {
    ...(done.backend ? { backend: done.backend } : {}),
    ...(done.machine ? { machine: done.machine } : {}),
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
 * Folders without `pretrain/` (scratch protocol) contribute nothing. With
 * `study`, each one's recorded configuration must be the study's.
 */
export function collectPretraining(dirs: readonly string[], study?: Study): PretrainingResult[] {
  const bySeed = new Map<number, PretrainingResult>();
  if (study?.pretrainFrom !== undefined && study.pretrainSeed !== undefined) {
    const seed = study.pretrainSeed;
    checkFolder(study.pretrainFrom, pretrainIdentity(study, seed), 'an FP32 pre-training');
    return [readPretraining(path.join(study.pretrainFrom, 'done.json'), seed)];
  }
  for (const dir of dirs) {
    const root = path.join(dir, 'pretrain');
    if (!existsSync(root)) continue;
    for (const name of readdirSync(root)) {
      const m = /^seed(\d+)$/.exec(name);
      if (!m) continue;
      const seed = Number(m[1]);
      const file = path.join(root, name, 'done.json');
      if (bySeed.has(seed) || !existsSync(file)) continue;
      if (study)
        checkFolder(path.join(root, name), pretrainIdentity(study, seed), 'an FP32 pre-training');
      bySeed.set(seed, readPretraining(file, seed));
    }
  }
  return [...bySeed.values()].sort((a, b) => a.seed - b.seed);
}
