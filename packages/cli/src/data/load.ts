import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { entryDir } from './cache.js';
import { DatasetError } from './errors.js';
import { importCommand } from './hints.js';
import { type ImportOptions, type ImportResult, importDataset, isImported } from './import.js';
import { metaFileName, parseSplitMeta, type SplitMeta } from './meta.js';
import { resolveDataDir } from './paths.js';
import {
  checkDatasetName,
  getDatasetPreset,
  isKnownDataset,
  type Split,
  unknownDatasetError,
} from './presets.js';

export interface LoadOptions {
  /** Cache root (default: the user's cache dir, see `defaultDataDir`). */
  readonly dataDir?: string;
  /** Also recompute the sha256 of both files and compare with the meta (~0.2 s per 150 MB). */
  readonly verifyChecksum?: boolean;
}

/**
 * One split of a cached dataset, in memory: the images as one uint8 NHWC
 * array and the labels, ready for {@link createBatchIterator}.
 */
export interface DatasetSplit {
  /** Cache entry name. */
  readonly name: string;
  /** Registered dataset it was imported as. */
  readonly dataset: string;
  readonly split: Split;
  readonly count: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly numClasses: number;
  readonly classNames: readonly string[];
  /** `count*height*width*channels` bytes, NHWC, RGB. */
  readonly images: Uint8Array;
  /** `count` labels in [0, numClasses). */
  readonly labels: Uint8Array | Uint16Array;
  /** Per-channel mean/std of the train split on pixel/255 (for normalization). */
  readonly mean: readonly number[];
  readonly std: readonly number[];
  readonly meta: SplitMeta;
}

/** Accepts `train`, `test` and `val` (an alias of `test`, the labelled held-out split). */
export function resolveSplit(split: string): Split {
  if (split === 'train' || split === 'test') return split;
  if (split === 'val' || split === 'validation') return 'test';
  throw new DatasetError(
    'BAD_OPTION',
    `unknown split ${JSON.stringify(split)}; splits are train and test (val = test)`,
  );
}

/** The error for a dataset that is known (or at least well-named) but not in the cache. */
export function notImportedError(name: string, dataDir: string, detail?: string): DatasetError {
  return new DatasetError(
    'NOT_IMPORTED',
    `dataset ${name} is not imported${detail ? ` (${detail})` : ''} in ${dataDir}. Import it first:\n  ${importCommand(name, dataDir)}`,
  );
}

function damaged(file: string, why: string, name: string, dataDir: string): DatasetError {
  return new DatasetError(
    'BAD_CACHE',
    `${file} ${why}; the cache entry is damaged, import it again:\n  ${importCommand(name, dataDir)}`,
  );
}

/**
 * Loads one split from the cache: reads and validates the meta (zod schema),
 * then each data file with a single read, checking its size and every label.
 * A missing cache is a `NOT_IMPORTED` error giving the `trit data import`
 * command to run; an unknown name lists the known datasets.
 */
export async function loadDataset(
  name: string,
  split: Split | 'val',
  options: LoadOptions = {},
): Promise<DatasetSplit> {
  const which = resolveSplit(split);
  const dataDir = resolveDataDir(options.dataDir);
  checkDatasetName(name);
  const dir = entryDir(dataDir, name);
  const metaPath = join(dir, metaFileName(which));
  let text: string;
  try {
    text = await readFile(metaPath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const entryExists = await stat(dir).then(
      () => true,
      () => false,
    );
    if (!isKnownDataset(name) && !entryExists) throw unknownDatasetError(name);
    throw notImportedError(name, dataDir, entryExists ? `${metaPath} is missing` : undefined);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw damaged(metaPath, `is not valid JSON (${(err as Error).message})`, name, dataDir);
  }
  const meta = parseSplitMeta(json, metaPath);
  if (meta.split !== which)
    throw damaged(metaPath, `describes split ${meta.split}, not ${which}`, name, dataDir);

  const imagesPath = join(dir, meta.files.images.name);
  const labelsPath = join(dir, meta.files.labels.name);
  const [imageBuf, labelBuf] = await Promise.all([
    readFile(imagesPath).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? damaged(imagesPath, 'is missing', name, dataDir) : err;
    }),
    readFile(labelsPath).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? damaged(labelsPath, 'is missing', name, dataDir) : err;
    }),
  ]);
  if (imageBuf.length !== meta.files.images.bytes) {
    throw damaged(
      imagesPath,
      `has ${imageBuf.length} bytes, the meta says ${meta.files.images.bytes}`,
      name,
      dataDir,
    );
  }
  if (labelBuf.length !== meta.files.labels.bytes) {
    throw damaged(
      labelsPath,
      `has ${labelBuf.length} bytes, the meta says ${meta.files.labels.bytes}`,
      name,
      dataDir,
    );
  }
  if (options.verifyChecksum) {
    for (const [path, buf, want] of [
      [imagesPath, imageBuf, meta.files.images.sha256],
      [labelsPath, labelBuf, meta.files.labels.sha256],
    ] as const) {
      const got = createHash('sha256').update(buf).digest('hex');
      if (got !== want)
        throw damaged(path, `has sha256 ${got}, the meta says ${want}`, name, dataDir);
    }
  }
  const images = new Uint8Array(imageBuf.buffer, imageBuf.byteOffset, imageBuf.byteLength);
  let labels: Uint8Array | Uint16Array;
  if (meta.labelType === 'uint8') {
    labels = new Uint8Array(labelBuf.buffer, labelBuf.byteOffset, labelBuf.byteLength);
  } else {
    labels = new Uint16Array(meta.count);
    for (let i = 0; i < meta.count; i++) labels[i] = labelBuf.readUInt16LE(2 * i);
  }
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]! >= meta.classes) {
      throw damaged(
        labelsPath,
        `has label ${labels[i]} at index ${i}, but there are ${meta.classes} classes`,
        name,
        dataDir,
      );
    }
  }
  return {
    name,
    dataset: meta.dataset,
    split: which,
    count: meta.count,
    height: meta.height,
    width: meta.width,
    channels: meta.channels,
    numClasses: meta.classes,
    classNames: meta.classNames,
    images,
    labels,
    mean: meta.normalization.mean,
    std: meta.normalization.std,
    meta,
  };
}

/**
 * Imports `name` if it is not in the cache yet and its preset ships a source
 * (like `cifar10-sample`); otherwise a missing cache is a `NOT_IMPORTED` error.
 * Returns the import result, or undefined when the cache was already there.
 */
export async function ensureImported(
  name: string,
  options: Pick<ImportOptions, 'dataDir' | 'onProgress'> = {},
): Promise<ImportResult | undefined> {
  const dataDir = resolveDataDir(options.dataDir);
  if (await isImported(name, { dataDir })) return undefined;
  const preset = getDatasetPreset(name);
  if (!preset.defaultFrom) throw notImportedError(name, dataDir);
  return importDataset(name, { dataDir, onProgress: options.onProgress });
}
