import { seededRandom } from '@trit/quant-core';
import type { Batch } from '../data/batches.js';
import type { TrainData } from './train.js';

export interface SyntheticOptions {
  readonly size?: number;
  readonly numClasses?: number;
  readonly numTrain?: number;
  readonly numTest?: number;
  readonly seed?: number;
  readonly noise?: number;
}

/**
 * A separable image task generated in memory, for smoke runs and tests that
 * must not need a real dataset: class k is a bright bar at orientation/position
 * k on a noisy background, with a per-class colour tint.
 */
export function syntheticData(options: SyntheticOptions = {}): TrainData {
  const {
    size = 16,
    numClasses = 4,
    numTrain = 512,
    numTest = 128,
    seed = 7,
    noise = 0.35,
  } = options;
  const pixels = size * size * 3;
  const make = (count: number, s: number) => {
    const rand = seededRandom(s);
    const x = new Float32Array(count * pixels);
    const labels = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const k = i % numClasses;
      labels[i] = k;
      const horizontal = k % 2 === 0;
      const pos = Math.floor(((Math.floor(k / 2) + 0.5) / Math.ceil(numClasses / 2)) * size);
      for (let r = 0; r < size; r++) {
        for (let col = 0; col < size; col++) {
          const onBar = Math.abs((horizontal ? r : col) - pos) <= 1;
          for (let ch = 0; ch < 3; ch++) {
            const tint = ch === k % 3 ? 0.3 : 0;
            x[i * pixels + (r * size + col) * 3 + ch] =
              (onBar ? 1 : -0.5) + tint + noise * (rand() * 2 - 1);
          }
        }
      }
    }
    return { x, labels };
  };
  const train = make(numTrain, seed);
  const test = make(numTest, seed + 1);
  function* batches(
    src: { x: Float32Array; labels: Int32Array },
    order: number[],
    batchSize: number,
    jitter: (() => number) | null,
    epoch: number,
  ): Generator<Batch> {
    for (let start = 0; start < order.length; start += batchSize) {
      const idx = order.slice(start, start + batchSize);
      const x = new Float32Array(idx.length * pixels);
      const labels = new Int32Array(idx.length);
      idx.forEach((j, n) => {
        labels[n] = src.labels[j]!;
        x.set(src.x.subarray(j * pixels, (j + 1) * pixels), n * pixels);
        if (jitter) {
          // Augmentation: a random brightness shift (keeps every class's identity).
          const shift = 0.2 * (jitter() - 0.5);
          for (let p = n * pixels; p < (n + 1) * pixels; p++) x[p] = x[p]! + shift;
        }
      });
      yield {
        x,
        shape: [idx.length, size, size, 3],
        y: labels,
        size: idx.length,
        indices: Uint32Array.from(idx),
        epoch,
        step: start / batchSize,
      };
    }
  }
  return {
    inputShape: [size, size, 3],
    numClasses,
    numTrain,
    numTest,
    trainBatches(epoch, batchSize, s, augment) {
      const rand = seededRandom(s * 100_003 + epoch);
      const order = [...Array(numTrain).keys()];
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      return batches(train, order, batchSize, augment ? rand : null, epoch);
    },
    testBatches(batchSize) {
      return batches(test, [...Array(numTest).keys()], batchSize, null, 0);
    },
  };
}
