import '@trit/twn'; // registers the 'twn' quantizer
import * as tf from '@tensorflow/tfjs';
import { exportModel } from '@trit/export';
import { saveExport } from '@trit/export/node';
import { QuantizerCallback, quantizeModel } from '@trit/quant-core';
import { loadModelFromDir } from '@trit/runtime/node';

export async function usage(outDir: string) {
  // 1. Your own tfjs model (any Sequential or functional model of supported layers).
  const fp32 = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 8, kernelSize: 3, useBias: false }),
      tf.layers.batchNormalization(),
      tf.layers.reLU(),
      tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.dropout({ rate: 0.2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 16, activation: 'relu' }),
      tf.layers.dense({ units: 2, activation: 'softmax' }),
    ],
  });

  // 2. Quantize: TWN everywhere but the first conv and the last dense (kept float32).
  const { model } = quantizeModel(fp32, { default: 'twn' });

  // 3. Train as usual.
  model.compile({ optimizer: tf.train.adam(1e-2), loss: 'categoricalCrossentropy' });
  const x = tf.randomNormal([32, 8, 8, 1]);
  const y = tf.oneHot(tf.randomUniform([32], 0, 2, 'int32') as tf.Tensor1D, 2);
  await model.fit(x, y, { epochs: 2, verbose: 0, callbacks: [new QuantizerCallback()] });

  // 4. Export: ternary codes at 1.6 bits per weight, BatchNorm folded, ReLUs fused.
  const exported = exportModel(model);
  console.log(exported.manifest.ops.map((op) => `${op.op} ${op.name}`).join('\n'));
  await saveExport(outDir, exported); // outDir/model.json + outDir/model.bin

  // 5. Run it with @trit/runtime: no tfjs needed from here on.
  const runtime = await loadModelFromDir(outDir);
  const image = x.slice([0], [1]).dataSync() as Float32Array;
  const probs = runtime.predict({ shape: [1, 8, 8, 1], data: image });
  console.log(probs.data); // the same as model.predict, within float32 rounding
  return { model, exported, probs, image };
}
