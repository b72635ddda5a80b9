import type { DataSpec } from '../bench/study.js';
import { BatchIterator, CIFAR_AUGMENT, ensureImported, loadDataset } from '../data/index.js';
import type { TrainData } from '../training/train.js';

/**
 * A cached dataset as the trainer's {@link TrainData}: seeded shuffling and
 * CIFAR augmentation (pad-4 random crop + horizontal flip) per epoch,
 * per-channel normalization with the training split's statistics. The
 * committed CIFAR-10 sample is imported on first use; other datasets must have
 * been imported with `trit data import` (the error says how).
 */
export async function loadPresetData(
  spec: Extract<DataSpec, { type: 'dataset' }>,
  dataDir?: string,
): Promise<TrainData> {
  await ensureImported(spec.name, { dataDir });
  const train = await loadDataset(spec.name, 'train', { dataDir });
  const test = await loadDataset(spec.name, 'test', { dataDir });
  const norm = { mean: train.mean, std: train.std };
  const testData = { ...test, mean: train.mean, std: train.std };
  const iterators = new Map<string, BatchIterator>();
  const trainIterator = (batchSize: number, seed: number, augment: boolean) => {
    const key = `${batchSize}:${seed}:${augment}`;
    let it = iterators.get(key);
    if (!it) {
      it = new BatchIterator(train, {
        batchSize,
        seed,
        shuffle: true,
        augment: augment ? CIFAR_AUGMENT : false,
        normalize: norm,
      });
      iterators.set(key, it);
    }
    return it;
  };
  return {
    inputShape: [train.height, train.width, train.channels],
    numClasses: train.numClasses,
    numTrain: train.count,
    numTest: test.count,
    trainBatches: (epoch, batchSize, seed, augment) =>
      trainIterator(batchSize, seed, augment).epoch(epoch),
    testBatches: (batchSize) =>
      new BatchIterator(testData, { batchSize, normalize: norm }).epoch(0),
  };
}
