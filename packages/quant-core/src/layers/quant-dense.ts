import * as tf from '@tensorflow/tfjs';
import { fusedActivation } from './layer-config.js';
import { QuantLayer, type QuantLayerArgs } from './quant-layer.js';

/** Options of {@link QuantDense}: those of `tf.layers.dense`, plus `quantizer`. */
export interface QuantDenseArgs extends QuantLayerArgs {
  /** Number of outputs. */
  units: number;
  /** Shorthand for `inputShape: [inputDim]`, as in tfjs. */
  inputDim?: number;
}

/**
 * A fully connected layer whose kernel goes through a quantizer: the drop-in
 * replacement of `tf.layers.dense` (same options, kernel `[in, out]`), plus
 * `quantizer: { name, config }`.
 *
 * Forward: `y = activation(x · Q + bias)` with `Q = quantizer.quantize(kernel, params)`
 * (inputs of rank > 2 are contracted on their last axis, as tfjs does).
 */
export class QuantDense extends QuantLayer {
  /** Serialization name (unique across tfjs classes). */
  static readonly className = 'TritQuantDense';
  readonly layerType = 'dense' as const;
  readonly units: number;

  constructor(args: QuantDenseArgs) {
    const withInputDim =
      args.batchInputShape == null && args.inputShape == null && args.inputDim != null
        ? { ...args, batchInputShape: [args.batchSize ?? null, args.inputDim] }
        : args;
    super(withInputDim, 'QuantDense', 'quant_dense');
    if (!Number.isInteger(args.units) || args.units < 1) {
      throw new Error(
        `QuantDense "${this.name}": units must be a positive integer, got ${JSON.stringify(args.units)}`,
      );
    }
    this.units = args.units;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const inputs = shape[shape.length - 1];
    if (shape.length < 2 || inputs == null) {
      throw new Error(
        `QuantDense "${this.name}": expects input of rank >= 2 with a defined last axis`,
      );
    }
    this.buildWeights([inputs, this.units], this.units);
    this.inputSpec = [new tf.InputSpec({ minNDim: 2, axes: { [-1]: inputs } })];
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [...shape.slice(0, -1), this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const fused = fusedActivation(this.activation);
      const a = x.rank === 2 ? (x as tf.Tensor2D) : tf.reshape(x, [-1, x.shape[x.rank - 1]!]);
      let y: tf.Tensor = tf.fused.matMul({
        a: a as tf.Tensor2D,
        b: this.forwardKernel() as tf.Tensor2D,
        bias: this.bias ? this.bias.read() : undefined,
        activation: fused ?? 'linear',
      });
      if (x.rank !== 2) y = tf.reshape(y, [...x.shape.slice(0, -1), this.units]);
      return this.activate(y, fused !== null);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { units: this.units, ...this.commonConfig(), ...super.getConfig() };
  }
}

tf.serialization.registerClass(QuantDense);
