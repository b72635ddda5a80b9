/**
 * Model-level training glue for quantized layers: schedules, regularizers,
 * parameter clipping, a `model.fit` callback and a custom training step.
 *
 * With `model.fit`: the quantizers' regularizers are layer losses, which
 * `LayersModel.fit` adds to the total loss by itself (tfjs-layers
 * `calculateLosses`); schedules and clipping need {@link QuantizerCallback}.
 * With a custom loop: {@link trainStep} does all of it, gathering the same
 * layer losses, with hooks for what a loop adds (gradient weight decay,
 * per-step statistics).
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs';
import { isQuantLayer, type QuantizerVariable, type QuantLayer } from './layers/quant-layer.js';
import type { TrainingProgress } from './quantizer.js';

/** A quantizer parameter of a model: a {@link QuantizerVariable} and its layer. */
export interface ModelQuantizerVariable extends QuantizerVariable {
  readonly layer: QuantLayer;
}

/**
 * Every quantizer parameter of the model (TTQ's `wp`/`wn`, SQ's `alpha`/`beta`,
 * ...), layer by layer, from each layer's own parameter map
 * ({@link QuantLayer.quantizerVariables}): the way to single them out (an
 * optimizer of their own, no weight decay) without matching variable names.
 */
export function quantizerVariables(model: tf.LayersModel): ModelQuantizerVariable[] {
  return quantLayers(model).flatMap((layer) =>
    layer.quantizerVariables().map((p) => ({ ...p, layer })),
  );
}

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
 * null if no layer has one. Not public: {@link trainStep} and `fit` gather
 * them with every other layer loss (`model.calculateLosses()`); the tests use
 * it to tell the quantizers' share apart.
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

/** Options of {@link trainStep}: where the run is, and the hooks. */
export interface TrainStepOptions {
  /** When given, {@link quantizerStep} runs first with it (and a diverged loss names it). */
  readonly progress?: TrainingProgress;
  /**
   * The variables to differentiate and update. Default: `model.trainableWeights`.
   * Keep the same list, in the same order, on every step: tfjs optimizers
   * keep their slots (momentum, Adam's moments) by position in the gradients.
   */
  readonly variables?: readonly tf.Variable[];
  /**
   * Changes the gradients before the optimizer applies them, e.g. weight decay
   * `g ← g + wd·w`. Gets the gradient of the loss per variable name (a variable
   * the loss does not reach has none) and returns the map to apply. Runs in a
   * `tf.tidy`, only after the loss was found finite.
   */
  readonly transformGradients?: (grads: tf.NamedTensorMap) => tf.NamedTensorMap;
  /**
   * Per-step statistics from the same forward pass (e.g. the count of correct
   * predictions): scalars, read back with the loss into
   * {@link TrainStepResult.metrics}. They get no gradient.
   */
  readonly metrics?: (yTrue: tf.Tensor, yPred: tf.Tensor) => Record<string, tf.Scalar>;
}

/** What one step reports. */
export interface TrainStepResult {
  /** The loss minimized: the task loss plus {@link regularization}. */
  readonly loss: number;
  /** Sum of the model's layer losses (the quantizers' regularizers, kernel/bias regularizers); 0 without any. */
  readonly regularization: number;
  /** The values of {@link TrainStepOptions.metrics}, by name. */
  readonly metrics: Readonly<Record<string, number>>;
}

/**
 * A training step whose loss is NaN or infinite. Nothing was updated: every
 * weight of the model (BatchNorm's moving statistics included), every
 * optimizer slot and every quantizer's schedule state is as before the step.
 */
export class NonFiniteLossError extends Error {
  constructor(
    /** The loss value (NaN, Infinity or -Infinity). */
    readonly loss: number,
    /** The step's progress, when the step was given one. */
    readonly progress: TrainingProgress | undefined,
  ) {
    const where = progress
      ? ` at epoch ${progress.epoch + 1}/${progress.epochs}, step ${progress.step + 1}/${progress.stepsPerEpoch}`
      : '';
    super(
      `trainStep: the loss is ${loss}${where}; training has diverged (the step was not applied). ` +
        'The weights, the optimizer state and the quantizer schedules are as before the step.',
    );
    this.name = 'NonFiniteLossError';
  }
}

/**
 * The sum of the model's layer losses (`model.calculateLosses()`, what
 * `model.fit` adds: the quantizers' regularizers and any kernel/bias
 * regularizer), folded left in layer order, or null without any. Call it
 * where the loss is taped so that gradients reach the regularized weights.
 */
function layerLossSum(model: tf.LayersModel): tf.Scalar | null {
  let total: tf.Scalar | null = null;
  for (const r of model.calculateLosses()) total = total ? (tf.add(total, r) as tf.Scalar) : r;
  return total;
}

/**
 * One training step of a custom loop, the same as one batch of `model.fit`
 * with {@link QuantizerCallback}:
 * 1. `quantizerStep(model, progress)` when `progress` is given;
 * 2. forward: with the model in training mode, `pred = model(x)` and the loss
 *    `L = mean(lossFn(y, pred)) + R`, where `R` is the sum of every layer loss
 *    (`model.calculateLosses()`: the quantizers' regularizers such as SQ's
 *    and HLA's, and any kernel/bias regularizer); a scalar `lossFn` result is
 *    used as is;
 * 3. backward: `∂L/∂v` for every variable (`tf.variableGrads`; the
 *    quantizers' custom gradients reach the latent kernels and their own
 *    parameters);
 * 4. the loss is checked: NaN or ±Infinity throws {@link NonFiniteLossError}
 *    and restores what the forward pass changed (BatchNorm's moving statistics,
 *    the quantizers' schedule state), so nothing is updated;
 * 5. `transformGradients` (e.g. weight decay), then `optimizer.applyGradients`;
 * 6. {@link clipQuantizerParams}.
 *
 * Every tensor it makes is disposed (the optimizer's own slots, made on its
 * first step, stay). Hooks: see {@link TrainStepOptions}.
 */
export function trainStep(
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  x: tf.Tensor | tf.Tensor[],
  y: tf.Tensor,
  lossFn: LossFn,
  options: TrainStepOptions = {},
): TrainStepResult {
  const variables = options.variables
    ? [...options.variables]
    : model.trainableWeights.map((w) => w.read() as tf.Variable);
  // What a step can change before its loss is known, for a rollback. A clone
  // shares the variable's data (assign swaps it in), so this copies nothing.
  const layers = quantLayers(model);
  const states = layers.map((l) => l.quantizer.getState());
  const weights = model.weights.map((w) => w.read() as tf.Variable);
  const saved = weights.map((v) => tf.clone(v));
  const kept: tf.Tensor[] = [];
  try {
    if (options.progress) quantizerStep(model, options.progress);
    const result = tf.tidy(() => {
      let reg: tf.Scalar | null = null;
      let stats: Record<string, tf.Scalar> = {};
      const { value, grads } = tf.variableGrads(() => {
        const pred = model.apply(x, { training: true }) as tf.Tensor;
        if (options.metrics) {
          stats = options.metrics(y, pred);
          kept.push(...Object.values(stats).map((t) => tf.keep(t)));
        }
        const task = lossFn(y, pred);
        const dataLoss = (task.rank === 0 ? task : tf.mean(task)) as tf.Scalar;
        reg = layerLossSum(model);
        if (!reg) return dataLoss;
        kept.push(tf.keep(reg));
        return tf.add(dataLoss, reg);
      }, variables);
      const loss = value.dataSync()[0]!;
      const regularization = reg ? (reg as tf.Scalar).dataSync()[0]! : 0;
      const metrics = Object.fromEntries(
        Object.entries(stats).map(([name, t]) => [name, t.dataSync()[0]!]),
      );
      if (!Number.isFinite(loss)) throw new NonFiniteLossError(loss, options.progress);
      optimizer.applyGradients(
        options.transformGradients ? options.transformGradients(grads) : grads,
      );
      return { loss, regularization, metrics };
    });
    clipQuantizerParams(model);
    return result;
  } catch (err) {
    weights.forEach((v, i) => {
      if (!v.isDisposed && v.dataId !== saved[i]!.dataId) v.assign(saved[i]!);
    });
    layers.forEach((l, i) => {
      l.quantizer.setState(states[i]!);
    });
    throw err;
  } finally {
    tf.dispose(saved);
    tf.dispose(kept);
  }
}
