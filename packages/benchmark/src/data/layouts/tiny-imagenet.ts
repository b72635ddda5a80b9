import { DatasetError } from '../errors.js';
import { naturalCompare } from '../natural-sort.js';
import { joinPath } from '../source.js';
import {
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
  async matches(tree, dir) {
    return (
      (await tree.isFile(joinPath(dir, 'wnids.txt'))) &&
      (await hasDir(tree, joinPath(dir, 'train')))
    );
  },
  async plan(tree, root, selection): Promise<ImagePlan> {
    const wnidsPath = joinPath(root, 'wnids.txt');
    const wnids = await readLines(tree, wnidsPath);
    if (wnids.length === 0)
      throw new DatasetError('BAD_LAYOUT', `${tree.display(wnidsPath)} is empty`);
    const seen = new Set<string>();
    for (const w of wnids) {
      if (seen.has(w))
        throw new DatasetError('BAD_LAYOUT', `${tree.display(wnidsPath)} lists ${w} twice`);
      seen.add(w);
    }
    const n = classCount(wnids.length, selection, tree.display(wnidsPath));
    const classIds = wnids.slice(0, n);
    const classNames = await readWordNetNames(tree, root, classIds);
    const label = new Map(classIds.map((id, i) => [id, i]));

    const train: ImageItem[] = [];
    for (let i = 0; i < n; i++) {
      const id = classIds[i]!;
      if (!(await hasDir(tree, joinPath(root, 'train', id)))) {
        throw new DatasetError(
          'MISSING_CLASS',
          `missing class folder ${tree.display(joinPath(root, 'train', id))} (class ${i} "${id}" of wnids.txt)`,
        );
      }
      train.push(
        ...(await classFolderItems(
          tree,
          joinPath(root, 'train', id, 'images'),
          i,
          selection.perClass.train,
          id,
        )),
      );
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
    const lines = (await tree.readFile(annPath)).toString('utf8').split(/\r?\n/);
    const annotated = new Set<string>();
    for (let ln = 0; ln < lines.length; ln++) {
      const line = lines[ln]!.trim();
      if (line === '') continue;
      const fields = line.split('\t');
      const file = fields[0]?.trim();
      const wnid = fields[1]?.trim();
      if (!file || !wnid || !isImageFile(file)) {
        throw new DatasetError(
          'BAD_LAYOUT',
          `${tree.display(annPath)} line ${ln + 1} is malformed: expected "file<TAB>wnid<TAB>box...", got ${JSON.stringify(line)}`,
        );
      }
      if (!seen.has(wnid)) {
        throw new DatasetError(
          'BAD_LAYOUT',
          `${tree.display(annPath)} line ${ln + 1}: class ${wnid} is not in wnids.txt`,
        );
      }
      if (annotated.has(file)) {
        throw new DatasetError(
          'BAD_LAYOUT',
          `${tree.display(annPath)} line ${ln + 1}: ${file} is listed twice`,
        );
      }
      annotated.add(file);
      const l = label.get(wnid);
      if (l === undefined) continue; // a class outside the selected subset
      if (!presentSet.has(file)) {
        throw new DatasetError(
          'BAD_LAYOUT',
          `${tree.display(joinPath(imagesDir, file))} is listed in val_annotations.txt (line ${ln + 1}) but does not exist`,
        );
      }
      perClassVal[l]!.push(file);
    }
    const test: ImageItem[] = [];
    for (let i = 0; i < n; i++) {
      const files = perClassVal[i]!.sort(naturalCompare);
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
        train: { sourceSplit: 'train', items: train },
        test: { sourceSplit: 'val', items: test },
      },
    };
  },
};
