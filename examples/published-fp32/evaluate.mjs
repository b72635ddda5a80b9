#!/usr/bin/env node
// The campaign's published FP32 ResNet-20 in your own tfjs code: builds the
// model, loads the checkpoint's weights, optionally ternarizes it with a
// registered quantizer (no fine-tuning), and prints its CIFAR-10 test accuracy.
//
//   node examples/published-fp32/evaluate.mjs [--quantizer twn] [--data-dir <dir>]
//
// CIFAR-10 must have been imported once:
//   npm run trit -- data import cifar10 --from ../shared/datasets/cifar10-jpeg.tar.gz
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
// @trit/cli registers the built-in quantizers (fp32, bwn, twn, ttq, sq, hla).
import { batchToTensors, loadCheckpoint, loadPresetData, resnetCifar } from '@trit/cli';
import { initBackend, quantizeModel } from '@trit/quant-core';

const { values: opts } = parseArgs({
  options: { quantizer: { type: 'string' }, 'data-dir': { type: 'string' } },
});
const here = path.dirname(fileURLToPath(import.meta.url));
const published = path.join(here, '../../docs/results/cifar10-resnet20-long/state/pretrain/seed0');

await initBackend({ quiet: true });
// The architecture the checkpoint was trained with (its identity.json: resnet-cifar, depth 20).
const fp32 = resnetCifar({ depth: 20 });
// Refuses a checkpoint whose variables do not match the model's, naming the first that differs.
const { state } = await loadCheckpoint(path.join(published, 'checkpoint'), fp32);
console.log(`loaded ${published} (FP32, epoch ${state.epoch})`);

let model = fp32;
if (opts.quantizer) {
  // Every conv and dense layer gets the quantizer, its parameters initialised from the FP32 kernel.
  model = quantizeModel(fp32, { default: opts.quantizer }).model;
  fp32.dispose();
}

const data = await loadPresetData({ type: 'dataset', name: 'cifar10' }, opts['data-dir']);
let right = 0;
let seen = 0;
for (const batch of data.testBatches(500)) {
  const { xs, ys } = batchToTensors(batch);
  const predicted = tf.tidy(() => /** @type {tf.Tensor} */ (model.predict(xs)).argMax(-1));
  const [p, y] = await Promise.all([predicted.data(), ys.data()]);
  for (let i = 0; i < p.length; i++) if (p[i] === y[i]) right++;
  seen += p.length;
  tf.dispose([xs, ys, predicted]);
}
const what = opts.quantizer ? `${opts.quantizer}, no fine-tuning` : 'fp32';
console.log(`test accuracy (${what}): ${((100 * right) / seen).toFixed(2)}% of ${seen} images`);
