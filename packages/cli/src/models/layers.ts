import * as tf from '@tensorflow/tfjs';
import { batchNormalization } from '@trit/quant-core';

/**
 * The building blocks the ResNet builders share: seeded 3x3/1x1 convolutions
 * (no bias), BatchNorm, ReLU, the basic residual block and the
 * pooling + dense classifier head, all with explicit layer names.
 *
 * Seeds: every initializer takes the next value of one counter, so seeded
 * layer k (k = 1, 2, ... in creation order) of a model built with seed `s`
 * gets `s + k`. tfjs treats a seed of 0 as "no seed" (Math.random), so the
 * counter is incremented before use: a seed of 0 never reaches an initializer,
 * and the same `s` gives the same initial weights on every build.
 */
export class ResNetLayers {
  private seed: number;

  constructor(seed = 0) {
    this.seed = seed;
  }

  /** The next initializer seed (never 0 for a non-negative base seed). */
  private nextSeed(): number {
    this.seed += 1;
    return this.seed;
  }

  /** A `kernel`x`kernel` convolution, 'same' padding, no bias, He-normal initialized. */
  conv(
    x: tf.SymbolicTensor,
    filters: number,
    stride: number,
    name: string,
    kernel = 3,
  ): tf.SymbolicTensor {
    return tf.layers
      .conv2d({
        filters,
        kernelSize: kernel,
        strides: stride,
        padding: 'same',
        useBias: false,
        kernelInitializer: tf.initializers.heNormal({ seed: this.nextSeed() }),
        name,
      })
      .apply(x) as tf.SymbolicTensor;
  }

  /**
   * BatchNorm with momentum 0.9 and epsilon 1e-5: quant-core's
   * `TritBatchNormalization`, tfjs's layer (same weights, config and values)
   * that trains with TensorFlow's fused ops on the native backend.
   */
  bn(x: tf.SymbolicTensor, name: string): tf.SymbolicTensor {
    return batchNormalization({ momentum: 0.9, epsilon: 1e-5, name }).apply(x) as tf.SymbolicTensor;
  }

  relu(x: tf.SymbolicTensor, name: string): tf.SymbolicTensor {
    return tf.layers.activation({ activation: 'relu', name }).apply(x) as tf.SymbolicTensor;
  }

  /** The stem: 3x3 conv `conv1` → `bn1` → `relu1`. */
  stem(x: tf.SymbolicTensor, filters: number, stride: number): tf.SymbolicTensor {
    return this.relu(this.bn(this.conv(x, filters, stride, 'conv1'), 'bn1'), 'relu1');
  }

  /** Projection shortcut (option B): 1x1 conv `<p>_shortcut_conv` with `stride` → `<p>_shortcut_bn`. */
  projection(x: tf.SymbolicTensor, filters: number, stride: number, p: string): tf.SymbolicTensor {
    return this.bn(this.conv(x, filters, stride, `${p}_shortcut_conv`, 1), `${p}_shortcut_bn`);
  }

  /**
   * Basic block `p` (He et al. 2016): conv3x3(stride) → BN → ReLU → conv3x3 →
   * BN, added to `shortcut(x)` (to `x` itself when no shortcut is given),
   * then ReLU. The shortcut is built after the two convolutions.
   */
  basicBlock(
    x: tf.SymbolicTensor,
    filters: number,
    stride: number,
    p: string,
    shortcut?: (x: tf.SymbolicTensor) => tf.SymbolicTensor,
  ): tf.SymbolicTensor {
    let y = this.relu(
      this.bn(this.conv(x, filters, stride, `${p}_conv1`), `${p}_bn1`),
      `${p}_relu1`,
    );
    y = this.bn(this.conv(y, filters, 1, `${p}_conv2`), `${p}_bn2`);
    const s = shortcut ? shortcut(x) : x;
    return this.relu(
      tf.layers.add({ name: `${p}_add` }).apply([y, s]) as tf.SymbolicTensor,
      `${p}_relu2`,
    );
  }

  /** Global average pooling `pool` → dense `fc` (Glorot-uniform, no activation): logits. */
  head(x: tf.SymbolicTensor, numClasses: number): tf.SymbolicTensor {
    const pooled = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as tf.SymbolicTensor;
    return tf.layers
      .dense({
        units: numClasses,
        kernelInitializer: tf.initializers.glorotUniform({ seed: this.nextSeed() }),
        name: 'fc',
      })
      .apply(pooled) as tf.SymbolicTensor;
  }
}
