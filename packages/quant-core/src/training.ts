/**
 * Model-level training glue for quantized layers: schedules, regularizers,
 * parameter clipping, a `model.fit` callback and a custom training step.
 *
 * With `model.fit`: the quantizers' regularizers are layer losses, which
 * `LayersModel.fit` adds to the total loss by itself (tfjs-layers
 * `calculateLosses`); schedules and clipping need {@link QuantizerCallback}.
 * With a custom loop: {@link trainStep} does all of it.
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs';
import { isQuantLayer, type QuantLayer } from './layers/quant-layer.js';
import type { TrainingProgress } from './quantizer.js';

/** Every layer of `model` in order, descending into nested models. */
export function allLayers(model: tf.LayersModel): tf.layers.Layer[] {
  const out: tf.layers.Layer[] = [];
  const visit = (m: tf.LayersModel) => {
    for (const layer of m.layers) {
      if (layer instanceof tf.LayersModel) visit(layer);
      else out.push(layer);
    }
  };
  visit(model);
  return out;
}

/** The quantized layers ({@link QuantConv2D}, {@link QuantDense}) of a model, in order. */
export function quantLayers(model: tf.LayersModel): QuantLayer[] {
  return allLayers(model).filter(isQuantLayer);
}

/**
 * Sum of the quantizers' regularization losses over the model's layers, or
 * null if no layer has one. For custom training loops that do not use
 * `model.calculateLosses()` (which already includes them, as `fit` does):
 * do not add both.
 */
export function quantRegularizationLoss(model: tf.LayersModel): tf.Scalar | null {
  return tf.tidy(() => {
    let total: tf.Scalar | null = null;
    for (const layer of quantLayers(model)) {
      if (!layer.built) continue;
      const r = layer.regularizationLoss();
      if (r) total = total ? (tf.add(total, r) as tf.Scalar) : r;
    }
    return total as tf.Scalar;
  }) as tf.Scalar | null;
}

/** Advances every quantizer's schedule (HLA's phases); call before each training step. */
export function quantizerStep(model: tf.LayersModel, progress: TrainingProgress): void {
  for (const layer of quantLayers(model)) layer.quantizer.onStep(progress);
}

/**
 * Projects every quantizer parameter onto its `clip` range (SQ's `beta`);
 * call after each optimizer step. tfjs-layers applies no constraints during
 * `fit`, hence this explicit projection.
 */
export function clipQuantizerParams(model: tf.LayersModel): void {
  for (const layer of quantLayers(model)) layer.clipQuantizerParams();
}

/** Options of {@link QuantizerCallback}. */
export interface QuantizerCallbackOptions {
  /**
   * Total epochs of the run that the schedules span. Default: the `epochs`
   * of the `fit` call. Set it when a run is split over several `fit` calls
   * (with `initialEpoch`), so that HLA's phases follow the whole run.
   */
  readonly epochs?: number;
  /** Steps per epoch. Default: from the `fit` call (`ceil(samples / batchSize)`, or `stepsPerEpoch`). */
  readonly stepsPerEpoch?: number;
}

/**
 * `model.fit` callback that calls {@link quantizerStep} before every batch and
 * {@link clipQuantizerParams} after it.
 *
 * @example
 * await model.fit(x, y, { epochs: 10, callbacks: [new QuantizerCallback()] });
 */
export class QuantizerCallback extends tf.Callback {
  private readonly options: QuantizerCallbackOptions;
  private epoch = 0;

  constructor(options: QuantizerCallbackOptions = {}) {
    super();
    for (const key of ['epochs', 'stepsPerEpoch'] as const) {
      const v = options[key];
      if (v !== undefined && !(Number.isInteger(v) && v > 0)) {
        throw new Error(
          `QuantizerCallback: ${key} must be a positive integer, got ${JSON.stringify(v)}`,
        );
      }
    }
    this.options = { ...options };
  }

  /** Steps per epoch of the current `fit` call. */
  private stepsPerEpoch(): number {
    if (this.options.stepsPerEpoch) return this.options.stepsPerEpoch;
    const p = this.params as {
      steps?: number | null;
      samples?: number | null;
      batchSize?: number | null;
    };
    if (p.steps) return p.steps;
    if (p.samples && p.batchSize) return Math.ceil(p.samples / p.batchSize);
    throw new Error(
      'QuantizerCallback: cannot tell the steps per epoch from fit; pass { stepsPerEpoch }',
    );
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.epoch = epoch;
  }

  override async onBatchBegin(batch: number): Promise<void> {
    const epochs = this.options.epochs ?? (this.params as { epochs?: number }).epochs ?? 1;
    quantizerStep(this.model, {
      epoch: this.epoch,
      epochs,
      step: batch,
      stepsPerEpoch: this.stepsPerEpoch(),
    });
  }

  override async onBatchEnd(): Promise<void> {
    clipQuantizerParams(this.model);
  }
}

/** A loss of `(yTrue, yPred)`, per example or already reduced (it is averaged). */
export type LossFn = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

/** Options of {@link trainStep}. */
export interface TrainStepOptions {
  /** When given, {@link quantizerStep} runs first with it. */
  readonly progress?: TrainingProgress;
}

/**
 * One training step of a custom loop, the same as one batch of `model.fit`
 * with {@link QuantizerCallback}:
 * 1. `quantizerStep(model, progress)` when `progress` is given;
 * 2. loss = `mean(lossFn(y, model(x)))` + every layer loss of the model
 *    (`model.calculateLosses()`: the quantizers' regularizers and any
 *    kernel/bias regularizers), with the model in training mode;
 * 3. gradients of that loss to every trainable weight (`tf.variableGrads`),
 *    applied by `optimizer`;
 * 4. {@link clipQuantizerParams}.
 *
 * Returns the loss value; a NaN or infinite loss throws before the step is
 * applied. Every tensor it makes is disposed (the optimizer's own slots, made
 * on its first step, stay).
 */
export function trainStep(
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  x: tf.Tensor | tf.Tensor[],
  y: tf.Tensor,
  lossFn: LossFn,
  options: TrainStepOptions = {},
): number {
  if (options.progress) quantizerStep(model, options.progress);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(() => {
    const pred = model.apply(x, { training: true }) as tf.Tensor;
    let loss = tf.mean(lossFn(y, pred)) as tf.Scalar;
    for (const extra of model.calculateLosses()) loss = tf.add(loss, extra);
    return loss;
  }, variables);
  try {
    const loss = value.dataSync()[0]!;
    if (!Number.isFinite(loss)) {
      throw new Error(
        `trainStep: the loss is ${loss}; training has diverged (the step was not applied)`,
      );
    }
    optimizer.applyGradients(grads);
    clipQuantizerParams(model);
    return loss;
  } finally {
    tf.dispose(value);
    tf.dispose(grads);
  }
}
