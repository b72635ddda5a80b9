import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importDataset, loadDataset } from '../src/data/index.js';
import { grayImage, imageAt, ls, makeTar, png, put, rgbPixels } from './data-fixtures/fixtures.js';
import {
  dataDir,
  expectError,
  sameBytes,
  useTempWorkspace,
  work,
} from './data-fixtures/workspace.js';

useTempWorkspace();

// 12 classes; wnids.txt is deliberately NOT sorted (Tiny ImageNet's canonical order is the file's).
const WNIDS = Array.from({ length: 12 }, (_, i) =>
  `n0${(9 - (i % 10)) * 1000000 + i * 17}`.padEnd(9, '0'),
);
const tinyPixel = (cls: number, i: number, val: boolean) => (x: number, y: number, c: number) =>
  (cls * 19 + i * 5 + (val ? 128 : 0) + x + y * 2 + c * 3) % 256;

/**
 * Tiny ImageNet layout: 2 train images per class (64x64 PNG; class 3's second
 * image grayscale), 2 val images per class listed in val_annotations.txt in a
 * shuffled order (val_<k>.png with k = 2*cls + j, but lines written in reverse).
 */
async function makeTiny(root: string): Promise<string> {
  const base = join(root, 'tiny-imagenet-200');
  await put(join(base, 'wnids.txt'), `${WNIDS.join('\n')}\n`);
  const words = WNIDS.map((w, i) => `${w}\tthing ${i}, synonym ${i}`).join('\n');
  await put(join(base, 'words.txt'), `n00000001\tentity\n${words}\n`);
  for (let c = 0; c < WNIDS.length; c++) {
    const w = WNIDS[c]!;
    await put(join(base, 'train', w, `${w}_boxes.txt`), `${w}_0.JPEG\t0\t0\t10\t10\n`);
    for (let i = 0; i < 2; i++) {
      const img =
        c === 3 && i === 1
          ? await grayImage(64, 64, (x, y) => x + y, 'png')
          : await png(64, 64, tinyPixel(c, i, false));
      await put(join(base, 'train', w, 'images', `${w}_${i}.png`), img);
    }
  }
  const lines: string[] = [];
  for (let c = 0; c < WNIDS.length; c++) {
    for (let j = 0; j < 2; j++) {
      const k = 2 * c + j;
      await put(
        join(base, 'val', 'images', `val_${k}.png`),
        await png(64, 64, tinyPixel(c, j, true)),
      );
      lines.push(`val_${k}.png\t${WNIDS[c]}\t1\t2\t30\t40`);
    }
  }
  await put(join(base, 'val', 'val_annotations.txt'), `${lines.reverse().join('\n')}\n`);
  await put(join(base, 'train', '.DS_Store'), 'junk');
  return base;
}

describe('Tiny ImageNet layout', () => {
  it('imports tiny-imagenet-10: first 10 wnids in file order, words.txt names, val labels from annotations', async () => {
    await makeTiny(join(work, 'src'));
    const archive = await makeTar(join(work, 'tiny.tar.gz'), join(work, 'src'), [
      'tiny-imagenet-200',
    ]);
    const r = await importDataset('tiny-imagenet-10', {
      from: archive,
      dataDir,
      allowNonStandardCount: true,
    });
    expect(r.layout).toBe('tiny-imagenet');
    expect([r.width, r.height]).toEqual([64, 64]);
    expect(r.splits.train.count).toBe(20);
    expect(r.splits.test.count).toBe(20);
    expect(r.splits.test.sourceSplit).toBe('val');
    const train = await loadDataset('tiny-imagenet-10', 'train', { dataDir });
    expect(train.meta.classIds).toEqual(WNIDS.slice(0, 10));
    expect(train.classNames).toEqual(Array.from({ length: 10 }, (_, i) => `thing ${i}`));
    expect(train.meta.selection.classes).toBe(10);
    // class 5, image 1 -> index 11
    expect(train.labels[11]).toBe(5);
    expect(
      sameBytes(imageAt(train.images, 11, 64), rgbPixels(64, 64, tinyPixel(5, 1, false))),
    ).toBe(true);
    // grayscale train image (class 3, image 1 -> index 7) expanded to RGB
    expect(
      sameBytes(
        imageAt(train.images, 7, 64),
        rgbPixels(64, 64, (x, y) => x + y),
      ),
    ).toBe(true);
    // val: grouped by class, files in natural order within a class, whatever the annotation order
    const val = await loadDataset('tiny-imagenet-10', 'val', { dataDir });
    expect(val.split).toBe('test');
    expect(Array.from(val.labels)).toEqual([
      0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9,
    ]);
    expect(sameBytes(imageAt(val.images, 9, 64), rgbPixels(64, 64, tinyPixel(4, 1, true)))).toBe(
      true,
    );
  });

  it('perClass applies per split and classes beyond wnids.txt are an error', async () => {
    await makeTiny(work);
    const r = await importDataset('tiny-imagenet-10', {
      from: work,
      dataDir,
      allowNonStandardCount: true,
      classes: 3,
      perClass: { test: 1 },
    });
    expect(r.splits.train.classCounts).toEqual([2, 2, 2]);
    expect(r.splits.test.classCounts).toEqual([1, 1, 1]);
    await expectError(
      importDataset('tiny-imagenet-100', { from: work, dataDir, allowNonStandardCount: true }),
      'BAD_OPTION',
      /asked for 100 classes but .*wnids\.txt has only 12/,
    );
  });

  it('a missing train class folder is an error naming it', async () => {
    const base = await makeTiny(work);
    await rm(join(base, 'train', WNIDS[4]!), { recursive: true });
    await expectError(
      importDataset('tiny-imagenet-10', { from: work, dataDir, allowNonStandardCount: true }),
      'MISSING_CLASS',
      `missing class folder ${join(base, 'train', WNIDS[4]!)}`,
    );
    expect(await ls(dataDir)).toEqual([]);
  });

  it('an empty images folder is an error naming it', async () => {
    const base = await makeTiny(work);
    for (const i of [0, 1])
      await rm(join(base, 'train', WNIDS[2]!, 'images', `${WNIDS[2]}_${i}.png`));
    await expectError(
      importDataset('tiny-imagenet-10', { from: work, dataDir, allowNonStandardCount: true }),
      'EMPTY_CLASS',
      `class folder ${join(base, 'train', WNIDS[2]!, 'images')} (class 2 "${WNIDS[2]}") contains no images`,
    );
  });

  it('validation problems are errors naming the file and line', async () => {
    const base = await makeTiny(work);
    const ann = join(base, 'val', 'val_annotations.txt');
    // A listed image that does not exist.
    await rm(join(base, 'val', 'images', 'val_5.png'));
    await expectError(
      importDataset('tiny-imagenet-10', { from: work, dataDir, allowNonStandardCount: true }),
      'BAD_LAYOUT',
      /val_5\.png is listed in val_annotations\.txt \(line \d+\) but does not exist/,
    );
    // An unknown wnid.
    await writeFile(ann, 'val_0.png\tn99999999\t0\t0\t1\t1\n');
    await expectError(
      importDataset('tiny-imagenet-10', { from: work, dataDir, allowNonStandardCount: true }),
      'BAD_LAYOUT',
      `${ann} line 1: class n99999999 is not in wnids.txt`,
    );
    // A malformed line.
    await writeFile(ann, `val_0.png\t${WNIDS[0]}\n\njust-one-field\n`);
    await expectError(
      importDataset('tiny-imagenet-10', { from: work, dataDir, allowNonStandardCount: true }),
      'BAD_LAYOUT',
      /line 3 is malformed/,
    );
    // A class without validation images.
    await writeFile(ann, `val_0.png\t${WNIDS[0]}\t0\t0\t1\t1\n`);
    await expectError(
      importDataset('tiny-imagenet-10', { from: work, dataDir, allowNonStandardCount: true }),
      'EMPTY_CLASS',
      `class 1 "${WNIDS[1]}" has no validation images`,
    );
    // No annotations at all.
    await rm(ann);
    await expectError(
      importDataset('tiny-imagenet-10', { from: work, dataDir, allowNonStandardCount: true }),
      'BAD_LAYOUT',
      /missing .*val_annotations\.txt/,
    );
    expect(await ls(dataDir)).toEqual([]);
  });

  it('index entries that would leave the source folder are errors naming the file and line; nothing outside is read', async () => {
    const base = await makeTiny(join(work, 'src'));
    // What train/../../../outside reaches from the source folder, with images an import would take.
    for (let i = 0; i < 2; i++) {
      await put(join(work, 'outside', 'images', `secret_${i}.png`), await png(64, 64, () => 200));
    }
    const wnidsFile = join(base, 'wnids.txt');
    const wnids = [...WNIDS];
    wnids[2] = '../../../outside';
    await writeFile(wnidsFile, `${wnids.join('\n')}\n`);
    await expectError(
      importDataset('tiny-imagenet-10', { from: base, dataDir, allowNonStandardCount: true }),
      'BAD_LAYOUT',
      `${wnidsFile} line 3: class id "../../../outside" is not a plain name`,
    );
    for (const bad of ['a/b', 'a\\b', '..', '.']) {
      wnids[2] = bad;
      await writeFile(wnidsFile, `${wnids.join('\n')}\n`);
      await expectError(
        importDataset('tiny-imagenet-10', { from: base, dataDir, allowNonStandardCount: true }),
        'BAD_LAYOUT',
        `${wnidsFile} line 3: class id ${JSON.stringify(bad)} is not a plain name`,
      );
    }
    await writeFile(wnidsFile, `${WNIDS.join('\n')}\n`);
    const ann = join(base, 'val', 'val_annotations.txt');
    const lines = (await readFile(ann, 'utf8')).trimEnd().split('\n');
    lines[1] = `../../train/${WNIDS[0]}/images/${WNIDS[0]}_0.png\t${WNIDS[0]}\t0\t0\t1\t1`;
    await writeFile(ann, `${lines.join('\n')}\n`);
    await expectError(
      importDataset('tiny-imagenet-10', { from: base, dataDir, allowNonStandardCount: true }),
      'BAD_LAYOUT',
      `${ann} line 2: file name "../../train/${WNIDS[0]}/images/${WNIDS[0]}_0.png" is not a plain name`,
    );
    expect(await ls(dataDir)).toEqual([]);
  });

  it('an index file larger than its cap is refused before it is read (folder and archive)', async () => {
    const base = await makeTiny(join(work, 'src'));
    // 17 MiB of blank lines: parsed, it would be "empty"; it is never parsed.
    await writeFile(join(base, 'wnids.txt'), Buffer.alloc(17 * 2 ** 20, 10));
    await expectError(
      importDataset('tiny-imagenet-10', { from: base, dataDir, allowNonStandardCount: true }),
      'TOO_LARGE',
      `${join(base, 'wnids.txt')} is 17.00 MiB (17825792 bytes), more than the 16.00 MiB (16777216 bytes) allowed for an index file`,
    );
    const archive = await makeTar(join(work, 'tiny.tar.gz'), join(work, 'src'), [
      'tiny-imagenet-200',
    ]);
    await expectError(
      importDataset('tiny-imagenet-10', { from: archive, dataDir, allowNonStandardCount: true }),
      'TOO_LARGE',
      `${archive}:tiny-imagenet-200/wnids.txt is 17.00 MiB`,
    );
    expect(await ls(dataDir)).toEqual([]);
  });

  it('counts other than the official 500 train / 50 val images per class need allowNonStandardCount', async () => {
    await makeTiny(work);
    const e = await expectError(
      importDataset('tiny-imagenet-10', { from: work, dataDir }),
      'WRONG_COUNT',
      'is not a complete tiny-imagenet-10 (the official release has 500 train / 50 test images per class)',
      `class 0 "thing 0" has 2 train images, the official release 500`,
      /and 15 more/,
      'pass allowNonStandardCount: true (CLI: --allow-non-standard-count)',
    );
    expect(e.message).not.toMatch(/thing 10/); // classes outside the selection are not counted
    expect(await ls(dataDir)).toEqual([]);
    const r = await importDataset('tiny-imagenet-10', {
      from: work,
      dataDir,
      allowNonStandardCount: true,
    });
    expect(r.splits.test.nonStandardCount).toHaveLength(10);
    expect(r.splits.test.nonStandardCount[9]).toBe(
      'class 9 "thing 9" has 2 val images, the official release 50',
    );
    const meta = (await loadDataset('tiny-imagenet-10', 'train', { dataDir })).meta;
    expect(meta.nonStandardCount).toEqual(r.splits.train.nonStandardCount);
  });

  it('a wrongly sized Tiny ImageNet image is an error', async () => {
    const base = await makeTiny(work);
    const odd = join(base, 'val', 'images', 'val_3.png');
    await put(odd, await png(32, 32, () => 1));
    await expectError(
      importDataset('tiny-imagenet-10', { from: work, dataDir, allowNonStandardCount: true }),
      'WRONG_SIZE',
      odd,
      '32x32',
      '64x64',
    );
  });
});

describe('ImageNet folder layout', () => {
  /** train/<wnid>/*.JPEG and val/<wnid>/*.JPEG, classes created out of order. */
  async function makeImagenet(root: string, size: [number, number] = [24, 16]): Promise<string> {
    const base = join(root, 'imagenet');
    const wnids = ['n03000000', 'n01000000', 'n02000000'];
    for (const w of wnids) {
      const c = Number(w[2]);
      for (const [split, n] of [
        ['train', 3],
        ['val', 1],
      ] as const) {
        for (let i = 0; i < n; i++) {
          await put(
            join(base, split, w, `${w}_${i}.JPEG`),
            await png(size[0], size[1], () => c * 60 + i * 10 + (split === 'val' ? 5 : 0)),
          );
        }
      }
    }
    await put(
      join(base, 'LOC_synset_mapping.txt'),
      'n01000000 tench, Tinca tinca\nn02000000 goldfish\nn03000000 shark\n',
    );
    return base;
  }

  it('classes are the sorted train folders, val becomes test, the first image fixes the size', async () => {
    await makeImagenet(work);
    const r = await importDataset('imagenet', { from: work, dataDir });
    expect(r.layout).toBe('imagenet-folder');
    expect([r.width, r.height]).toEqual([24, 16]);
    const train = await loadDataset('imagenet', 'train', { dataDir });
    expect(train.meta.classIds).toEqual(['n01000000', 'n02000000', 'n03000000']);
    expect(train.classNames).toEqual(['tench', 'goldfish', 'shark']);
    expect(Array.from(train.labels)).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2]);
    // class n02 image 2 -> value 2*60 + 20 = 140
    expect(imageAt(train.images, 5, 1).length).toBe(3);
    expect(train.images[5 * 24 * 16 * 3]).toBe(140);
    const test = await loadDataset('imagenet', 'test', { dataDir });
    expect(test.meta.sourceSplit).toBe('val');
    expect(Array.from(test.labels)).toEqual([0, 1, 2]);
    expect(test.images[2 * 24 * 16 * 3]).toBe(185);
  });

  it('mixed sizes need a resize policy; with one they import', async () => {
    const base = await makeImagenet(work);
    const odd = join(base, 'val', 'n02000000', 'n02000000_0.JPEG');
    await put(odd, await png(30, 20, () => 1));
    await expectError(
      importDataset('imagenet', { from: work, dataDir }),
      'WRONG_SIZE',
      odd,
      /30x20 .* the first image \(.*n01000000_0\.JPEG\) requires 24x16/,
    );
    const r = await importDataset('imagenet', {
      from: work,
      dataDir,
      resize: { width: 8, height: 8 },
    });
    expect([r.width, r.height]).toEqual([8, 8]);
  });

  it('a val class folder without a train folder, or a missing val class, is an error', async () => {
    const base = await makeImagenet(work);
    await put(join(base, 'val', 'n09999999', 'x.JPEG'), await png(24, 16, () => 0));
    await expectError(
      importDataset('imagenet', { from: work, dataDir }),
      'BAD_LAYOUT',
      /n09999999 has no matching class folder/,
    );
    await rm(join(base, 'val'), { recursive: true });
    await put(join(base, 'val', 'n01000000', 'a.JPEG'), await png(24, 16, () => 0));
    await expectError(
      importDataset('imagenet', { from: work, dataDir }),
      'MISSING_CLASS',
      join(base, 'val', 'n02000000'),
    );
  });

  it('more than 256 classes are stored as little-endian uint16 labels', async () => {
    const base = join(work, 'big');
    const n = 260;
    const img = await png(2, 2, () => 3);
    for (let c = 0; c < n; c++) {
      const w = `n${String(c).padStart(8, '0')}`;
      await put(join(base, 'train', w, 'a.png'), img);
      await put(join(base, 'val', w, 'a.png'), img);
    }
    const r = await importDataset('imagenet', { from: base, dataDir, concurrency: 16 });
    expect(r.classNames.length).toBe(260);
    const test = await loadDataset('imagenet', 'test', { dataDir });
    expect(test.meta.labelType).toBe('uint16');
    expect(test.meta.files.labels.name).toBe('test.labels.u16');
    expect(test.labels).toBeInstanceOf(Uint16Array);
    expect(test.labels[259]).toBe(259);
    expect(test.labels[257]).toBe(257);
    // On disk: 2 bytes per label, low byte first. 259 = 0x0103 -> 03 01.
    const raw = await readFile(join(dataDir, 'imagenet', 'test.labels.u16'));
    expect(raw.length).toBe(520);
    expect([raw[518], raw[519]]).toEqual([3, 1]);
  });
});
