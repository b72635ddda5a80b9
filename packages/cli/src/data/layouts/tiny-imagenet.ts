import { DatasetError } from '../errors.js';
import { naturalCompare } from '../natural-sort.js';
import { joinPath } from '../source.js';
import {
  checkPlainName,
  classCount,
  classFolderItems,
  hasDir,
  type ImageItem,
  type ImagePlan,
  isImageFile,
  type LayoutReader,
  listImages,
  readLines,
  readWordNetNames,
} from './common.js';

/**
 * Tiny ImageNet: `wnids.txt` (canonical class order), `words.txt` (names),
 * `train/<wnid>/images/*.JPEG`, and `val/images/*.JPEG` labelled by
 * `val/val_annotations.txt` (tab-separated: file, wnid, x0, y0, x1, y1).
 * The validation set becomes the `test` split (the official test set has no labels).
 */
export const tinyImagenetReader: LayoutReader = {
  kind: 'tiny-imagenet',
  expected:
    '<root>/wnids.txt, train/<wnid>/images/*.JPEG, val/images/*.JPEG + val/val_annotations.txt',
  indexFiles: ['wnids.txt', 'words.txt', 'val_annotations.txt'],
  async matches(tree, dir) {
    return (
      (await tree.isFile(joinPath(dir, 'wnids.txt'))) &&
      (await hasDir(tree, joinPath(dir, 'train')))
    );
  },
  async plan(tree, root, selection): Promise<ImagePlan> {
    const wnidsPath = joinPath(root, 'wnids.txt');
    const lines = await readLines(tree, wnidsPath);
    if (lines.length === 0)
      throw new DatasetError('BAD_LAYOUT', `${tree.display(wnidsPath)} is empty`);
    const seen = new Set<string>();
    for (const { text: w, line } of lines) {
      // Class ids become folder names (train/<wnid>/images): one plain component each.
      checkPlainName(tree, wnidsPath, line, 'class id', w);
      if (seen.has(w))
        throw new DatasetError('BAD_LAYOUT', `${tree.display(wnidsPath)} lists ${w} twice`);
      seen.add(w);
    }
    const wnids = lines.map((l) => l.text);
    const n = classCount(wnids.length, selection, tree.display(wnidsPath));
    const classIds = wnids.slice(0, n);
    const classNames = await readWordNetNames(tree, root, classIds);
    const label = new Map(classIds.map((id, i) => [id, i]));

    const train: ImageItem[] = [];
    const trainAvailable: number[] = [];
    for (let i = 0; i < n; i++) {
      const id = classIds[i]!;
      if (!(await hasDir(tree, joinPath(root, 'train', id)))) {
        throw new DatasetError(
          'MISSING_CLASS',
          `missing class folder ${tree.display(joinPath(root, 'train', id))} (class ${i} "${id}" of wnids.txt)`,
        );
      }
      const found = await classFolderItems(
        tree,
        joinPath(root, 'train', id, 'images'),
        i,
        selection.perClass.train,
        id,
      );
      train.push(...found.items);
      trainAvailable.push(found.available);
    }

    const annPath = joinPath(root, 'val', 'val_annotations.txt');
    const imagesDir = joinPath(root, 'val', 'images');
    if (!(await tree.isFile(annPath))) {
      throw new DatasetError(
        'BAD_LAYOUT',
        `missing ${tree.display(annPath)} (Tiny ImageNet validation labels)`,
      );
    }
    const present = await listImages(tree, imagesDir);
    if (present === undefined) {
      throw new DatasetError(
        'BAD_LAYOUT',
        `missing folder ${tree.display(imagesDir)} (Tiny ImageNet validation images)`,
      );
    }
    const presentSet = new Set(present);
    const perClassVal: string[][] = classIds.map(() => []);
    const annotated = new Set<string>();
    for (const { text: line, line: ln } of await readLines(tree, annPath)) {
      const fields = line.split('\t');
      const file = fields[0]?.trim();
      const wnid = fields[1]?.trim();
      if (!file || !wnid || !isImageFile(file)) {
        throw new DatasetError(
          'BAD_LAYOUT',
          `${tree.display(annPath)} line ${ln} is malformed: expected "file<TAB>wnid<TAB>box...", got ${JSON.stringify(line)}`,
        );
      }
      checkPlainName(tree, annPath, ln, 'file name', file);
      if (!seen.has(wnid)) {
        throw new DatasetError(
          'BAD_LAYOUT',
          `${tree.display(annPath)} line ${ln}: class ${wnid} is not in wnids.txt`,
        );
      }
      if (annotated.has(file)) {
        throw new DatasetError(
          'BAD_LAYOUT',
          `${tree.display(annPath)} line ${ln}: ${file} is listed twice`,
        );
      }
      annotated.add(file);
      const l = label.get(wnid);
      if (l === undefined) continue; // a class outside the selected subset
      if (!presentSet.has(file)) {
        throw new DatasetError(
          'BAD_LAYOUT',
          `${tree.display(joinPath(imagesDir, file))} is listed in val_annotations.txt (line ${ln}) but does not exist`,
        );
      }
      perClassVal[l]!.push(file);
    }
    const test: ImageItem[] = [];
    const testAvailable: number[] = [];
    for (let i = 0; i < n; i++) {
      const files = perClassVal[i]!.sort(naturalCompare);
      testAvailable.push(files.length);
      if (files.length === 0) {
        throw new DatasetError(
          'EMPTY_CLASS',
          `class ${i} "${classIds[i]}" has no validation images in ${tree.display(annPath)}`,
        );
      }
      const take = files.slice(0, selection.perClass.test ?? files.length);
      for (const f of take) test.push({ path: joinPath(imagesDir, f), label: i });
    }
    return {
      kind: 'images',
      layout: 'tiny-imagenet',
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
