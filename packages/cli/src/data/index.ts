/**
 * The dataset layer of the trit benchmark: importers for CIFAR-10 (binary
 * release and image folders), Tiny ImageNet and ImageNet-style folders into a
 * raw uint8 cache, downloads, loading, and a seeded batch iterator with the
 * CIFAR augmentation.
 */

// quant-core's one byte formatter and one seeded PRNG, re-exported for the pipeline's users (perf/).
export { formatBytes, Rng } from '@trit/quant-core';
export {
  type AugmentOptions,
  augmentImage,
  type Batch,
  BatchIterator,
  type BatchOptions,
  CIFAR_AUGMENT,
  createBatchIterator,
  evalBatches,
  type ImageArrays,
  type ImageTransform,
  trainBatches,
} from './batches.js';
export { type CachedDataset, listCachedDatasets } from './cache.js';
export { type DecodedImage, decodeImage, type ResizeFit, type ResizePolicy } from './decode.js';
export {
  type DownloadOptions,
  type DownloadResult,
  defaultDownloadSources,
  downloadDataset,
} from './download.js';
export { DatasetError, type DatasetErrorCode } from './errors.js';
export { formatAmount, formatRate } from './format.js';
export { importCommand } from './hints.js';
export {
  type BadImagePolicy,
  type ImportedSplit,
  type ImportOptions,
  type ImportResult,
  importDataset,
  isImported,
  type SkippedImage,
} from './import.js';
export {
  type DatasetSplit,
  ensureImported,
  type LoadOptions,
  loadDataset,
  resolveSplit,
} from './load.js';
export { DATASET_CACHE_VERSION, parseSplitMeta, type SplitMeta, SplitMetaSchema } from './meta.js';
export { parsePerClass, parseSize } from './options.js';
export { defaultDataDir, resolveDataDir } from './paths.js';
export {
  CIFAR10_BINARY_DOWNLOAD,
  CIFAR10_CLASSES,
  CIFAR10_SAMPLE_ARCHIVE,
  type DatasetPreset,
  type DownloadSource,
  getDatasetPreset,
  type ImageSize,
  isKnownDataset,
  type LayoutKind,
  listDatasetPresets,
  listDatasets,
  type PerClass,
  registerDataset,
  SPLITS,
  type Split,
  unregisterDataset,
} from './presets.js';
export { deriveSeed } from './prng.js';
export type { ProgressCallback, ProgressEvent } from './progress.js';
export { batchToTensors } from './tensors.js';
