import * as tf from '@tensorflow/tfjs';
import { getQuantizer } from '@trit/quant-core';
import { sqMemoryReport } from '../src/index.js'; // importing the package registers 'sq'

// One quantizer instance per layer; λ and γ are the provisional defaults (see "Defaults").
const sq = getQuantizer('sq', { lambda: 1e-3, gamma: 1e-3 });

// A layer's latent kernel and the per-layer scalars SQ declares: alpha and beta.
const kernel = tf.variable(tf.randomNormal([3, 3, 16, 32], 0, 0.05, 'float32', 1));
const params: Record<string, tf.Variable> = {};
for (const spec of sq.paramSpecs()) params[spec.name] = tf.variable(tf.scalar(spec.init(kernel)));

// A few training steps on a stand-in task loss.
const target = tf.randomNormal([3, 3, 16, 32], 0, 0.05, 'float32', 2);
const optimizer = tf.train.adam(1e-2);
for (let step = 0; step < 20; step++) {
  optimizer.minimize(() => {
    const q = sq.quantize(kernel, params); // forward pass with SQ's straight-through gradient
    const task = tf.losses.meanSquaredError(target, q);
    return tf.add(task, sq.regularizer(kernel, params)!) as tf.Scalar;
  });
  // project alpha and beta back onto their ranges after every update
  for (const spec of sq.paramSpecs()) {
    const v = params[spec.name]!;
    if (spec.clip) v.assign(tf.clipByValue(v, spec.clip[0], spec.clip[1]));
  }
}

const stats = sq.stats(kernel, params);
console.log(sq.precision(params), stats.extra); // bits per weight, then beta, deltaOverAlpha, zeroBandShare, bits
console.log(sqMemoryReport([stats])); // Σ N·b bits against an all-ternary layer
const exported = sq.exportTernary(kernel, params); // Int8 codes and α, for inference
console.log(exported?.bits, exported?.codes.length);
