// The README's usage example, verbatim between the markers (readme.test.ts checks
// that README.md shows exactly this code, with the package name as the import).
// README-EXAMPLE-START
import * as tf from '@tensorflow/tfjs';
import { getQuantizer } from '@trit/quant-core';
import { hlaQuantize, hlaRegularizer } from '../src/index.js'; // importing it registers 'hla'

export function readmeExample() {
  // 1. The pure functions, on any kernel.
  const w = tf.variable(tf.randomNormal([3, 3, 8, 16], 0, 0.1, 'float32', 1));
  const q = hlaQuantize(w, { tau: 2 }); // α·T, backward g·r(W)
  const r = hlaRegularizer(w, { lambda: 1 }); // λ·(1 − cos(W, T))

  // 2. The scheduled quantizer, one instance per layer.
  const hla = getQuantizer('hla', { lambdaMax: 1, tauMax: 4, phase1Fraction: 0.5 });
  const x = tf.randomNormal<tf.Rank.R4>([4, 8, 8, 8], 0, 1, 'float32', 2);
  const optimizer = tf.train.sgd(0.05);
  const epochs = 4;
  const stepsPerEpoch = 5;
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let step = 0; step < stepsPerEpoch; step++) {
      hla.onStep({ epoch, epochs, step, stepsPerEpoch }); // phase, λ and τ
      optimizer.minimize(() => {
        const kernel = hla.quantize(w, {}) as tf.Tensor4D; // W in phase 1, α·T in phase 2
        const y = tf.conv2d(x, kernel, 1, 'same');
        const task = tf.mean<tf.Scalar>(tf.square(tf.sub(y, 1))); // stand-in for the task loss
        const reg = hla.regularizer(w, {});
        return reg ? tf.add<tf.Scalar>(task, reg) : task;
      });
    }
  }
  const stats = hla.stats(w, {}); // shares, α, cosine(W, T), λ, τ, phase
  const exported = hla.exportTernary(w, {}); // Int8 codes {-1, 0, 1} and α

  tf.dispose([w, q, r, x]);
  optimizer.dispose();
  return { state: hla.getState(), stats, exported };
}
// README-EXAMPLE-END
