import { DatasetError } from '../errors.js';
import { CIFAR10_CLASSES, type Split } from '../presets.js';
import { joinPath } from '../source.js';
import {
  classCount,
  classFolderItems,
  hasDir,
  type ImagePlan,
  type ImageSplitPlan,
  type LayoutReader,
  subdirs,
} from './common.js';

/**
 * CIFAR-10 as image folders (e.g. `cifar10-jpeg.tar.gz`, the committed sample):
 * `<root>/{train,test}/<class>/*.jpg|png`, class index = position in
 * airplane automobile bird cat deer dog frog horse ship truck.
 */
export const cifarFolderReader: LayoutReader = {
  kind: 'cifar10-folder',
  expected: `<root>/{train,test}/<class>/*.jpg with class folders ${CIFAR10_CLASSES.join(' ')}`,
  indexFiles: [],
  async matches(tree, dir) {
    if (
      !(await hasDir(tree, joinPath(dir, 'train'))) ||
      !(await hasDir(tree, joinPath(dir, 'test')))
    ) {
      return false;
    }
    const classes = await subdirs(tree, joinPath(dir, 'train'));
    return classes.some((c) => CIFAR10_CLASSES.includes(c));
  },
  async plan(tree, root, selection): Promise<ImagePlan> {
    const n = classCount(CIFAR10_CLASSES.length, selection, 'CIFAR-10');
    const classes = CIFAR10_CLASSES.slice(0, n);
    const splits = {} as Record<Split, ImageSplitPlan>;
    for (const split of ['train', 'test'] as const) {
      const dir = joinPath(root, split);
      for (const extra of await subdirs(tree, dir)) {
        if (!CIFAR10_CLASSES.includes(extra)) {
          throw new DatasetError(
            'BAD_LAYOUT',
            `unexpected folder ${tree.display(joinPath(dir, extra))}: CIFAR-10 class folders are ${CIFAR10_CLASSES.join(', ')}`,
          );
        }
      }
      const items = [];
      const available: number[] = [];
      for (let label = 0; label < classes.length; label++) {
        const name = classes[label]!;
        const found = await classFolderItems(
          tree,
          joinPath(dir, name),
          label,
          selection.perClass[split],
          name,
        );
        items.push(...found.items);
        available.push(found.available);
      }
      splits[split] = { sourceSplit: split, items, available };
    }
    return {
      kind: 'images',
      layout: 'cifar10-folder',
      root,
      classIds: classes,
      classNames: classes,
      splits,
    };
  },
};
