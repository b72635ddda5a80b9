import { DatasetError } from '../errors.js';
import { joinPath } from '../source.js';
import {
  classCount,
  classFolderItems,
  hasDir,
  type ImageItem,
  type ImagePlan,
  type LayoutReader,
  readWordNetNames,
  subdirs,
} from './common.js';

/**
 * The standard ImageNet folder layout: `train/<wnid>/*.JPEG` and
 * `val/<wnid>/*.JPEG` (the labelled validation set becomes the `test` split).
 * Classes are the `train` folders in sorted order (the torchvision ImageFolder
 * convention); names come from `words.txt` or `LOC_synset_mapping.txt` when present.
 */
export const imagenetFolderReader: LayoutReader = {
  kind: 'imagenet-folder',
  expected: '<root>/train/<wnid>/*.JPEG and <root>/val/<wnid>/*.JPEG',
  indexFiles: ['words.txt', 'LOC_synset_mapping.txt'],
  async matches(tree, dir) {
    return (
      (await hasDir(tree, joinPath(dir, 'train'))) && (await hasDir(tree, joinPath(dir, 'val')))
    );
  },
  async plan(tree, root, selection): Promise<ImagePlan> {
    const trainDir = joinPath(root, 'train');
    const valDir = joinPath(root, 'val');
    const all = await subdirs(tree, trainDir);
    if (all.length === 0) {
      throw new DatasetError('BAD_LAYOUT', `${tree.display(trainDir)} has no class folders`);
    }
    const allSet = new Set(all);
    for (const v of await subdirs(tree, valDir)) {
      if (!allSet.has(v)) {
        throw new DatasetError(
          'BAD_LAYOUT',
          `${tree.display(joinPath(valDir, v))} has no matching class folder in ${tree.display(trainDir)}`,
        );
      }
    }
    const n = classCount(all.length, selection, tree.display(trainDir));
    const classIds = all.slice(0, n);
    const classNames = await readWordNetNames(tree, root, classIds);
    const train: ImageItem[] = [];
    const test: ImageItem[] = [];
    const trainAvailable: number[] = [];
    const testAvailable: number[] = [];
    for (let label = 0; label < n; label++) {
      const id = classIds[label]!;
      const t = await classFolderItems(
        tree,
        joinPath(trainDir, id),
        label,
        selection.perClass.train,
        id,
      );
      const v = await classFolderItems(
        tree,
        joinPath(valDir, id),
        label,
        selection.perClass.test,
        id,
      );
      train.push(...t.items);
      trainAvailable.push(t.available);
      test.push(...v.items);
      testAvailable.push(v.available);
    }
    return {
      kind: 'images',
      layout: 'imagenet-folder',
      root,
      classIds,
      classNames,
      splits: {
        train: { sourceSplit: 'train', items: train, available: trainAvailable },
        test: { sourceSplit: 'val', items: test, available: testAvailable },
      },
    };
  },
};
