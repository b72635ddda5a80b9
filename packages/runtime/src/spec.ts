/**
 * The plain-data description of a model that {@link encodeModel} takes: a
 * list of ops in execution order, each naming its inputs, with the weights
 * as typed arrays. It mirrors a Keras/tfjs functional model layer by layer,
 * so a walker over `model.layers` maps each layer to one op:
 *
 * | tfjs layer                          | op                                  |
 * | ----------------------------------- | ----------------------------------- |
 * | `InputLayer`                        | `input` (shape without the batch)   |
 * | `Conv2D`, quantized conv            | `conv2d` (kernel: float or codes)   |
 * | `Dense`, quantized dense            | `dense`                             |
 * | `DepthwiseConv2D` (float)           | `depthwiseConv2d`                   |
 * | `BatchNormalization`                | `batchNorm` (folded at encode)      |
 * | `Activation('relu')`, `ReLU`        | `relu`                              |
 * | `Activation('softmax')`, `Softmax`  | `softmax`                           |
 * | `Activation('relu6')`, `ReLU` (max 6) | `relu6`                           |
 * | `Activation('sigmoid' / 'tanh')`    | `sigmoid` / `tanh`                  |
 * | `Add`                               | `add`                               |
 * | `Concatenate` (last axis)           | `concat`                            |
 * | `MaxPooling2D` / `AveragePooling2D` | `maxPool` / `avgPool`               |
 * | `GlobalAveragePooling2D`            | `globalAvgPool`                     |
 * | `GlobalMaxPooling2D`                | `globalMaxPool`                     |
 * | `ZeroPadding2D`                     | `zeroPad`                           |
 * | `Flatten`                           | `flatten`                           |
 * | `Dropout` and other identities      | (leave out; point consumers past it)|
 *
 * Defaults follow Keras: `strides` 1, `padding` `'valid'`, `activation`
 * `'linear'`, pool `strides` = `poolSize`, BatchNorm `epsilon` 1e-3.
 */

/**
 * A quantized kernel: integer codes and the magnitudes of the two levels.
 * Structurally identical to `@trit/quant-core`'s `TernaryExport`, so a
 * quantizer's `exportTernary(kernel, params)` can be passed as is. The
 * kernel's value is `positive[o]` where the code is +1, `-negative[o]` where
 * it is -1 and 0 where it is 0 (`o` the output channel, the last axis).
 */
export interface QuantizedKernel {
  /** 2 for ternary codes {-1, 0, +1}; 1 for binary codes {-1, +1}. */
  readonly bits: 1 | 2;
  /** Kernel shape, output channel last: conv `[kh, kw, cin, cout]`, dense `[in, out]`. */
  readonly shape: readonly number[];
  /** One code per weight, row-major over `shape`. */
  readonly codes: Int8Array;
  /** Magnitude of the +1 level; length 1 (per layer) or `cout` (per channel). */
  readonly positive: Float32Array;
  /** Magnitude of the -1 level; length 1 or `cout`. */
  readonly negative: Float32Array;
}

/** A full-precision tensor: its shape and row-major values. */
export interface FloatTensor {
  readonly shape: readonly number[];
  readonly values: Float32Array;
}

/** Activation fused into a conv2d/dense op. */
export type Activation = 'linear' | 'relu' | 'softmax';

/** `[height, width]`, or one number for both. */
export type Pair = number | readonly [number, number];

interface OpBase {
  /** Unique name; other ops refer to it in `inputs` (use the tfjs layer name). */
  readonly name: string;
}

/** A model input; `shape` excludes the batch dimension (`[32, 32, 3]`, `[784]`). */
export interface InputSpec extends OpBase {
  readonly op: 'input';
  readonly shape: readonly number[];
}

/** 2-D convolution over NHWC input. */
export interface Conv2DSpec extends OpBase {
  readonly op: 'conv2d';
  readonly inputs: readonly [string];
  /** `[kh, kw, cin, cout]`: float, or the codes and scales of a quantizer. */
  readonly kernel: QuantizedKernel | FloatTensor;
  /** Registry name of the quantizer that produced a quantized kernel (`'ttq'`, `'twn'`, ...). */
  readonly quantizer?: string;
  /** Per-output-channel bias, length `cout`. */
  readonly bias?: Float32Array | null;
  readonly strides?: Pair;
  readonly padding?: 'same' | 'valid';
  readonly activation?: Activation;
}

/**
 * Depthwise 2-D convolution over NHWC input with a float `[kh, kw, cin,
 * multiplier]` kernel (as tfjs): output channel `c * multiplier + m` is input
 * channel `c` convolved with `kernel[:, :, c, m]`. Float only.
 */
export interface DepthwiseConv2DSpec extends OpBase {
  readonly op: 'depthwiseConv2d';
  readonly inputs: readonly [string];
  readonly kernel: FloatTensor;
  /** Per-output-channel bias, length `cin * multiplier`. */
  readonly bias?: Float32Array | null;
  readonly strides?: Pair;
  readonly padding?: 'same' | 'valid';
  readonly activation?: Activation;
}

/** Fully connected layer over the last axis. */
export interface DenseSpec extends OpBase {
  readonly op: 'dense';
  readonly inputs: readonly [string];
  /** `[in, out]`: float, or the codes and scales of a quantizer. */
  readonly kernel: QuantizedKernel | FloatTensor;
  readonly quantizer?: string;
  readonly bias?: Float32Array | null;
  readonly activation?: Activation;
}

/**
 * Inference-mode BatchNorm over the last axis:
 * `gamma * (x - mean) / sqrt(variance + epsilon) + beta`. The encoder folds
 * it into the preceding conv2d/dense when it is that op's only consumer,
 * and stores it as an `affine` op otherwise.
 */
export interface BatchNormSpec extends OpBase {
  readonly op: 'batchNorm';
  readonly inputs: readonly [string];
  readonly mean: Float32Array;
  readonly variance: Float32Array;
  /** Omitted (Keras `scale: false`) means 1. */
  readonly gamma?: Float32Array | null;
  /** Omitted (Keras `center: false`) means 0. */
  readonly beta?: Float32Array | null;
  /** Default 1e-3 (Keras). */
  readonly epsilon?: number;
}

/** `x * scale[c] + shift[c]` over the last axis. */
export interface AffineSpec extends OpBase {
  readonly op: 'affine';
  readonly inputs: readonly [string];
  readonly scale: Float32Array;
  readonly shift: Float32Array;
}

/** `max(x, 0)`. */
export interface ReluSpec extends OpBase {
  readonly op: 'relu';
  readonly inputs: readonly [string];
}

/** Softmax over the last axis. */
export interface SoftmaxSpec extends OpBase {
  readonly op: 'softmax';
  readonly inputs: readonly [string];
}

/** Element-wise `min(max(x, 0), 6)`, `1 / (1 + exp(-x))` or `tanh(x)`. */
export interface UnaryActivationSpec extends OpBase {
  readonly op: 'relu6' | 'sigmoid' | 'tanh';
  readonly inputs: readonly [string];
}

/** Concatenation of two or more inputs along the last (channel) axis; the other axes must agree. */
export interface ConcatSpec extends OpBase {
  readonly op: 'concat';
  readonly inputs: readonly string[];
}

/** Element-wise sum of two or more equally shaped inputs (a residual connection). */
export interface AddSpec extends OpBase {
  readonly op: 'add';
  readonly inputs: readonly string[];
}

/** Max or average pooling; padded positions are ignored, as in TensorFlow. */
export interface Pool2DSpec extends OpBase {
  readonly op: 'maxPool' | 'avgPool';
  readonly inputs: readonly [string];
  readonly poolSize: Pair;
  /** Default: `poolSize`. */
  readonly strides?: Pair;
  readonly padding?: 'same' | 'valid';
}

/** Mean (`globalAvgPool`) or maximum (`globalMaxPool`) over height and width: `[h, w, c]` to `[c]`. */
export interface GlobalAvgPoolSpec extends OpBase {
  readonly op: 'globalAvgPool' | 'globalMaxPool';
  readonly inputs: readonly [string];
}

/**
 * Zero padding: `padding` rows/columns as Keras `ZeroPadding2D`
 * (`[[top, bottom], [left, right]]`, or one number for all four), plus
 * optional `channels: [before, after]` zero channels, as in the option-A
 * ResNet shortcut.
 */
export interface ZeroPadSpec extends OpBase {
  readonly op: 'zeroPad';
  readonly inputs: readonly [string];
  readonly padding?: number | readonly [readonly [number, number], readonly [number, number]];
  readonly channels?: readonly [number, number];
}

/** `x[:, ::sh, ::sw, :]`: the strided identity of an option-A ResNet shortcut. */
export interface SubsampleSpec extends OpBase {
  readonly op: 'subsample';
  readonly inputs: readonly [string];
  readonly strides: Pair;
}

/** `[h, w, c]` to `[h * w * c]`, in NHWC memory order (as Keras `Flatten`). */
export interface FlattenSpec extends OpBase {
  readonly op: 'flatten';
  readonly inputs: readonly [string];
}

/** One op of a {@link GraphSpec}. */
export type OpSpec =
  | InputSpec
  | Conv2DSpec
  | DepthwiseConv2DSpec
  | DenseSpec
  | BatchNormSpec
  | AffineSpec
  | ReluSpec
  | SoftmaxSpec
  | UnaryActivationSpec
  | AddSpec
  | ConcatSpec
  | Pool2DSpec
  | GlobalAvgPoolSpec
  | ZeroPadSpec
  | SubsampleSpec
  | FlattenSpec;

/** A model as plain data: ops in execution order (every input defined before use). */
export interface GraphSpec {
  readonly ops: readonly OpSpec[];
  /** Names of the ops whose results the model returns; default: the last op. */
  readonly outputs?: readonly string[];
  /** Free JSON-serializable information stored in the manifest (dataset, accuracy, quantizer config). */
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/** Whether a kernel is given as codes and scales rather than float values. */
export function isQuantizedKernel(k: QuantizedKernel | FloatTensor): k is QuantizedKernel {
  return (k as QuantizedKernel).codes !== undefined;
}
