import * as tf from '@tensorflow/tfjs';
import { ResNetLayers } from './layers.js';
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
  // Seeded layer k gets seed + k, never 0 (see ResNetLayers).
  const layers = new ResNetLayers(options.seed);
  const input = tf.input({ shape: inputShape, name: 'input' });
  let x = layers.stem(input, widths[0], 1);
  let channels = widths[0];
  for (let stage = 0; stage < 3; stage++) {
    for (let block = 0; block < n; block++) {
      const filters = widths[stage]!;
      const stride = stage > 0 && block === 0 ? 2 : 1;
      const p = `s${stage + 1}b${block + 1}`;
      // Option A pads channels of a subsampled x (no parameters); option B projects it.
      let shortcutFor: ((v: tf.SymbolicTensor) => tf.SymbolicTensor) | undefined;
      if (stride !== 1 || channels !== filters) {
        shortcutFor =
          shortcut === 'A'
            ? (v) =>
                new ChannelPadShortcut({
                  outChannels: filters,
                  stride,
                  name: `${p}_shortcut`,
                }).apply(v) as tf.SymbolicTensor
            : (v) => layers.projection(v, filters, stride, p);
      }
      x = layers.basicBlock(x, filters, stride, p, shortcutFor);
      channels = filters;
    }
  }
  const logits = layers.head(x, numClasses);
  return tf.model({ inputs: input, outputs: logits, name: `resnet${depth}` });
}
