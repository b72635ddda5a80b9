import * as tf from '@tensorflow/tfjs';
import { fusedActivation, toPair } from './layer-config.js';
import { QuantLayer, type QuantLayerArgs } from './quant-layer.js';

/** Options of {@link QuantConv2D}: those of `tf.layers.conv2d`, plus `quantizer`. */
export interface QuantConv2DArgs extends QuantLayerArgs {
  /** Number of output channels. */
  filters: number;
  /** Kernel height and width (one number for both). */
  kernelSize: number | readonly number[];
  /** Default 1. */
  strides?: number | readonly number[];
  /** `'valid'` (default) or `'same'`. */
  padding?: 'valid' | 'same';
  /** `'channelsLast'` (default, NHWC) or `'channelsFirst'` (NCHW, transposed around the NHWC op as tfjs does). */
  dataFormat?: 'channelsLast' | 'channelsFirst';
  /** Default 1. tfjs cannot take gradients of dilated convolutions. */
  dilationRate?: number | readonly number[];
}

/**
 * A 2-D convolution whose kernel goes through a quantizer: the drop-in
 * replacement of `tf.layers.conv2d` (same options, same weight layout
 * `[kh, kw, cin, cout]`), plus `quantizer: { name, config }`.
 *
 * Forward: `y = activation(conv2d(x, Q) + bias)` with
 * `Q = quantizer.quantize(kernel, params)`; the quantizer's custom gradient
 * carries `dL/dQ` back to the latent kernel and to its parameters.
 */
export class QuantConv2D extends QuantLayer {
  /** Serialization name (unique across tfjs classes). */
  static readonly className = 'TritQuantConv2D';
  readonly layerType = 'conv' as const;
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: 'valid' | 'same';
  readonly dataFormat: 'channelsLast' | 'channelsFirst';
  readonly dilationRate: [number, number];

  constructor(args: QuantConv2DArgs) {
    super(args, 'QuantConv2D', 'quant_conv2d');
    const who = `QuantConv2D "${this.name}"`;
    if (!Number.isInteger(args.filters) || args.filters < 1) {
      throw new Error(
        `${who}: filters must be a positive integer, got ${JSON.stringify(args.filters)}`,
      );
    }
    if (args.kernelSize === undefined) throw new Error(`${who}: kernelSize is required`);
    this.filters = args.filters;
    this.kernelSize = toPair(args.kernelSize, 1, 'kernelSize', who);
    this.strides = toPair(args.strides, 1, 'strides', who);
    this.dilationRate = toPair(args.dilationRate, 1, 'dilationRate', who);
    this.padding = args.padding ?? 'valid';
    if (this.padding !== 'valid' && this.padding !== 'same') {
      throw new Error(
        `${who}: padding must be "valid" or "same", got ${JSON.stringify(args.padding)}`,
      );
    }
    this.dataFormat = args.dataFormat ?? 'channelsLast';
    if (this.dataFormat !== 'channelsLast' && this.dataFormat !== 'channelsFirst') {
      throw new Error(
        `${who}: dataFormat must be "channelsLast" or "channelsFirst", got ${JSON.stringify(args.dataFormat)}`,
      );
    }
    if (this.strides.some((s) => s > 1) && this.dilationRate.some((d) => d > 1)) {
      throw new Error(`${who}: strides > 1 and dilationRate > 1 cannot be combined (tfjs conv2d)`);
    }
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    if (shape.length !== 4) {
      throw new Error(
        `QuantConv2D "${this.name}": expects 4-D input, got shape [${shape.join(', ')}]`,
      );
    }
    const channelAxis = this.dataFormat === 'channelsFirst' ? 1 : 3;
    const cin = shape[channelAxis];
    if (cin == null) {
      throw new Error(
        `QuantConv2D "${this.name}": the channel dimension of the input must be defined`,
      );
    }
    this.buildWeights([...this.kernelSize, cin, this.filters], this.filters);
    this.inputSpec = [new tf.InputSpec({ ndim: 4, axes: { [channelAxis]: cin } })];
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const space = this.dataFormat === 'channelsLast' ? shape.slice(1, 3) : shape.slice(2, 4);
    const out = space.map((n, i) => {
      if (n == null) return null;
      const k = this.kernelSize[i]! + (this.kernelSize[i]! - 1) * (this.dilationRate[i]! - 1);
      const len = this.padding === 'same' ? n : n - k + 1;
      return Math.floor((len + this.strides[i]! - 1) / this.strides[i]!);
    });
    return this.dataFormat === 'channelsLast'
      ? [shape[0] ?? null, ...out, this.filters]
      : [shape[0] ?? null, this.filters, ...out];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      let x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor4D;
      if (this.dataFormat === 'channelsFirst') x = tf.transpose(x, [0, 2, 3, 1]);
      const fused = fusedActivation(this.activation);
      let y: tf.Tensor = tf.fused.conv2d({
        x,
        filter: this.forwardKernel() as tf.Tensor4D,
        strides: this.strides,
        pad: this.padding,
        dataFormat: 'NHWC',
        dilations: this.dilationRate,
        bias: this.bias ? this.bias.read() : undefined,
        activation: fused ?? 'linear',
      });
      if (this.dataFormat === 'channelsFirst') y = tf.transpose(y, [0, 3, 1, 2]);
      return this.activate(y, fused !== null);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      filters: this.filters,
      kernelSize: this.kernelSize,
      strides: this.strides,
      padding: this.padding,
      dataFormat: this.dataFormat,
      dilationRate: this.dilationRate,
      ...this.commonConfig(),
      ...super.getConfig(),
    };
  }
}

tf.serialization.registerClass(QuantConv2D);
