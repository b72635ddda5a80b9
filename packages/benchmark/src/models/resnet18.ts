import * as tf from '@tensorflow/tfjs';

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
  // tfjs treats a seed of 0 as "no seed" (Math.random): layer k gets seed + k + 1, never 0.
  let seed = options.seed ?? 0;
  const conv = (x: tf.SymbolicTensor, filters: number, stride: number, name: string, kernel = 3) =>
    tf.layers
      .conv2d({
        filters,
        kernelSize: kernel,
        strides: stride,
        padding: 'same',
        useBias: false,
        kernelInitializer: tf.initializers.heNormal({ seed: ++seed }),
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
  let x = relu(bn(conv(input, widths[0], 2, 'conv1'), 'bn1'), 'relu1');
  let channels = widths[0];
  widths.forEach((filters, stage) => {
    for (let block = 0; block < 2; block++) {
      const stride = stage > 0 && block === 0 ? 2 : 1;
      const p = `s${stage + 1}b${block + 1}`;
      let y = relu(bn(conv(x, filters, stride, `${p}_conv1`), `${p}_bn1`), `${p}_relu1`);
      y = bn(conv(y, filters, 1, `${p}_conv2`), `${p}_bn2`);
      const s =
        stride !== 1 || channels !== filters
          ? bn(conv(x, filters, stride, `${p}_shortcut_conv`, 1), `${p}_shortcut_bn`)
          : x;
      x = relu(
        tf.layers.add({ name: `${p}_add` }).apply([y, s]) as tf.SymbolicTensor,
        `${p}_relu2`,
      );
      channels = filters;
    }
  });
  x = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as tf.SymbolicTensor;
  const logits = tf.layers
    .dense({
      units: numClasses,
      kernelInitializer: tf.initializers.glorotUniform({ seed: ++seed }),
      name: 'fc',
    })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: 'resnet18' });
}
