import * as tf from '@tensorflow/tfjs';
import type { Batch } from './batches.js';

/**
 * tfjs tensors of a batch: `xs` float32 `[n, h, w, c]`, `ys` int32 `[n]`
 * labels, or float32 `[n, numClasses]` one-hot when the batch has `yOneHot`
 * (iterator option `oneHot`). The caller disposes them.
 */
export function batchToTensors(batch: Batch): { xs: tf.Tensor4D; ys: tf.Tensor1D | tf.Tensor2D } {
  const xs = tf.tensor4d(batch.x, batch.shape, 'float32');
  const ys = batch.yOneHot
    ? tf.tensor2d(batch.yOneHot, [batch.size, batch.yOneHot.length / batch.size], 'float32')
    : tf.tensor1d(batch.y, 'int32');
  return { xs, ys };
}
