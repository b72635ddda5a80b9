import * as tf from '@tensorflow/tfjs';
import '../baselines/fp32.js'; // the default quantizer must be registered
import {
  type LayerQuantStats,
  Quantizer,
  type QuantizerConfig,
  type QuantizerParamSpec,
  type QuantizerParams,
  type QuantizerState,
  type TernaryExport,
} from '../quantizer.js';
import { getQuantizer } from '../registry.js';
import { tidyValue } from '../tensor-ops.js';
import { describeValue } from '../validation.js';
import {
  type Activation,
  assertSaveable,
  type Constraint,
  type Initializer,
  type Regularizer,
  type SerializableIdentifier,
  serializeObject,
  toActivation,
  toConstraint,
  toInitializer,
  toRegularizer,
} from './layer-config.js';

/** The quantizer a layer uses: a registry name, its config, and (when loading) its saved state. */
export interface QuantizerSpec {
  /** Registry name, e.g. `'ttq'`. */
  readonly name: string;
  /** Options of the quantizer; omitted ones take their defaults. */
  readonly config?: QuantizerConfig;
  /** Saved schedule state (HLA's phase), as from `getState()`. */
  readonly state?: QuantizerState;
  /**
   * Parameters of the quantizer kept at their initial value, by name (e.g.
   * SQ's `['alpha']`): the layer creates them as non-trainable weights, so
   * `model.fit`, {@link trainStep} and any optimizer over `trainableWeights`
   * leave them alone, and the list is saved with the layer. (Setting
   * `trainable = false` on the weight afterwards is not enough: a
   * `tf.sequential` model marks every weight trainable again when it builds.)
   */
  readonly frozenParams?: readonly string[];
}

/** The options of `tf.layers.Layer` (name, inputShape, trainable, ...). */
export type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

/** Options shared by {@link QuantConv2D} and {@link QuantDense}; the same names and defaults as tfjs. */
export interface QuantLayerArgs extends LayerArgs {
  /** The quantizer, by registry name or as `{ name, config }`. Default `'fp32'`. */
  quantizer?: string | QuantizerSpec;
  /** Activation after the bias, e.g. `'relu'`. Default linear. */
  activation?: string | null;
  /** Whether the layer has a bias (always full precision). Default true. */
  useBias?: boolean;
  /** Initializer of the latent kernel. Default `'glorotNormal'` (as tfjs). */
  kernelInitializer?: SerializableIdentifier;
  /** Initializer of the bias. Default `'zeros'`. */
  biasInitializer?: SerializableIdentifier;
  /** Regularizer on the latent kernel (weight decay), e.g. `tf.regularizers.l2({ l2: 1e-4 })`. */
  kernelRegularizer?: SerializableIdentifier | null;
  /** Regularizer on the bias. */
  biasRegularizer?: SerializableIdentifier | null;
  /** Not supported by tfjs-layers; must be null. */
  activityRegularizer?: null;
  /** Constraint on the latent kernel (applied by `LayerVariable.write`, not by `fit`). */
  kernelConstraint?: SerializableIdentifier | null;
  /** Constraint on the bias. */
  biasConstraint?: SerializableIdentifier | null;
}

/** One quantizer parameter of a layer: its name in the quantizer, its spec and its weight. */
export interface QuantizerVariable {
  /** The parameter's name in the quantizer (`wp`, `alpha`, ...). */
  readonly name: string;
  readonly spec: QuantizerParamSpec;
  readonly variable: tf.LayerVariable;
}

/** Which stock tfjs layer a quantized layer replaces. */
export type QuantLayerType = 'conv' | 'dense';

const QUANT_LAYER = Symbol.for('@trit/quant-core.QuantLayer');
const RESERVED = new Set(['kernel', 'bias']);

/** True for {@link QuantConv2D} and {@link QuantDense} layers (also across copies of this package). */
export function isQuantLayer(layer: unknown): layer is QuantLayer {
  return (
    typeof layer === 'object' &&
    layer !== null &&
    (layer as Record<symbol, unknown>)[QUANT_LAYER] === true
  );
}

const nameCounts = new Map<string, number>();

/** `quant_dense_1`, `quant_dense_2`, ...: default layer names, as tfjs makes `dense_Dense1`. */
function uniqueName(prefix: string): string {
  const n = (nameCounts.get(prefix) ?? 0) + 1;
  nameCounts.set(prefix, n);
  return `${prefix}_${n}`;
}

/**
 * `frozenParams` checked against the parameters of `q`: the names, or an
 * error naming the value (the caller says where it came from).
 */
export function checkFrozenParams(frozen: unknown, q: Quantizer): string[] {
  const names = q.paramSpecs().map((p) => p.name);
  if (!Array.isArray(frozen) || frozen.some((n) => typeof n !== 'string'))
    throw new Error(
      `frozenParams must be an array of parameter names, got ${describeValue(frozen)}`,
    );
  const unknown = frozen.filter((n: string) => !names.includes(n));
  if (unknown.length)
    throw new Error(
      `frozenParams: ${unknown.map((n) => JSON.stringify(n)).join(', ')} is not a parameter of quantizer "${q.name}" (${names.length ? names.join(', ') : 'it has none'})`,
    );
  return [...new Set<string>(frozen)];
}

function toQuantizer(spec: string | QuantizerSpec | undefined, owner: string): Quantizer {
  const s: QuantizerSpec =
    spec === undefined ? { name: 'fp32' } : typeof spec === 'string' ? { name: spec } : spec;
  if (typeof s.name !== 'string') {
    throw new Error(
      `${owner}: quantizer must be a name or { name, config }, got ${JSON.stringify(spec)}`,
    );
  }
  let q: Quantizer;
  try {
    q = getQuantizer(s.name, s.config);
  } catch (err) {
    throw new Error(`${owner}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (s.state) q.setState(s.state);
  assertSaveable(q.getConfig(), owner, `quantizer "${q.name}" config`);
  assertSaveable(q.getState(), owner, `quantizer "${q.name}" state`);
  const names = new Set<string>();
  for (const p of q.paramSpecs()) {
    if (RESERVED.has(p.name) || names.has(p.name)) {
      throw new Error(
        `${owner}: quantizer "${q.name}" declares the parameter name "${p.name}" twice or reuses kernel/bias`,
      );
    }
    names.add(p.name);
  }
  return q;
}

/**
 * What {@link QuantConv2D} and {@link QuantDense} share: the latent kernel,
 * the full-precision bias, one scalar weight per quantizer parameter
 * (`paramSpecs()`), the quantizer's regularizer as a layer loss, and the
 * per-layer tools (stats, export, re-initialisation, clipping).
 *
 * Weights, in order: `kernel`, `bias` (when `useBias`), then the quantizer's
 * parameters in `paramSpecs()` order. All are trainable but the quantizer
 * spec's `frozenParams` (tfjs lists non-trainable weights last, so a frozen
 * parameter moves to the end of `layer.weights`), and all are saved by
 * `model.save()`; the quantizer's config, schedule state and `frozenParams`
 * are saved in the layer config.
 */
export abstract class QuantLayer extends tf.layers.Layer {
  /** Which stock layer this one replaces. */
  abstract readonly layerType: QuantLayerType;
  /** This layer's own quantizer instance. */
  readonly quantizer: Quantizer;
  /** The latent full-precision kernel (output channel last); null before `build`. */
  kernel: tf.LayerVariable | null = null;
  /** The bias; null before `build` or without `useBias`. */
  bias: tf.LayerVariable | null = null;
  /** The quantizer's trainable scalars by name; empty before `build`. */
  readonly paramVariables: Record<string, tf.LayerVariable> = {};

  protected readonly activation: Activation;
  protected readonly useBias: boolean;
  protected readonly kernelInitializer: Initializer;
  protected readonly biasInitializer: Initializer;
  protected readonly kernelRegularizer: Regularizer | null;
  protected readonly biasRegularizer: Regularizer | null;
  protected readonly kernelConstraint: Constraint | null;
  protected readonly biasConstraint: Constraint | null;
  private readonly specs: readonly QuantizerParamSpec[];
  /** The quantizer parameters created non-trainable (`frozenParams` of the spec). */
  readonly frozenParams: ReadonlySet<string>;

  protected constructor(args: QuantLayerArgs, owner: string, namePrefix: string) {
    super({ ...args, name: args.name ?? uniqueName(namePrefix) });
    Object.defineProperty(this, QUANT_LAYER, { value: true });
    const who = `${owner} "${this.name}"`;
    this.quantizer = toQuantizer(args.quantizer, who);
    this.specs = this.quantizer.paramSpecs();
    const frozen = typeof args.quantizer === 'object' ? args.quantizer.frozenParams : undefined;
    try {
      this.frozenParams = new Set(
        frozen === undefined ? [] : checkFrozenParams(frozen, this.quantizer),
      );
    } catch (err) {
      throw new Error(`${who}: ${(err as Error).message}`);
    }
    this.activation = toActivation(args.activation, who);
    this.useBias = args.useBias ?? true;
    this.kernelInitializer = toInitializer(args.kernelInitializer ?? 'glorotNormal', who);
    this.biasInitializer = toInitializer(args.biasInitializer ?? 'zeros', who);
    this.kernelRegularizer = toRegularizer(args.kernelRegularizer, who);
    this.biasRegularizer = toRegularizer(args.biasRegularizer, who);
    this.kernelConstraint = toConstraint(args.kernelConstraint, who);
    this.biasConstraint = toConstraint(args.biasConstraint, who);
    if (args.activityRegularizer != null) {
      throw new Error(
        `${who}: activityRegularizer is not supported (tfjs-layers cannot run layers that have one)`,
      );
    }
  }

  /** Creates the kernel, the bias and the quantizer's parameters (initialised from the kernel). */
  protected buildWeights(kernelShape: number[], outputs: number): void {
    this.kernel = this.addWeight(
      'kernel',
      kernelShape,
      'float32',
      this.kernelInitializer,
      this.kernelRegularizer ?? undefined,
      true,
      this.kernelConstraint ?? undefined,
    );
    if (this.useBias) {
      this.bias = this.addWeight(
        'bias',
        [outputs],
        'float32',
        this.biasInitializer,
        this.biasRegularizer ?? undefined,
        true,
        this.biasConstraint ?? undefined,
      );
    }
    // When a saved model is loaded, tfjs builds layers with zero weights and
    // then overwrites them: skip the (pointless) init from a zero kernel.
    const loading =
      (this as unknown as { fastWeightInitDuringBuild?: boolean }).fastWeightInitDuringBuild ===
      true;
    for (const spec of this.specs) {
      const value = loading ? 0 : this.initialValue(spec);
      this.paramVariables[spec.name] = this.addWeight(
        spec.name,
        [],
        'float32',
        tf.initializers.constant({ value }),
        undefined,
        !this.frozenParams.has(spec.name),
      );
    }
    if (this.quantizer.regularizer !== Quantizer.prototype.regularizer) {
      // Picked up by LayersModel.fit (calculateLosses) and by trainStep.
      this.addLoss(() => this.regularizationLoss() ?? tf.scalar(0));
    }
  }

  private initialValue(spec: QuantizerParamSpec): number {
    const kernel = this.requireBuilt().kernel;
    const value = this.named(() => tidyValue(() => spec.init(kernel.read())));
    if (!Number.isFinite(value)) {
      throw new Error(
        `layer "${this.name}": quantizer "${this.quantizer.name}" initialised parameter "${spec.name}" to ${value}`,
      );
    }
    return value;
  }

  private requireBuilt(): { kernel: tf.LayerVariable } {
    if (!this.kernel) {
      throw new Error(
        `layer "${this.name}" is not built yet: call it on an input (or build the model) first`,
      );
    }
    return { kernel: this.kernel };
  }

  /**
   * Runs a call into the quantizer, naming this layer in its error: the
   * quantizer's own message names the method and the value (`ttq: the
   * kernel ... contains NaN`) but cannot know which layer it serves.
   */
  private named<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      const prefix = `layer "${this.name}": `;
      if (!(err instanceof Error) || err.message.startsWith(prefix)) throw err;
      throw new Error(`${prefix}${err.message}`, { cause: err });
    }
  }

  /** The quantizer's parameters as tensors (the variables themselves, so gradients reach them). */
  protected paramTensors(): QuantizerParams {
    const out: Record<string, tf.Tensor> = {};
    for (const spec of this.specs) out[spec.name] = this.paramVariables[spec.name]!.read();
    return out;
  }

  /** The kernel used in the forward pass (with the quantizer's custom gradient). */
  protected forwardKernel(): tf.Tensor {
    const kernel = this.requireBuilt().kernel;
    return this.named(() => this.quantizer.quantize(kernel.read(), this.paramTensors()));
  }

  /** The quantized kernel `Q` as the forward pass uses it; the caller disposes it. */
  quantizedKernel(): tf.Tensor {
    return tf.tidy(() => this.forwardKernel().clone());
  }

  /** Current values of the quantizer's parameters, e.g. `{ wp: 0.8, wn: 1.1 }`. */
  quantizerParams(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const spec of this.specs)
      out[spec.name] = this.paramVariables[spec.name]!.read().dataSync()[0]!;
    return out;
  }

  /**
   * The quantizer's trainable scalars with their specs, in `paramSpecs()`
   * order; empty before `build`. How training code finds them (an optimizer
   * group, weight-decay exclusion): by identity, never by variable name.
   */
  quantizerVariables(): readonly QuantizerVariable[] {
    if (!this.kernel) return [];
    return this.specs.map((spec) => ({
      name: spec.name,
      spec,
      variable: this.paramVariables[spec.name]!,
    }));
  }

  /** The quantizer's regularization loss for this layer, or null if it has none (the caller disposes it). */
  regularizationLoss(): tf.Scalar | null {
    const kernel = this.requireBuilt().kernel;
    return this.named(() => this.quantizer.regularizer(kernel.read(), this.paramTensors()));
  }

  /** Per-layer statistics (code shares, scales, method-specific numbers). */
  stats(): LayerQuantStats {
    const kernel = this.requireBuilt().kernel;
    return this.named(() =>
      tidyValue(() => this.quantizer.stats(kernel.read(), this.paramTensors())),
    );
  }

  /** Codes and scales for export, or null when the layer stays full precision. */
  exportTernary(): TernaryExport | null {
    const kernel = this.requireBuilt().kernel;
    return this.named(() =>
      tidyValue(() => this.quantizer.exportTernary(kernel.read(), this.paramTensors())),
    );
  }

  /** Bits per weight of the quantized kernel now (SQ's depends on its trained `beta`). */
  precision(): number {
    if (!this.kernel) return this.quantizer.precision();
    return this.named(() => tf.tidy(() => this.quantizer.precision(this.paramTensors())));
  }

  /**
   * Re-runs every parameter's `init` from the current kernel, e.g. after
   * loading full-precision weights to fine-tune from (TTQ's `init: 'mean'`,
   * SQ's `alpha = mean|W|`).
   */
  reinitQuantizerParams(): void {
    this.requireBuilt();
    for (const spec of this.specs) {
      const value = this.initialValue(spec);
      tf.tidy(() => {
        this.paramVariables[spec.name]!.write(tf.scalar(value));
      });
    }
  }

  /** Projects every parameter onto its `clip` range; call after each optimizer step. */
  clipQuantizerParams(): void {
    if (!this.kernel) return;
    for (const spec of this.specs) {
      if (!spec.clip) continue;
      const [lo, hi] = spec.clip;
      const v = this.paramVariables[spec.name]!;
      tf.tidy(() => {
        v.write(tf.clipByValue(v.read(), lo, hi));
      });
    }
  }

  /** The config entries both layer types share. */
  protected commonConfig(): tf.serialization.ConfigDict {
    return {
      activation: this.activation.getClassName(),
      useBias: this.useBias,
      kernelInitializer: serializeObject(
        this.kernelInitializer,
      ) as unknown as tf.serialization.ConfigDict,
      biasInitializer: serializeObject(
        this.biasInitializer,
      ) as unknown as tf.serialization.ConfigDict,
      kernelRegularizer: serializeObject(
        this.kernelRegularizer,
      ) as unknown as tf.serialization.ConfigDict,
      biasRegularizer: serializeObject(
        this.biasRegularizer,
      ) as unknown as tf.serialization.ConfigDict,
      activityRegularizer: null,
      kernelConstraint: serializeObject(
        this.kernelConstraint,
      ) as unknown as tf.serialization.ConfigDict,
      biasConstraint: serializeObject(
        this.biasConstraint,
      ) as unknown as tf.serialization.ConfigDict,
      quantizer: {
        name: this.quantizer.name,
        config: this.quantizer.getConfig() as tf.serialization.ConfigDict,
        state: this.quantizer.getState() as tf.serialization.ConfigDict,
        ...(this.frozenParams.size ? { frozenParams: [...this.frozenParams] } : {}),
      },
    };
  }

  /** Applies the activation unless the fused kernel already did. */
  protected activate(y: tf.Tensor, fused: boolean): tf.Tensor {
    return fused ? y : this.activation.apply(y);
  }
}
