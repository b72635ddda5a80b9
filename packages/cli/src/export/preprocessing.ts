/**
 * The input pipeline an exported model expects, stored in its manifest's
 * `metadata` so `trit infer` feeds the runtime exactly what the trainer fed
 * tfjs: for a cached dataset, `x = (pixel / 255 - mean[c]) / std[c]` with the
 * training split's per-channel statistics (as `loadPresetData`); for the
 * synthetic task of the smoke preset, the generator's options (its images
 * are used as generated).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataSpec } from '../bench/study.js';
import { entryDir } from '../data/cache.js';
import { metaFileName, parseSplitMeta } from '../data/meta.js';
import { resolveDataDir } from '../data/paths.js';

/** Where the training data came from. */
export type ExportDataInfo =
  | {
      readonly type: 'synthetic';
      readonly size: number;
      readonly numClasses: number;
      readonly numTrain: number;
      readonly numTest: number;
    }
  | { readonly type: 'dataset'; readonly name: string };

/** How raw inputs become model inputs. */
export type Preprocessing =
  | {
      /** `x = (pixel * pixelScale - mean[c]) / std[c]`, NHWC, RGB. */
      readonly type: 'normalize';
      readonly pixelScale: number;
      readonly mean: readonly number[];
      readonly std: readonly number[];
      /** The split the statistics come from (always the training split). */
      readonly computedFrom: string;
    }
  | {
      /** Inputs are used as generated (the synthetic task). */
      readonly type: 'none';
    };

/** The part of the manifest's metadata that {@link describeData} fills. */
export interface DataMetadata {
  readonly data: ExportDataInfo | null;
  readonly preprocessing: Preprocessing | null;
}

/** The train split's normalization of a cached dataset, from its meta file (images are not read). */
export async function readTrainNormalization(
  name: string,
  dataDir?: string,
): Promise<{ mean: number[]; std: number[] }> {
  const root = resolveDataDir(dataDir);
  const file = join(entryDir(root, name), metaFileName('train'));
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new Error(
      `dataset ${name} is not in the cache ${root} (no ${file}); import it with \`trit data import ${name}\` or pass --data-dir`,
    );
  }
  const meta = parseSplitMeta(JSON.parse(text), file);
  return { mean: [...meta.normalization.mean], std: [...meta.normalization.std] };
}

/**
 * Describes a preset's data and its preprocessing for the export metadata.
 * A cached dataset's normalization is read from the cache (`dataDir`); when
 * the cache is missing, `preprocessing` is null and `warning` says why.
 */
export async function describeData(
  spec: DataSpec,
  dataDir?: string,
): Promise<DataMetadata & { warning?: string }> {
  if (spec.type === 'synthetic') {
    const { size, numClasses, numTrain, numTest } = spec;
    return {
      data: { type: 'synthetic', size, numClasses, numTrain, numTest },
      preprocessing: { type: 'none' },
    };
  }
  try {
    const norm = await readTrainNormalization(spec.name, dataDir);
    return {
      data: { type: 'dataset', name: spec.name },
      preprocessing: { type: 'normalize', pixelScale: 1 / 255, ...norm, computedFrom: 'train' },
    };
  } catch (err) {
    return {
      data: { type: 'dataset', name: spec.name },
      preprocessing: null,
      warning: `${(err as Error).message}; the export records no normalization, so \`trit infer\` cannot use it`,
    };
  }
}
