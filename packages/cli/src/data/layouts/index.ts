import { DatasetError } from '../errors.js';
import type { DatasetPreset, LayoutKind } from '../presets.js';
import type { SourceTree } from '../source.js';
import { cifarBinaryReader } from './cifar-binary.js';
import { cifarFolderReader } from './cifar-folder.js';
import type { ImportPlan, LayoutReader, Selection } from './common.js';
import { findRoot } from './common.js';
import { imagenetFolderReader } from './imagenet-folder.js';
import { tinyImagenetReader } from './tiny-imagenet.js';

export {
  CIFAR_BIN_CAP,
  CIFAR_RECORD_BYTES,
  CIFAR_RECORDS_PER_FILE,
  checkCifarBinary,
  cifarRecordToHwc,
} from './cifar-binary.js';
export type { BinaryPlan, ImageItem, ImagePlan, ImportPlan, Selection } from './common.js';

const READERS: Readonly<Record<LayoutKind, LayoutReader>> = {
  'cifar10-binary': cifarBinaryReader,
  'cifar10-folder': cifarFolderReader,
  'tiny-imagenet': tinyImagenetReader,
  'imagenet-folder': imagenetFolderReader,
};

/** Base names of the index files any of the preset's layouts reads (what an archive scan keeps). */
export function indexFileNames(preset: DatasetPreset): Set<string> {
  return new Set(preset.layouts.flatMap((k) => READERS[k].indexFiles));
}

/**
 * Finds which of the preset's layouts the source holds (at its root or up to
 * two folders down) and lists what to import. A source matching none is a
 * `BAD_LAYOUT` error describing every accepted layout.
 */
export async function planImport(
  tree: SourceTree,
  preset: DatasetPreset,
  selection: Selection,
): Promise<ImportPlan> {
  for (const kind of preset.layouts) {
    const reader = READERS[kind];
    const root = await findRoot(tree, (dir) => reader.matches(tree, dir));
    if (root !== undefined) return reader.plan(tree, root, selection);
  }
  const expected = preset.layouts.map((k) => `  - ${READERS[k].expected}`).join('\n');
  throw new DatasetError(
    'BAD_LAYOUT',
    `${tree.location} does not contain a ${preset.name} dataset; expected one of:\n${expected}`,
  );
}
