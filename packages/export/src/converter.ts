/**
 * What a layer converter is: a function from one tfjs layer (seen through a
 * {@link ConverterContext}) to the runtime ops that compute it. Converters
 * are looked up by the layer's class name in the registry (registry.ts).
 * @packageDocumentation
 */
import type * as tf from '@tensorflow/tfjs';
import type { OpSpec } from '@trit/runtime';

/** How a conv/dense kernel was written (see {@link ExportedLayerInfo}). */
export interface KernelInfo {
  readonly encoding: 'float32' | 'ternary' | 'binary';
  readonly bits: 32 | 2 | 1;
  /** Registry name of the quantizer (quantized layers only; `fp32` for a QuantLayer kept at full precision). */
  readonly quantizer: string | null;
  readonly shape: readonly number[];
  /** `per-layer` or `per-channel` scales, for quantized kernels. */
  readonly scales: 'per-layer' | 'per-channel' | null;
  /** Largest |dequantized export - forward kernel| (quantized kernels, when checked). */
  readonly maxAbsDiffToForward?: number;
}

/** What the export did with one layer of the model. */
export interface ExportedLayerInfo {
  readonly name: string;
  /** tfjs class name. */
  readonly className: string;
  /** Ops written for it (none for identity layers). */
  readonly ops: readonly string[];
  /** For conv/dense layers: the kernel as written. */
  readonly kernel?: KernelInfo;
}

/** Options a converter may read (the walk's options). */
export interface ConvertOptions {
  /**
   * For each quantized layer, compare the dequantized export with the
   * kernel its forward pass uses (`quantizedKernel()`); a difference becomes
   * a warning (e.g. HLA still in its full-precision phase 1). Default true.
   */
  readonly check?: boolean;
  /** Throw instead of warning when the check finds a difference. Default false. */
  readonly strict?: boolean;
}

/** What a converter sees of the layer it converts and of the model around it. */
export interface ConverterContext {
  readonly layer: tf.layers.Layer;
  /** `layer.getClassName()`. */
  readonly className: string;
  /** `layer.getConfig()`. */
  readonly config: Readonly<Record<string, unknown>>;
  readonly options: ConvertOptions;
  /** Names of the ops whose outputs feed the layer, in order. */
  inputs(): string[];
  /** The op feeding a single-input layer (an error if there is not exactly one). */
  input(): string;
  /** Shapes of the layer's inputs, with the batch dimension (`null`). */
  inputShapes(): (readonly (number | null)[])[];
  /** Throws an {@link ExportError} naming the layer and its class, then `why`. */
  fail(why: string): never;
  /** Records a non-fatal finding (one line) in the result's `warnings`. */
  warn(message: string): void;
}

/**
 * What a converter returns: the ops for the layer, in execution order, each
 * with a name unique in the model (use the layer's name for the op whose
 * output is the layer's, `<layer>/<part>` for helpers before it).
 */
export interface Conversion {
  readonly ops: readonly OpSpec[];
  /**
   * The op whose output is the layer's output. Default: the last of `ops`.
   * Required when `ops` is empty (an identity layer names its input).
   */
  readonly output?: string;
  /** For a conv/dense layer: how its kernel was written. */
  readonly kernel?: KernelInfo;
}

/** Maps one layer to runtime ops; throws via `ctx.fail` for what it cannot map exactly. */
export type LayerConverter = (ctx: ConverterContext) => Conversion;
