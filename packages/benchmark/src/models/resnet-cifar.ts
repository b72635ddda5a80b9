import * as tf from '@tensorflow/tfjs';
import { ChannelPadShortcut } from './shortcut.js';

export interface ResNetCifarOptions {
  /** 20, 32, 44, 56, ... (6n + 2). */
  depth: number;
  /** Number of classes (10 for CIFAR-10). */
  numClasses?: number;
  /** Input [height, width, channels]; default [32, 32, 3]. */
  inputShape?: [number, number, number];
  /**
   * Shortcut when the shape changes: 'A' (He et al.'s CIFAR choice and the
   * default: subsample + zero-pad channels, no parameters) or 'B' (1x1
   * convolution + BatchNorm projection).
   */
  shortcut?: 'A' | 'B';
  /** Channels of the three stages; default [16, 32, 64]. */
  widths?: [number, number, number];
  /** Seed for the kernel initializers (a non-negative integer), so a seed gives the same initial model. */
  seed?: number;
}

/**
 * CIFAR ResNet (He et al., "Deep Residual Learning for Image Recognition",
 * CVPR 2016, section 4.2): a 3x3 conv, three stages of n basic blocks with
 * 16/32/64 channels (stride 2 at the start of stages 2 and 3), global average
 * pooling and a dense layer; depth = 6n + 2. Returns logits.
 *
 * Built from plain tfjs-layers Conv2D/Dense; `quantizeModel` from
 * `@trit/quant-core` turns any of them into quantized layers.
 */
export function resnetCifar(options: ResNetCifarOptions): tf.LayersModel {
  const {
    depth,
    numClasses = 10,
    inputShape = [32, 32, 3],
    shortcut = 'A',
    widths = [16, 32, 64],
  } = options;
  if (!Number.isInteger(depth) || depth < 8 || (depth - 2) % 6 !== 0) {
    throw new Error(
      `resnetCifar: depth must be 6n + 2 with n >= 1 (20, 32, 44, 56, ...), got ${depth}`,
    );
  }
  const n = (depth - 2) / 6;
  // tfjs treats a seed of 0 as "no seed" (Math.random), so layer k of a model
  // built with `seed` s gets s + k + 1: never 0, the same on every build.
  let seed = options.seed ?? 0;
  const init = () => tf.initializers.heNormal({ seed: ++seed });
  const conv = (x: tf.SymbolicTensor, filters: number, stride: number, name: string, kernel = 3) =>
    tf.layers
      .conv2d({
        filters,
        kernelSize: kernel,
        strides: stride,
        padding: 'same',
        useBias: false,
        kernelInitializer: init(),
        name,
      })
      .apply(x) as tf.SymbolicTensor;
  const bn = (x: tf.SymbolicTensor, name: string) =>
    tf.layers
      .batchNormalization({ momentum: 0.9, epsilon: 1e-5, name })
      .apply(x) as tf.SymbolicTensor;
  const relu = (x: tf.SymbolicTensor, name: string) =>
    tf.layers.activation({ activation: 'relu', name }).apply(x) as tf.SymbolicTensor;

  const input = tf.input({ shape: inputShape, name: 'input' });
  let x = relu(bn(conv(input, widths[0], 1, 'conv1'), 'bn1'), 'relu1');
  let channels = widths[0];
  for (let stage = 0; stage < 3; stage++) {
    for (let block = 0; block < n; block++) {
      const filters = widths[stage]!;
      const stride = stage > 0 && block === 0 ? 2 : 1;
      const p = `s${stage + 1}b${block + 1}`;
      let y = relu(bn(conv(x, filters, stride, `${p}_conv1`), `${p}_bn1`), `${p}_relu1`);
      y = bn(conv(y, filters, 1, `${p}_conv2`), `${p}_bn2`);
      let s = x;
      if (stride !== 1 || channels !== filters) {
        s =
          shortcut === 'A'
            ? (new ChannelPadShortcut({
                outChannels: filters,
                stride,
                name: `${p}_shortcut`,
              }).apply(x) as tf.SymbolicTensor)
            : bn(conv(x, filters, stride, `${p}_shortcut_conv`, 1), `${p}_shortcut_bn`);
      }
      x = relu(
        tf.layers.add({ name: `${p}_add` }).apply([y, s]) as tf.SymbolicTensor,
        `${p}_relu2`,
      );
      channels = filters;
    }
  }
  x = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as tf.SymbolicTensor;
  const logits = tf.layers
    .dense({
      units: numClasses,
      kernelInitializer: tf.initializers.glorotUniform({ seed: ++seed }),
      name: 'fc',
    })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: `resnet${depth}` });
}
