import * as tf from '@tensorflow/tfjs';
import { dequantizeExport, getQuantizer } from '@trit/quant-core';
import { TWN_PRESETS, twnQuantize } from '@trit/twn'; // importing @trit/twn registers 'twn'

// 1. The pure function: δ = 0.7, per layer (the 2016 paper).
const w = tf.tensor1d([-0.9, -0.05, 0, 0.04, 0.3, 1.0]);
const q = twnQuantize(w);
console.log(q.arraySync()); // ≈ [-0.7333, 0, 0, 0, 0.7333, 0.7333]

// 2. Its gradient is the identity straight-through estimator: dL/dW = dL/dQ.
const upstream = tf.tensor1d([1, 2, 3, 4, 5, 6]);
const grad = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(twnQuantize(x), upstream)))(w);
console.log(grad.arraySync()); // [1, 2, 3, 4, 5, 6]

// 3. From the registry, with the 2022 revision's setting (δ = 0.75 per output channel).
const twn = getQuantizer('twn', TWN_PRESETS.revision2022);
const kernel = tf.tensor2d([
  [0.6, -2],
  [-0.1, 1],
  [0.2, 0.5],
]); // dense [in = 3, out = 2]
console.log(twn.stats(kernel, {}).scales.alpha); // ≈ [0.6, 1.5]
const exported = twn.exportTernary(kernel, {});
if (exported) {
  console.log(Array.from(exported.codes)); // [1, -1, 0, 1, 0, 0]
  console.log(Array.from(dequantizeExport(exported))); // ≈ [0.6, -1.5, 0, 1.5, 0, 0]
}

// 4. Training: quantize the latent variable inside the loss; the optimizer
//    updates the full-precision latent weights through the identity STE.
const latent = tf.tidy(() =>
  tf.variable(
    tf.tensor2d([
      [0.5, -0.2],
      [0.1, 0.9],
    ]),
  ),
);
const x = tf.tensor2d([
  [1, 0],
  [0, 1],
]);
const y = tf.tensor2d([
  [1, 0],
  [0, 1],
]);
const optimizer = tf.train.sgd(0.1);
const loss = optimizer.minimize(
  () => tf.losses.meanSquaredError(y, tf.matMul(x, twnQuantize(latent))),
  true,
);
console.log(loss?.dataSync()[0]); // ≈ 0.045
console.log(latent.arraySync()); // ≈ [[0.515, -0.2], [0.1, 0.915]]

tf.dispose([w, q, upstream, grad, kernel, latent, x, y]);
loss?.dispose();
optimizer.dispose();
