import type * as tf from '@tensorflow/tfjs';

/** JSON-serializable option bag of a quantizer. */
export type QuantizerConfig = Record<string, unknown>;

/** JSON-serializable mutable state of a quantizer (schedules: HLA's phase, λ, τ). */
export type QuantizerState = Record<string, number | string | boolean>;

/**
 * The per-layer trainable parameters a quantizer owns, by name (TTQ's `wp`/`wn`,
 * SQ's `alpha`/`beta`). In a layer they are `tf.Variable` scalars; the pure
 * functions accept any scalar tensors.
 */
export type QuantizerParams = Readonly<Record<string, tf.Tensor>>;

/** Declares one per-layer trainable scalar of a quantizer. */
export interface QuantizerParamSpec {
  /** Name of the parameter, unique within the quantizer (`wp`, `alpha`, ...). */
  readonly name: string;
  /** Initial value, computed from the layer's latent kernel (e.g. `mean|W|`). */
  init(kernel: tf.Tensor): number;
  /** Closed interval the value is projected onto after every optimizer step. */
  readonly clip?: readonly [number, number];
  /**
   * Whether a training run's weight decay applies to it: true (the default)
   * for scales such as TTQ's `Wp`/`Wn` (the official TTQ code decays them),
   * false for shape parameters such as SQ's `β`.
   */
  readonly weightDecay?: boolean;
}

/** Where training is, handed to {@link Quantizer.onStep} before every step. */
export interface TrainingProgress {
  /** 0-based epoch. */
  readonly epoch: number;
  /** Total epochs of the run. */
  readonly epochs: number;
  /** 0-based step within the epoch. */
  readonly step: number;
  /** Steps per epoch. */
  readonly stepsPerEpoch: number;
}

/** Fraction of the run done, in [0, 1]. */
export function runFraction(p: TrainingProgress): number {
  const total = p.epochs * p.stepsPerEpoch;
  return total > 0 ? Math.min(1, (p.epoch * p.stepsPerEpoch + p.step) / total) : 0;
}

/** Per-layer statistics of a quantized kernel, for logs, tables and plots. */
export interface LayerQuantStats {
  /** Registry name of the quantizer. */
  readonly quantizer: string;
  /** Bits per weight (32 full precision, 2 ternary, 1 binary). */
  readonly bits: number;
  /** Number of weights in the kernel. */
  readonly numWeights: number;
  /** Share of negative, zero and positive codes (they sum to 1). */
  readonly share: { readonly negative: number; readonly zero: number; readonly positive: number };
  /** Scales of the quantized levels, per layer (a number) or per output channel (an array). */
  readonly scales: Readonly<Record<string, number | readonly number[]>>;
  /** Method-specific numbers: SQ's `beta`, `deltaOverAlpha`; HLA's `cosine`, `lambda`, `tau`. */
  readonly extra?: Readonly<Record<string, number>>;
}

/**
 * A kernel reduced to what inference needs: integer codes and scales.
 * The dequantized kernel is `positive[c]` where the code is +1, `-negative[c]`
 * where it is -1, and 0 where it is 0 (`c` the output channel, the last axis).
 */
export interface TernaryExport {
  /** 2 for ternary codes {-1, 0, +1}; 1 for binary codes {-1, +1} (never 0). */
  readonly bits: 1 | 2;
  /** Kernel shape, output channel last. */
  readonly shape: readonly number[];
  /** One code per weight, row-major over `shape`. */
  readonly codes: Int8Array;
  /** Magnitude of the +1 level; length 1 (per layer) or `shape[last]` (per channel). */
  readonly positive: Float32Array;
  /** Magnitude of the -1 level; same length as `positive`. */
  readonly negative: Float32Array;
}

/**
 * A weight quantizer: named, configurable, serializable, and able to own
 * per-layer trainable scalars.
 *
 * One instance serves one layer (layers call {@link getQuantizer} to make
 * their own), so per-layer state can live on the instance. The math lives in
 * pure functions on tensors (`twnQuantize`, `ttqQuantize`, ...); a quantizer
 * class is a thin wrapper that maps its config and parameters onto them.
 *
 * Contract, in the order a training step uses it:
 * 1. {@link onStep} with the run's progress (schedules such as HLA's phases);
 * 2. {@link quantize} in the forward pass: the kernel used instead of the
 *    latent one, with its custom (straight-through) gradient to the kernel and
 *    to every parameter in {@link paramSpecs};
 * 3. {@link regularizer}, added to the loss when not null;
 * 4. after the optimizer step, parameters are clipped to their `clip` ranges.
 */
export abstract class Quantizer<C extends QuantizerConfig = QuantizerConfig> {
  /** Registry name, e.g. `'ttq'`. */
  abstract readonly name: string;
  /** The validated, complete configuration (defaults filled in). */
  readonly config: Readonly<C>;

  protected constructor(config: C) {
    this.config = Object.freeze({ ...config });
  }

  /** Bits per weight of the quantized kernel (32, 2 or 1); may depend on the trained parameters. */
  abstract precision(params?: QuantizerParams): number;

  /** The per-layer trainable scalars this quantizer needs. */
  paramSpecs(): readonly QuantizerParamSpec[] {
    return [];
  }

  /**
   * The kernel used in the forward pass, with the method's custom gradient.
   * Always a new tensor the caller owns (never `kernel` itself, even when
   * `Q = W` as for FP32 or HLA's phase 1), so disposing it never disposes
   * the caller's kernel. Throws on a kernel that is not float32 or holds
   * NaN/±Infinity, and never returns a non-finite `Q` for a finite kernel.
   */
  abstract quantize(kernel: tf.Tensor, params: QuantizerParams): tf.Tensor;

  /** The method's regularization loss for this layer, or null if it has none. */
  regularizer(_kernel: tf.Tensor, _params: QuantizerParams): tf.Scalar | null {
    return null;
  }

  /** Advances schedules before a training step. */
  onStep(_progress: TrainingProgress): void {}

  /** Mutable schedule state, saved with the layer. */
  getState(): QuantizerState {
    return {};
  }

  /** Restores {@link getState}'s output. */
  setState(_state: QuantizerState): void {}

  /** Per-layer statistics of the quantized kernel. Leaves no tensor behind. */
  abstract stats(kernel: tf.Tensor, params: QuantizerParams): LayerQuantStats;

  /** Codes and scales for export, or null when the layer stays full precision. Leaves no tensor behind. */
  abstract exportTernary(kernel: tf.Tensor, params: QuantizerParams): TernaryExport | null;

  /** The configuration, as accepted by the registry factory. */
  getConfig(): C {
    return { ...this.config };
  }
}
