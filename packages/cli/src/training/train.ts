import { mkdirSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  allLayers,
  isQuantLayer,
  NonFiniteLossError,
  quantizerVariables,
  quantLayers,
  type TrainStepResult,
  trainStep,
} from '@trit/quant-core';
import cliProgress from 'cli-progress';
import { z } from 'zod';
import { writeJsonAtomic } from '../atomic-write.js';
import type { Batch } from '../data/batches.js';
import {
  CheckpointError,
  discardNewestCheckpoint,
  loadLatestCheckpoint,
  recoverCheckpoint,
  saveCheckpoint,
} from './checkpoint.js';
import {
  learningRateAt,
  makeTrainOptimizer,
  OptimizerSchema,
  QuantizerParamsSchema,
  type ScheduledOptimizer,
  ScheduleSchema,
} from './optimizer.js';
import {
  type EpochRecord,
  type LayerStatsRecord,
  parseTrainState,
  type TrainState,
} from './train-state.js';

export type { EpochRecord, LayerStatsRecord } from './train-state.js';

/**
 * Weight decay per parameter group: `wd · w` is added to each variable's
 * gradient before the optimizer step, the same update as an L2 term
 * `wd/2 · Σ w²` in the loss (the coupled decay of SGD with `weight_decay`, as
 * in the papers' code) without taping four ops per variable.
 * Latent kernels are decayed; quantizer scales (TTQ's Wp/Wn, SQ's α) follow
 * `quantizerScales` (the official TTQ code decays Wp/Wn too); quantizer shape
 * parameters (SQ's β) never are; biases and BatchNorm are not by default.
 */
export const WeightDecaySchema = z.strictObject({
  kernel: z.number().nonnegative().default(1e-4),
  quantizerScales: z.number().nonnegative().default(1e-4),
  bias: z.number().nonnegative().default(0),
  batchNorm: z.number().nonnegative().default(0),
});

/**
 * Largest seed: the input pipeline's PRNG takes 32-bit seeds (`seed >>> 0`),
 * so a larger one would repeat a smaller one's batches.
 */
export const MAX_SEED = 0xffff_ffff;

export const TrainConfigSchema = z.strictObject({
  epochs: z.number().int().positive(),
  batchSize: z.number().int().positive(),
  optimizer: OptimizerSchema,
  schedule: ScheduleSchema.default({ type: 'constant' }),
  weightDecay: WeightDecaySchema.default({
    kernel: 1e-4,
    quantizerScales: 1e-4,
    bias: 0,
    batchNorm: 0,
  }),
  seed: z.number().int().nonnegative().max(MAX_SEED).default(0),
  augment: z.boolean().default(true),
  /** Steps per epoch cap (for smoke runs); default: the whole training split. */
  maxStepsPerEpoch: z.number().int().positive().optional(),
  /** The quantizers' own parameters on an optimizer or learning rate of their own (absent: the run's). */
  quantizerParams: QuantizerParamsSchema.optional(),
  /**
   * Quantizer parameters (by their name in the quantizer: alpha, wp, ...)
   * kept at their initial values: not trained and not decayed. A protocol
   * choice, like `quantizerParams`: e.g. SQ's α, whose task gradient behind a
   * BatchNorm is 0 but for BatchNorm's ε (docs/results/cifar10-resnet20-long).
   */
  freezeQuantizerParams: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .describe(
      'quantizer parameters (by name: alpha, beta, wp, wn, ...) kept at their initial values: not trained, not decayed',
    ),
});
export type TrainConfig = z.infer<typeof TrainConfigSchema>;
export type TrainConfigInput = z.input<typeof TrainConfigSchema>;

/** What training needs from a dataset: batches as the data module's {@link Batch}. */
export interface TrainData {
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  readonly numTrain: number;
  readonly numTest: number;
  /** Shuffled, augmented batches of one epoch; a function of (epoch, seed) only, so resumed runs see the same data. */
  trainBatches(epoch: number, batchSize: number, seed: number, augment: boolean): Iterable<Batch>;
  /** The test split in order, normalized, not augmented. */
  testBatches(batchSize: number): Iterable<Batch>;
}

/**
 * One epoch's result as one log line, e.g. `fp32 s0 epoch 2/15: loss 0.1712,
 * train acc 93.96%, test acc 85.00%, lr 0.00989, 177 img/s, 283.0 s`.
 */
export function epochLine(label: string, record: EpochRecord, epochs: number): string {
  return (
    `${label} epoch ${record.epoch}/${epochs}: loss ${record.trainLoss.toFixed(4)}, ` +
    `train acc ${(record.trainAccuracy * 100).toFixed(2)}%, test acc ${(record.testAccuracy * 100).toFixed(2)}%, ` +
    `lr ${record.lr.toPrecision(3)}, ${record.imagesPerSecond.toFixed(0)} img/s, ${record.seconds.toFixed(1)} s`
  );
}

export interface TrainOptions {
  readonly model: tf.LayersModel;
  readonly data: TrainData;
  readonly config: TrainConfigInput;
  /** Folder for the checkpoint (`checkpoint/`); created if missing. */
  readonly outDir: string;
  /** Continue from `outDir/checkpoint` (or `checkpoint.prev` when that one is bad) if it exists. */
  readonly resume?: boolean;
  /** Show a progress bar on stderr (default true). */
  readonly progress?: boolean;
  /** Label in front of the progress bar. */
  readonly label?: string;
  /** Called after every epoch with its record (after the checkpoint is written). */
  readonly onEpoch?: (record: EpochRecord) => void;
  /** Stop after this many epochs of this call (for tests of interruption). */
  readonly stopAfterEpochs?: number;
  /** Where notices about the checkpoint go (a fall-back to the previous one, an old format); default stderr. */
  readonly log?: (line: string) => void;
}

export interface TrainResult {
  readonly history: EpochRecord[];
  /** Per-layer statistics before the first step (epoch 0), for curves that start at the initial values. */
  readonly initialLayers: readonly LayerStatsRecord[];
  readonly resumedFromEpoch: number;
  readonly checkpointDir: string;
  readonly completed: boolean;
}

/** Thrown when the loss becomes NaN or infinite; the last good checkpoint is kept. */
export class TrainingDivergedError extends Error {
  constructor(
    message: string,
    readonly checkpointDir: string | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'TrainingDivergedError';
  }
}

type Group = 'kernel' | 'quantizerScales' | 'bias' | 'batchNorm' | 'none';

/**
 * The tfjs variable names of the quantizer parameters called `names` (every
 * one when `names` is undefined), found through each quantized layer's own
 * parameter map (`quantizerVariables`), never by matching variable names. A
 * name that no quantizer of the model has is an error naming `field` (a typo
 * would otherwise silently change nothing); a model without quantizer
 * parameters (an FP32 row under a study-wide setting) selects nothing.
 */
function selectQuantizerVariables(
  model: tf.LayersModel,
  names: readonly string[] | undefined,
  field: string,
): Set<string> {
  const out = new Set<string>();
  const seen = new Set<string>();
  for (const { name, variable } of quantizerVariables(model)) {
    seen.add(name);
    // A tfjs variable's name is unique in the process: the optimizer tells variables apart by it.
    if (!names || names.includes(name)) out.add((variable.read() as tf.Variable).name);
  }
  const unknown = (names ?? []).filter((n) => !seen.has(n));
  if (unknown.length && seen.size)
    throw new Error(
      `${field}: ${unknown.map((n) => JSON.stringify(n)).join(', ')} is not a parameter of this model's quantizers (${[...seen].join(', ')})`,
    );
  return out;
}

/**
 * The weight-decay group of every trainable weight of the model (nested
 * models included). A quantized layer's weights are told apart by identity:
 * its kernel, its bias, and its quantizer's parameters from its own parameter
 * map (`weightDecay: false` in the spec: none). Any other layer's: BatchNorm
 * by class, else `bias*` by the tfjs weight name, else kernel.
 */
function groupOfWeight(model: tf.LayersModel): Map<tf.LayerVariable, Group> {
  const out = new Map<tf.LayerVariable, Group>();
  for (const layer of allLayers(model)) {
    if (isQuantLayer(layer)) {
      if (layer.kernel) out.set(layer.kernel, 'kernel');
      if (layer.bias) out.set(layer.bias, 'bias');
      for (const p of layer.quantizerVariables())
        out.set(p.variable, p.spec.weightDecay === false ? 'none' : 'quantizerScales');
    }
    const batchNorm = layer.getClassName().includes('BatchNormalization');
    for (const w of layer.trainableWeights) {
      if (out.has(w)) continue;
      const short = w.originalName.split('/').pop() ?? w.originalName;
      out.set(w, batchNorm ? 'batchNorm' : short.startsWith('bias') ? 'bias' : 'kernel');
    }
  }
  return out;
}

/**
 * Every trainable variable with its weight-decay group, in the order of
 * `model.layers` (the optimizer's slots, and so the checkpoints, follow it).
 */
function decayGroups(model: tf.LayersModel): { variable: tf.Variable; group: Group }[] {
  const groups = groupOfWeight(model);
  return model.layers.flatMap((layer) =>
    layer.trainableWeights.map((w) => ({
      variable: w.read() as tf.Variable,
      group: groups.get(w) ?? 'kernel',
    })),
  );
}

/** The task loss of a training step: mean softmax cross-entropy of the logits. */
const softmaxCrossEntropy = (y: tf.Tensor, logits: tf.Tensor) =>
  tf.losses.softmaxCrossEntropy(y, logits);

/**
 * The step's gradient hook: adds `wd · w` to each decayed variable's gradient
 * (see {@link WeightDecaySchema}), in place; a variable the loss does not
 * reach (no gradient) still decays.
 */
function addWeightDecay(
  grads: tf.NamedTensorMap,
  decays: readonly { variable: tf.Variable; group: Group }[],
  weightDecay: TrainConfig['weightDecay'],
): tf.NamedTensorMap {
  const coefficients = new Map<Group, tf.Scalar>();
  for (const d of decays) {
    let wd = coefficients.get(d.group);
    if (!wd) {
      wd = tf.scalar(weightDecay[d.group as Exclude<Group, 'none'>]);
      coefficients.set(d.group, wd);
    }
    const decay = tf.mul(d.variable, wd);
    const g = grads[d.variable.name];
    grads[d.variable.name] = g ? tf.add(g, decay) : decay;
  }
  return grads;
}

function configKey(config: TrainConfig): string {
  const { maxStepsPerEpoch: _m, ...rest } = config;
  return JSON.stringify(rest);
}

function evaluate(
  model: tf.LayersModel,
  data: TrainData,
  batchSize: number,
): { loss: number; accuracy: number } {
  let loss = 0;
  let correct = 0;
  let n = 0;
  for (const b of data.testBatches(batchSize)) {
    const [l, k] = tf.tidy(() => {
      const x = tf.tensor4d(b.x, b.shape);
      const labels = tf.tensor1d(b.y, 'int32');
      const logits = model.apply(x, { training: false }) as tf.Tensor2D;
      const ce = tf.losses.softmaxCrossEntropy(
        tf.oneHot(labels, data.numClasses),
        logits,
        undefined,
        undefined,
        tf.Reduction.SUM,
      );
      const hits = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'int32'));
      return [ce.dataSync()[0]!, hits.dataSync()[0]!];
    });
    loss += l;
    correct += k;
    n += b.size;
  }
  return { loss: loss / Math.max(1, n), accuracy: correct / Math.max(1, n) };
}

function layerStats(model: tf.LayersModel): LayerStatsRecord[] {
  return quantLayers(model).map((l) => ({ layer: l.name, ...l.stats() }));
}

/**
 * Trains `model` on `data`: SGD or Adam, a step or cosine schedule, weight
 * decay by group, each quantizer's schedule and regularizer, clipping of
 * quantizer parameters after every step, a test evaluation with the
 * quantized weights and per-layer statistics every epoch, and an atomic
 * checkpoint after every epoch (the previous one kept as `checkpoint.prev`).
 * `resume` continues an interrupted run to the same result, from the newest
 * checkpoint that passes every check (checksums, every field of its state),
 * falling back to the previous one with a logged line when the newest is
 * bad. Each step is quant-core's `trainStep` (weight decay is its
 * `transformGradients` hook, the accuracy its `metrics`). A NaN or infinite
 * loss stops the run with {@link TrainingDivergedError} before that step
 * changes any weight, and keeps the last good checkpoint.
 */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const config = TrainConfigSchema.parse(options.config);
  const both = (config.freezeQuantizerParams ?? []).filter((n) =>
    config.quantizerParams?.params?.includes(n),
  );
  if (both.length)
    throw new Error(
      `freezeQuantizerParams: ${both.map((n) => JSON.stringify(n)).join(', ')} is also in quantizerParams.params; a parameter is either frozen or trained`,
    );
  mkdirSync(options.outDir, { recursive: true });
  const checkpointDir = path.join(options.outDir, 'checkpoint');
  const scheduled = makeTrainOptimizer(
    config.optimizer,
    config.quantizerParams,
    config.quantizerParams
      ? selectQuantizerVariables(
          options.model,
          config.quantizerParams.params,
          'quantizerParams.params',
        )
      : new Set<string>(),
  );
  try {
    return await trainLoop(options, config, scheduled, checkpointDir);
  } finally {
    // The optimizer's slots (momentum, Adam moments) would outlive the run otherwise.
    scheduled.dispose();
  }
}

async function trainLoop(
  options: TrainOptions,
  config: TrainConfig,
  { optimizer, setLearningRate }: ScheduledOptimizer,
  checkpointDir: string,
): Promise<TrainResult> {
  const { model, data } = options;
  const log =
    options.log ??
    ((line: string) => process.stderr.write(`[${options.label ?? 'train'}] ${line}\n`));
  // Frozen quantizer parameters are left out of the step: no gradient, no decay, no optimizer slot.
  const frozen = config.freezeQuantizerParams
    ? selectQuantizerVariables(model, config.freezeQuantizerParams, 'freezeQuantizerParams')
    : new Set<string>();
  const groups = decayGroups(model).filter((g) => !frozen.has(g.variable.name));
  const varList = groups.map((g) => g.variable);
  const decays = groups.filter((g) => g.group !== 'none' && config.weightDecay[g.group] > 0);

  let history: EpochRecord[] = [];
  let initialLayers: readonly LayerStatsRecord[] = layerStats(model);
  let startEpoch = 0;
  // The topology next to the checkpoint, so `trit export <run>` can rebuild the model.
  const topology = path.join(options.outDir, 'model.json');
  writeJsonAtomic(topology, model.toJSON(null, false));
  // A run killed while writing its checkpoint leaves it in a temp folder (or the previous one aside).
  recoverCheckpoint(checkpointDir);
  // A fresh run must not keep what an earlier run left in checkpoint/ as its fall-back.
  let keepPrevious = false;
  if (options.resume) {
    const key = configKey(config);
    const loaded = await loadLatestCheckpoint(checkpointDir, model, optimizer, {
      log,
      parseState: (raw, file): TrainState => {
        const state = parseTrainState(raw, file);
        if (state.configKey !== key) {
          throw new Error(
            `${checkpointDir} was written by a run with a different training config; ` +
              `refusing to resume (saved ${state.configKey}, now ${key})`,
          );
        }
        // The config (epochs included) matches, so more epochs than it has is damage.
        if (state.epoch > config.epochs) {
          throw new CheckpointError(
            `${file}: field "state.epoch": ${state.epoch} is more than the run's ${config.epochs} epochs`,
          );
        }
        return state;
      },
    });
    if (loaded) {
      if (loaded.fellBackBecause !== undefined) discardNewestCheckpoint(checkpointDir);
      const { state } = loaded;
      history = [...state.history];
      initialLayers = state.initialLayers ?? initialLayers;
      startEpoch = state.epoch;
      // Say where a resumed run picks up, so a log shows which epochs this process trained.
      log(
        startEpoch < config.epochs
          ? `resuming after epoch ${startEpoch} of ${config.epochs} from ${checkpointDir}`
          : `already trained ${startEpoch} of ${config.epochs} epochs (${checkpointDir})`,
      );
      for (const l of quantLayers(model)) {
        const s = state.quantizerStates[l.name];
        if (s) l.quantizer.setState(s);
      }
      keepPrevious = true;
    }
  }

  const fullSteps = Math.ceil(data.numTrain / config.batchSize);
  const stepsPerEpoch = Math.min(fullSteps, config.maxStepsPerEpoch ?? fullSteps);
  const showBar = options.progress ?? true;
  let epochsThisCall = 0;

  for (let epoch = startEpoch; epoch < config.epochs; epoch++) {
    if (options.stopAfterEpochs !== undefined && epochsThisCall >= options.stopAfterEpochs) {
      return {
        history,
        initialLayers,
        resumedFromEpoch: startEpoch,
        checkpointDir,
        completed: false,
      };
    }
    const bar = showBar
      ? new cliProgress.SingleBar(
          {
            format: `${options.label ?? 'train'} epoch ${epoch + 1}/${config.epochs} {bar} {value}/{total} img | {rate} img/s | loss {loss} | ETA {eta_formatted}`,
            noTTYOutput: true,
            notTTYSchedule: 30_000,
            stream: process.stderr,
            hideCursor: false,
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
    const total = Math.min(data.numTrain, stepsPerEpoch * config.batchSize);
    bar?.start(total, 0, { rate: '-', loss: '-' });
    const t0 = performance.now();
    let seen = 0;
    let lossSum = 0;
    let regSum = 0;
    let correct = 0;
    let lr = config.optimizer.lr;
    let step = 0;
    for (const b of data.trainBatches(epoch, config.batchSize, config.seed, config.augment)) {
      if (step >= stepsPerEpoch) break;
      lr = learningRateAt(
        config.optimizer.lr,
        config.schedule,
        epoch + step / stepsPerEpoch,
        config.epochs,
      );
      setLearningRate(lr);
      const progress = { epoch, epochs: config.epochs, step, stepsPerEpoch };
      const x = tf.tensor4d(b.x, b.shape);
      const labels = tf.tensor1d(b.y, 'int32');
      const y = tf.oneHot(labels, data.numClasses);
      let result: TrainStepResult;
      try {
        result = trainStep(model, optimizer, x, y, softmaxCrossEntropy, {
          progress,
          variables: varList,
          metrics: (_y, logits) => ({
            hits: tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'int32')),
          }),
          transformGradients: (grads) => addWeightDecay(grads, decays, config.weightDecay),
        });
      } catch (err) {
        if (!(err instanceof NonFiniteLossError)) throw err;
        bar?.stop();
        const last = history.length
          ? `${checkpointDir} (after epoch ${history.length})`
          : undefined;
        throw new TrainingDivergedError(
          `training diverged: the loss is ${err.loss} at epoch ${epoch + 1}, step ${step + 1} (learning rate ${lr}). The step was not applied. ` +
            (last
              ? `The last good checkpoint is kept at ${last}.`
              : 'No checkpoint was written yet.') +
            ' Lower the learning rate or check the data.',
          last ? checkpointDir : undefined,
          { cause: err },
        );
      } finally {
        tf.dispose([x, labels, y]);
      }
      const { loss, regularization: reg } = result;
      const hits = result.metrics.hits!;
      seen += b.size;
      lossSum += loss * b.size;
      regSum += reg * b.size;
      correct += hits;
      step++;
      const secs = (performance.now() - t0) / 1000;
      bar?.update(seen, { rate: (seen / secs).toFixed(0), loss: (lossSum / seen).toFixed(3) });
      // The step loop is otherwise synchronous: yield so timers run (the bar renders on one
      // when stderr is not a terminal, e.g. in a log file).
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    bar?.stop();
    const seconds = (performance.now() - t0) / 1000;
    const tEval = performance.now();
    const test = evaluate(model, data, Math.max(config.batchSize, 256));
    const evalSeconds = (performance.now() - tEval) / 1000;
    const record: EpochRecord = {
      epoch: epoch + 1,
      lr,
      trainLoss: lossSum / Math.max(1, seen),
      trainAccuracy: correct / Math.max(1, seen),
      regularizationLoss: regSum / Math.max(1, seen),
      testLoss: test.loss,
      testAccuracy: test.accuracy,
      imagesPerSecond: seen / seconds,
      seconds,
      evalSeconds,
      layers: layerStats(model),
    };
    history = [...history, record];
    const quantizerStates = Object.fromEntries(
      quantLayers(model).map((l) => [l.name, l.quantizer.getState()]),
    );
    const state: TrainState = {
      epoch: epoch + 1,
      history,
      initialLayers,
      configKey: configKey(config),
      quantizerStates,
    };
    await saveCheckpoint(checkpointDir, model, optimizer, { ...state }, { keepPrevious });
    keepPrevious = true;
    if (showBar)
      process.stderr.write(`${epochLine(options.label ?? 'train', record, config.epochs)}\n`);
    options.onEpoch?.(record);
    epochsThisCall++;
  }
  return { history, initialLayers, resumedFromEpoch: startEpoch, checkpointDir, completed: true };
}
