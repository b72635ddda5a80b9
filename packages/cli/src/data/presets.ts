import { fileURLToPath } from 'node:url';
import { DatasetError } from './errors.js';

/** The two splits every cached dataset has. For ImageNet-style sources `test` is the labelled validation set. */
export type Split = 'train' | 'test';
export const SPLITS: readonly Split[] = ['train', 'test'];

/** Source layouts the importer understands. */
export type LayoutKind =
  /** `cifar-10-batches-bin/data_batch_{1..5}.bin` + `test_batch.bin` (official binary release). */
  | 'cifar10-binary'
  /** `<root>/{train,test}/<class>/*.jpg|png` with the 10 CIFAR-10 class folders. */
  | 'cifar10-folder'
  /** Tiny ImageNet: `wnids.txt`, `words.txt`, `train/<wnid>/images/*`, `val/images/*` + `val/val_annotations.txt`. */
  | 'tiny-imagenet'
  /** ImageNet folders: `train/<wnid>/*`, `val/<wnid>/*` (classes in sorted folder order). */
  | 'imagenet-folder';

export interface ImageSize {
  readonly height: number;
  readonly width: number;
}

/** Images per class: one number for both splits, or per split (absent = all). */
export type PerClass = number | { readonly train?: number; readonly test?: number };

/** Where `downloadDataset` fetches a dataset from. */
export interface DownloadSource {
  readonly url: string;
  /** Lower-case hex sha256 of the whole file. */
  readonly sha256: string;
  /** File name under `<dataDir>/.downloads/`. */
  readonly fileName: string;
  /** Size in bytes, when published (used for progress before the server answers). */
  readonly size?: number;
}

export interface DatasetPreset {
  /** Cache entry name and CLI name: lower-case letters, digits, `.`, `_`, `-`. */
  readonly name: string;
  readonly description: string;
  /** Accepted source layouts, tried in this order. */
  readonly layouts: readonly LayoutKind[];
  /** Default class subset: the first N classes in canonical order. */
  readonly classes?: number;
  /** Default images per class. */
  readonly perClass?: PerClass;
  /** Required image size; absent = the first image fixes it (all must match unless resized). */
  readonly imageSize?: ImageSize;
  /**
   * Images per class of the official release, per split. A source with other
   * counts (a truncated or incomplete copy) is a `WRONG_COUNT` error unless the
   * import allows non-standard counts. Absent = not checked.
   */
  readonly expectedPerClass?: { readonly train: number; readonly test: number };
  /** Source used when `from` is not given (a file shipped with the package). */
  readonly defaultFrom?: string;
  /** Official archive for `downloadDataset`. */
  readonly download?: DownloadSource;
  /** Why there is no download, and what to do instead (shown by `downloadDataset`). */
  readonly downloadNote?: string;
  /** What `--from` expects, for messages. */
  readonly sourceHint: string;
  /** A caveat to state wherever results on this data are published. */
  readonly caveat?: string;
}

/** CIFAR-10 class names in label order. */
export const CIFAR10_CLASSES: readonly string[] = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
];

/** Official CIFAR-10 binary release (https://www.cs.toronto.edu/~kriz/cifar.html). */
export const CIFAR10_BINARY_DOWNLOAD: DownloadSource = {
  url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz',
  sha256: 'c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd',
  fileName: 'cifar-10-binary.tar.gz',
  size: 170_052_171,
};

/** The committed CIFAR-10 sample (see `packages/cli/data/README.md`). */
export const CIFAR10_SAMPLE_ARCHIVE = fileURLToPath(
  new URL('../../data/cifar10-sample.tar.gz', import.meta.url),
);

const JPEG_CAVEAT =
  'When imported from the JPEG copy (cifar10-jpeg.tar.gz) pixels differ slightly from the official ' +
  'binary release, so accuracies may sit a little below published CIFAR-10 numbers; compare methods on the same copy.';

const TINY_HINT = 'the Tiny ImageNet folder or a .tar.gz of it (wnids.txt, train/, val/)';
const TINY_DOWNLOAD_NOTE =
  'the official Tiny ImageNet archive (http://cs231n.stanford.edu/tiny-imagenet-200.zip) is a .zip, ' +
  'which trit does not read: download and unzip it, then import the folder';

const BUILTIN: readonly DatasetPreset[] = [
  {
    name: 'cifar10',
    description: 'CIFAR-10: 50,000 train + 10,000 test images, 32x32 RGB, 10 classes',
    layouts: ['cifar10-binary', 'cifar10-folder'],
    imageSize: { height: 32, width: 32 },
    expectedPerClass: { train: 5000, test: 1000 },
    download: CIFAR10_BINARY_DOWNLOAD,
    sourceHint:
      'cifar-10-binary.tar.gz (official binary release) or cifar10-jpeg.tar.gz (image folders)',
    caveat: JPEG_CAVEAT,
  },
  {
    name: 'cifar10-sample',
    description:
      'CIFAR-10 sample shipped with the package: 500 train + 100 test images per class (JPEG copy)',
    layouts: ['cifar10-folder'],
    imageSize: { height: 32, width: 32 },
    expectedPerClass: { train: 500, test: 100 },
    defaultFrom: CIFAR10_SAMPLE_ARCHIVE,
    downloadNote: 'it ships with the package, nothing to download',
    sourceHint: 'packages/cli/data/cifar10-sample.tar.gz (the default)',
    caveat: `A 6,000-image subset: results are indicative only. ${JPEG_CAVEAT}`,
  },
  {
    name: 'tiny-imagenet-10',
    description:
      'Tiny ImageNet, first 10 classes of wnids.txt: 500 train + 50 val images per class, 64x64',
    layouts: ['tiny-imagenet'],
    classes: 10,
    imageSize: { height: 64, width: 64 },
    expectedPerClass: { train: 500, test: 50 },
    sourceHint: TINY_HINT,
    downloadNote: TINY_DOWNLOAD_NOTE,
  },
  {
    name: 'tiny-imagenet-100',
    description:
      'Tiny ImageNet, first 100 classes of wnids.txt: 500 train + 50 val images per class, 64x64',
    layouts: ['tiny-imagenet'],
    classes: 100,
    imageSize: { height: 64, width: 64 },
    expectedPerClass: { train: 500, test: 50 },
    sourceHint: TINY_HINT,
    downloadNote: TINY_DOWNLOAD_NOTE,
  },
  {
    name: 'imagenet',
    description:
      'ImageNet folder layout (train/<wnid>/*.JPEG, val/<wnid>/*.JPEG); set a resize policy for full-size images',
    layouts: ['imagenet-folder'],
    downloadNote:
      'ImageNet requires accepting its terms at https://image-net.org; download it there and import the folder',
    sourceHint: 'an ImageNet-style folder (train/<wnid>/, val/<wnid>/) or a .tar/.tar.gz of it',
  },
];

const registry = new Map<string, DatasetPreset>(BUILTIN.map((p) => [p.name, p]));

const NAME_RE = /^[a-z0-9][a-z0-9._-]*$/;

/** Checks a cache-entry name (it becomes a folder name). */
export function checkDatasetName(name: string, what = 'dataset name'): void {
  if (typeof name !== 'string' || !NAME_RE.test(name) || name.length > 100) {
    throw new DatasetError(
      'BAD_OPTION',
      `invalid ${what} ${JSON.stringify(name)}: use lower-case letters, digits, ".", "_" and "-"`,
    );
  }
}

/** Names of all registered datasets, sorted. */
export function listDatasets(): string[] {
  return [...registry.keys()].sort();
}

/** All registered presets, sorted by name. */
export function listDatasetPresets(): DatasetPreset[] {
  return listDatasets().map((n) => registry.get(n)!);
}

export function isKnownDataset(name: string): boolean {
  return registry.has(name);
}

/** The error for an unknown dataset name, listing the known ones. */
export function unknownDatasetError(name: string): DatasetError {
  return new DatasetError(
    'UNKNOWN_DATASET',
    `unknown dataset ${JSON.stringify(name)}; known datasets: ${listDatasets().join(', ')}`,
  );
}

/** The preset called `name`; throws an error listing the known names otherwise. */
export function getDatasetPreset(name: string): DatasetPreset {
  const preset = registry.get(name);
  if (!preset) throw unknownDatasetError(name);
  return preset;
}

/**
 * Registers a dataset (e.g. your own ImageNet-style folder at 64x64) so that
 * `importDataset`, `loadDataset` and the CLI accept its name.
 */
export function registerDataset(preset: DatasetPreset, options: { replace?: boolean } = {}): void {
  checkDatasetName(preset.name);
  if (registry.has(preset.name) && !options.replace) {
    throw new DatasetError(
      'BAD_OPTION',
      `dataset ${JSON.stringify(preset.name)} is already registered (pass { replace: true } to replace it)`,
    );
  }
  if (preset.layouts.length === 0) {
    throw new DatasetError(
      'BAD_OPTION',
      `dataset ${JSON.stringify(preset.name)}: layouts must not be empty`,
    );
  }
  registry.set(preset.name, preset);
}

/** Removes a registered dataset (built-in presets included); returns whether it existed. */
export function unregisterDataset(name: string): boolean {
  return registry.delete(name);
}
