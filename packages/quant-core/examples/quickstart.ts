import * as tf from '@tensorflow/tfjs';
import {
  formatSummary,
  initBackend,
  modelSummary,
  QuantizerCallback,
  quantizeModel,
} from '@trit/quant-core';
import './ternary-fixed.js'; // registers 'ternary-fixed'; in your code: import '@trit/ttq', '@trit/twn', ...

export async function quickstart() {
  await initBackend(); // native TensorFlow when it loads, else the cpu backend (with a warning)

  // Any tfjs model: Sequential or functional, freshly built or trained at full precision.
  const fp32 = tf.sequential({
    layers: [
      tf.layers.conv2d({
        name: 'conv1',
        filters: 8,
        kernelSize: 3,
        inputShape: [16, 16, 1],
        activation: 'relu',
      }),
      tf.layers.conv2d({ name: 'conv2', filters: 8, kernelSize: 3, activation: 'relu' }),
      tf.layers.flatten(),
      tf.layers.dense({ name: 'fc1', units: 16, activation: 'relu' }),
      tf.layers.dense({ name: 'fc2', units: 2, activation: 'softmax' }),
    ],
  });

  // conv2 gets the fixed-threshold ternary quantizer, fc1 the default (BWN);
  // conv1 and fc2, the first and last layers, stay fp32.
  const { model, assignment } = quantizeModel(fp32, {
    rules: [{ match: { type: 'conv' }, quantizer: 'ternary-fixed', config: { threshold: 0.02 } }],
    default: 'bwn',
  });

  model.compile({
    optimizer: tf.train.adam(1e-3),
    loss: 'categoricalCrossentropy',
    metrics: ['accuracy'],
  });
  const x = tf.randomNormal([64, 16, 16, 1]);
  const y = tf.oneHot(tf.randomUniform([64], 0, 2, 'int32') as tf.Tensor1D, 2);
  // The callback runs the quantizers' schedules before and clips their parameters after every batch.
  await model.fit(x, y, {
    epochs: 2,
    batchSize: 16,
    verbose: 0,
    callbacks: [new QuantizerCallback()],
  });

  const summary = modelSummary(model);
  console.log(formatSummary(summary));
  return { model, assignment, summary };
}
