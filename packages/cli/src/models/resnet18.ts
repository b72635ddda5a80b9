import * as tf from '@tensorflow/tfjs';
import { ResNetLayers } from './layers.js';

export interface ResNet18Options {
  numClasses: number;
  /** Default [64, 64, 3] (Tiny ImageNet). */
  inputShape?: [number, number, number];
  /** Channels of the four stages; ImageNet ResNet-18 uses [64, 128, 256, 512]. Default [32, 64, 128, 256]. */
  widths?: [number, number, number, number];
  seed?: number;
}

/**
 * ResNet-18 (He et al. 2016: four stages of two basic blocks, projection
 * shortcuts) sized for 64x64 inputs on a CPU: a 3x3 stride-2 stem instead of
 * the 7x7 stride-2 conv + max-pool (64x64 -> 32x32), and half the ImageNet
 * widths by default. Returns logits.
 */
export function resnet18(options: ResNet18Options): tf.LayersModel {
  const { numClasses, inputShape = [64, 64, 3], widths = [32, 64, 128, 256] } = options;
  // Seeded layer k gets seed + k, never 0 (see ResNetLayers).
  const layers = new ResNetLayers(options.seed);
  const input = tf.input({ shape: inputShape, name: 'input' });
  let x = layers.stem(input, widths[0], 2);
  let channels = widths[0];
  widths.forEach((filters, stage) => {
    for (let block = 0; block < 2; block++) {
      const stride = stage > 0 && block === 0 ? 2 : 1;
      const p = `s${stage + 1}b${block + 1}`;
      const projection =
        stride !== 1 || channels !== filters
          ? (v: tf.SymbolicTensor) => layers.projection(v, filters, stride, p)
          : undefined;
      x = layers.basicBlock(x, filters, stride, p, projection);
      channels = filters;
    }
  });
  const logits = layers.head(x, numClasses);
  return tf.model({ inputs: input, outputs: logits, name: 'resnet18' });
}
