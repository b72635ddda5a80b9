import { loadPresetData } from '../cli/load-data.js';
import { syntheticData } from '../training/synthetic-data.js';
import type { TrainData } from '../training/train.js';
import type { DataSpec } from './study.js';

/** Where a study's data is loaded from, besides the dataset cache. */
export interface DataSourceContext {
  /** The dataset cache folder (`--data-dir`), if given. */
  readonly dataDir?: string;
}

/** Loads the training data of a study's `{ type: 'dataset', name }` spec. */
export type DataSource = (
  spec: Extract<DataSpec, { type: 'dataset' }>,
  context: DataSourceContext,
) => Promise<TrainData>;

const sources = new Map<string, DataSource>();

/**
 * Registers a data source under a dataset name. A user's module
 * (`trit bench --import`) calls this so a study's `data: { type: 'dataset',
 * name }` loads its data; names not registered here come from the dataset
 * cache (`trit data import`). Registering a name twice is an error.
 */
export function registerDataSource(name: string, load: DataSource): void {
  if (typeof name !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/.test(name))
    throw new Error(
      `registerDataSource: name ${JSON.stringify(name)} must be lower-case letters, digits, '.', '_' or '-'`,
    );
  if (typeof load !== 'function')
    throw new Error(`registerDataSource("${name}"): the loader must be a function`);
  if (sources.has(name)) throw new Error(`registerDataSource: "${name}" is already registered`);
  sources.set(name, load);
}

/** Data source names registered by modules (the dataset cache is always available besides these). */
export function listDataSources(): string[] {
  return [...sources.keys()];
}

/** The training data a study's `data` spec names. */
export async function loadStudyData(
  spec: DataSpec,
  context: DataSourceContext = {},
): Promise<TrainData> {
  if (spec.type === 'synthetic') return syntheticData(spec);
  const source = sources.get(spec.name);
  if (source) return source(spec, context);
  return loadPresetData(spec, context.dataDir);
}
