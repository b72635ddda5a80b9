import { defaultDataDir } from './paths.js';
import { type DatasetPreset, getDatasetPreset, isKnownDataset } from './presets.js';

/** The `--data-dir` argument to add to a suggested command, if `dataDir` is not the default. */
export function dataDirArg(dataDir: string): string {
  return dataDir === defaultDataDir() ? '' : ` --data-dir ${quote(dataDir)}`;
}

function quote(s: string): string {
  return /^[\w./~:-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The CLI command that imports `name` (and the download alternative when there is one). */
export function importCommand(name: string, dataDir: string): string {
  const dd = dataDirArg(dataDir);
  if (!isKnownDataset(name)) return `trit data import <dataset> --from <archive or folder>${dd}`;
  const preset: DatasetPreset = getDatasetPreset(name);
  if (preset.defaultFrom) return `trit data import ${name}${dd}`;
  const cmd = `trit data import ${name} --from <${preset.sourceHint}>${dd}`;
  return preset.download ? `${cmd}  (or download it: trit data download ${name}${dd})` : cmd;
}
