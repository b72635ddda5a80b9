import * as tf from '@tensorflow/tfjs';
import { getQuantizer } from '@trit/quant-core';
import { ttqQuantize } from '@trit/ttq'; // importing @trit/ttq also registers 'ttq'

// 1. The pure function: a latent kernel and two trainable scalars per layer.
const kernel = tf.variable(
  tf.tensor2d([
    [-0.9, -0.05],
    [0, 0.04],
    [0.3, 1.0],
  ]),
);
const wp = tf.variable(tf.scalar(1.5));
const wn = tf.variable(tf.scalar(0.5));
// Δ = 0.05 · max|W| = 0.05; -0.05 is not < -Δ, so it falls in the zero band
console.log(ttqQuantize(kernel, wp, wn).arraySync()); // [[-0.5, 0], [0, 0], [1.5, 1.5]]

// Gradients reach the kernel, Wp and Wn: train them with any tfjs optimizer.
const target = tf.tensor2d([
  [-0.8, 0],
  [0, 0],
  [1.2, 1.2],
]);
const optimizer = tf.train.sgd(0.5);
for (let step = 0; step < 40; step++) {
  optimizer.minimize(() => tf.mean(tf.square(tf.sub(ttqQuantize(kernel, wp, wn), target))), false, [
    kernel,
    wp,
    wn,
  ]);
}
console.log(wp.arraySync().toFixed(3), wn.arraySync().toFixed(3)); // 1.200 0.800

// 2. Through the registry, as the benchmark does: one instance per layer.
const ttq = getQuantizer('ttq', { init: 'mean' });
const params = Object.fromEntries(
  ttq.paramSpecs().map((spec) => [spec.name, tf.variable(tf.scalar(spec.init(kernel)))]),
);
const stats = ttq.stats(kernel, params);
console.log(stats.share, stats.scales, stats.extra);
const exported = ttq.exportTernary(kernel, params); // 2-bit codes + Wp, Wn for inference
console.log(exported?.codes); // Int8Array [-1, 0, 0, 0, 1, 1]
