import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CIFAR10_CLASSES,
  importDataset,
  loadDataset,
  registerDataset,
  unregisterDataset,
} from '../src/data/index.js';
import {
  cifarPixel,
  grayImage,
  imageAt,
  jpeg,
  ls,
  makeCifarFolder,
  makeTar,
  png,
  put,
  rgbPixels,
} from './data-fixtures/fixtures.js';
import {
  dataDir,
  expectError,
  sameBytes,
  useTempWorkspace,
  work,
} from './data-fixtures/workspace.js';

useTempWorkspace();

/** `jpegBytes` with the frame header (SOF0/SOF2) rewritten to declare `width` x `height`. */
function declaredSize(jpegBytes: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(jpegBytes);
  for (let i = 2; i + 9 < out.length; ) {
    if (out[i] !== 0xff) throw new Error('not a JPEG marker');
    const marker = out[i + 1]!;
    if (marker === 0xc0 || marker === 0xc2) {
      out.writeUInt16BE(height, i + 5);
      out.writeUInt16BE(width, i + 7);
      return out;
    }
    i += 2 + out.readUInt16BE(i + 2);
  }
  throw new Error('no SOF marker');
}

describe('CIFAR-10 image folders', () => {
  it('imports a .tar.gz: class order, natural file order, exact PNG pixels, meta', async () => {
    // 11 train images per class so that "10.png" must sort after "9.png" (natural order).
    await makeCifarFolder(join(work, 'src'), { perClass: { train: 11, test: 2 } });
    const archive = await makeTar(join(work, 'cifar10-jpeg.tar.gz'), join(work, 'src'), [
      'cifar10-jpeg',
    ]);
    const r = await importDataset('cifar10', {
      from: archive,
      dataDir,
      allowNonStandardCount: true,
    });
    expect(r.layout).toBe('cifar10-folder');
    expect(r.splits.train.count).toBe(110);
    expect(r.splits.test.count).toBe(20);
    expect(r.skipped).toBe(0);
    expect(r.path).toBe(join(dataDir, 'cifar10'));
    const train = await loadDataset('cifar10', 'train', { dataDir });
    // Class-major order: 11 airplanes (label 0), then 11 automobiles, ...
    expect(Array.from(train.labels.slice(9, 13))).toEqual([0, 0, 1, 1]);
    // Image 10 is airplane/10.png (natural order: 0..9, 10), image 11 automobile/0.png.
    expect(
      sameBytes(imageAt(train.images, 10), rgbPixels(32, 32, cifarPixel('train', 0, 10))),
    ).toBe(true);
    expect(sameBytes(imageAt(train.images, 11), rgbPixels(32, 32, cifarPixel('train', 1, 0)))).toBe(
      true,
    );
    // truck (label 9), image 1 of test = index 9*2 + 1
    const test = await loadDataset('cifar10', 'test', { dataDir });
    expect(test.labels[19]).toBe(9);
    expect(sameBytes(imageAt(test.images, 19), rgbPixels(32, 32, cifarPixel('test', 9, 1)))).toBe(
      true,
    );
    expect(test.meta).toMatchObject({
      formatVersion: 1,
      dataset: 'cifar10',
      entry: 'cifar10',
      split: 'test',
      sourceSplit: 'test',
      count: 20,
      height: 32,
      width: 32,
      channels: 3,
      layout: 'NHWC',
      dtype: 'uint8',
      labelType: 'uint8',
      classes: 10,
      // The CIFAR-10 class names in label order, written out independently of CIFAR10_CLASSES.
      classNames: 'airplane automobile bird cat deer dog frog horse ship truck'.split(' '),
      classCounts: [2, 2, 2, 2, 2, 2, 2, 2, 2, 2],
      source: { path: archive, kind: 'archive', layout: 'cifar10-folder' },
      skipped: { count: 0, items: [] },
      files: {
        images: { name: 'test.images.u8', bytes: 20 * 3072 },
        labels: { name: 'test.labels.u8', bytes: 20 },
      },
    });
    expect(test.meta.caveat).toMatch(/JPEG/);
    // Only the finished entry is in the cache: no staging folders left.
    expect(await ls(dataDir)).toEqual(['cifar10']);
    expect(await ls(join(dataDir, 'cifar10'))).toEqual([
      'test.images.u8',
      'test.labels.u8',
      'test.meta.json',
      'train.images.u8',
      'train.labels.u8',
      'train.meta.json',
    ]);
  });

  it('imports JPEG folders (lossy: pixels within a few levels)', async () => {
    const base = join(work, 'cifar10-jpeg');
    for (const split of ['train', 'test']) {
      for (let l = 0; l < 10; l++)
        await put(
          join(base, split, CIFAR10_CLASSES[l]!, '0000.jpg'),
          await jpeg(32, 32, () => 20 * l + 5),
        );
    }
    const r = await importDataset('cifar10', { from: work, dataDir, allowNonStandardCount: true });
    expect(r.splits.train.count).toBe(10);
    const train = await loadDataset('cifar10', 'train', { dataDir });
    const img = imageAt(train.images, 7); // constant 20*7 + 5 = 145
    for (const v of img) expect(Math.abs(v - 145)).toBeLessThanOrEqual(2);
  });

  it('expands grayscale PNG and JPEG to RGB', async () => {
    const base = await makeCifarFolder(work, { perClass: { train: 1, test: 1 } });
    await put(
      join(base, 'train', 'bird', '0.png'),
      await grayImage(32, 32, (x, y) => x * 8 + y, 'png'),
    );
    await put(join(base, 'train', 'cat', '0.png'), await grayImage(32, 32, () => 77, 'jpeg'));
    const r = await importDataset('cifar10', { from: work, dataDir, allowNonStandardCount: true });
    expect(r.splits.train.count).toBe(10);
    const train = await loadDataset('cifar10', 'train', { dataDir });
    // bird (label 2): R = G = B = x*8 + y; pixel (x=3, y=5) -> 29 at HWC offset (5*32+3)*3 = 489
    const bird = imageAt(train.images, 2);
    expect(Array.from(bird.subarray(489, 492))).toEqual([29, 29, 29]);
    expect(
      sameBytes(
        bird,
        rgbPixels(32, 32, (x, y) => x * 8 + y),
      ),
    ).toBe(true);
    const cat = imageAt(train.images, 3);
    for (let p = 0; p < 1024; p++) {
      expect(cat[3 * p]).toBe(cat[3 * p + 1]);
      expect(cat[3 * p]).toBe(cat[3 * p + 2]);
      expect(Math.abs(cat[3 * p]! - 77)).toBeLessThanOrEqual(1);
    }
  });

  it('a corrupt image in the middle is an error naming it, and nothing is left in the cache', async () => {
    await makeCifarFolder(join(work, 'src'), { perClass: { train: 3, test: 1 } });
    const bad = join(work, 'src', 'cifar10-jpeg', 'train', 'deer', '1.png');
    const good = await readFile(bad);
    await writeFile(bad, good.subarray(0, 60)); // truncated PNG
    const archive = await makeTar(join(work, 'c.tar.gz'), join(work, 'src'), ['cifar10-jpeg']);
    await expectError(
      importDataset('cifar10', { from: archive, dataDir, allowNonStandardCount: true }),
      'BAD_IMAGE',
      `${archive}:cifar10-jpeg/train/deer/1.png`,
      /on-bad-image skip/,
    );
    expect(await ls(dataDir)).toEqual([]);
    // Same from the folder: the message names the file's path on disk.
    await writeFile(bad, Buffer.from('not an image at all'));
    await expectError(
      importDataset('cifar10', { from: join(work, 'src'), dataDir, allowNonStandardCount: true }),
      'BAD_IMAGE',
      bad,
    );
    expect(await ls(dataDir)).toEqual([]);
  });

  it("onBadImage 'skip' skips corrupt images and counts them in the result and the meta", async () => {
    const base = await makeCifarFolder(work, { perClass: { train: 3, test: 2 } });
    await writeFile(join(base, 'train', 'deer', '1.png'), Buffer.from('garbage'));
    await writeFile(join(base, 'test', 'frog', '0.png'), Buffer.from('garbage'));
    const r = await importDataset('cifar10', {
      from: work,
      dataDir,
      allowNonStandardCount: true,
      onBadImage: 'skip',
    });
    expect(r.skipped).toBe(2);
    expect(r.splits.train.count).toBe(29);
    expect(r.splits.test.count).toBe(19);
    expect(r.splits.train.skipped.map((s) => s.path)).toEqual([
      join(base, 'train', 'deer', '1.png'),
    ]);
    expect(r.splits.train.classCounts[4]).toBe(2);
    const train = await loadDataset('cifar10', 'train', { dataDir });
    expect(train.count).toBe(29);
    expect(train.meta.skipped.count).toBe(1);
    expect(train.meta.skipped.items[0]!.path).toBe(join(base, 'train', 'deer', '1.png'));
    // deer = label 4: images 0 and 2 remain, at indices 12 and 13.
    expect(sameBytes(imageAt(train.images, 13), rgbPixels(32, 32, cifarPixel('train', 4, 2)))).toBe(
      true,
    );
    const test = await loadDataset('cifar10', 'test', { dataDir });
    expect(test.meta.skipped.count).toBe(1);
  });

  it('a class whose images are all skipped is an error', async () => {
    const base = await makeCifarFolder(work, { perClass: { train: 1, test: 1 } });
    await writeFile(join(base, 'train', 'ship', '0.png'), Buffer.from('garbage'));
    await expectError(
      importDataset('cifar10', {
        from: work,
        dataDir,
        allowNonStandardCount: true,
        onBadImage: 'skip',
      }),
      'EMPTY_CLASS',
      /class 8 "ship" has no usable train images.*skipped/,
    );
    expect(await ls(dataDir)).toEqual([]);
  });

  it('a missing class folder is an error naming it', async () => {
    const base = await makeCifarFolder(work, { perClass: { train: 1, test: 1 } });
    await rm(join(base, 'test', 'horse'), { recursive: true });
    await expectError(
      importDataset('cifar10', { from: work, dataDir, allowNonStandardCount: true }),
      'MISSING_CLASS',
      `missing class folder ${join(base, 'test', 'horse')} (class 7 "horse")`,
    );
    expect(await ls(dataDir)).toEqual([]);
  });

  it('an empty class folder is an error naming it', async () => {
    const base = await makeCifarFolder(work, { perClass: { train: 1, test: 1 } });
    await rm(join(base, 'train', 'dog', '0.png'));
    await put(join(base, 'train', 'dog', 'notes.txt'), 'not an image');
    await expectError(
      importDataset('cifar10', { from: work, dataDir, allowNonStandardCount: true }),
      'EMPTY_CLASS',
      `class folder ${join(base, 'train', 'dog')} (class 5 "dog") contains no images`,
    );
  });

  it('an unexpected class folder is an error', async () => {
    const base = await makeCifarFolder(work, { perClass: { train: 1, test: 1 } });
    await put(join(base, 'train', 'zebra', '0.png'), await png(32, 32, () => 0));
    await expectError(
      importDataset('cifar10', { from: work, dataDir, allowNonStandardCount: true }),
      'BAD_LAYOUT',
      /unexpected folder .*zebra/,
    );
  });

  it('the header size is checked before decoding: a JPEG declaring 16000x16000 is never decoded', async () => {
    const base = await makeCifarFolder(work, { perClass: { train: 2, test: 1 } });
    const bomb = join(base, 'train', 'deer', '1.jpg');
    await put(bomb, declaredSize(await jpeg(32, 32, () => 50), 16000, 16000));
    // Decoding would cost 768 MB (or fail on the missing data and, with 'skip', be skipped):
    // the header alone decides, whatever the bad-image policy.
    for (const onBadImage of ['error', 'skip'] as const) {
      await expectError(
        importDataset('cifar10', { from: work, dataDir, allowNonStandardCount: true, onBadImage }),
        'WRONG_SIZE',
        `image ${bomb} is 16000x16000 (width x height) but the cifar10 preset requires 32x32`,
      );
    }
    expect(await ls(dataDir)).toEqual([]);
    // Without a fixed size (the imagenet preset) the first image's header fixes it.
    for (const [split, i] of [
      ['train', 0],
      ['train', 1],
      ['val', 0],
    ] as const) {
      await put(join(work, 'inet', split, 'n01', `${i}.jpg`), await jpeg(24, 20, () => 9));
    }
    const later = join(work, 'inet', 'train', 'n01', '1.jpg');
    await put(later, declaredSize(await jpeg(24, 20, () => 9), 15000, 15000));
    await expectError(
      importDataset('imagenet', { from: join(work, 'inet'), dataDir, onBadImage: 'skip' }),
      'WRONG_SIZE',
      `image ${later} is 15000x15000 (width x height) but the first image (${join(work, 'inet', 'train', 'n01', '0.jpg')}) requires 24x20`,
    );
  });

  it('image counts are checked against the official release per class (WRONG_COUNT), before any decoding', async () => {
    const base = await makeCifarFolder(work, { perClass: { train: 3, test: 2 } });
    await expectError(
      importDataset('cifar10', { from: work, dataDir }),
      'WRONG_COUNT',
      `${work} is not a complete cifar10 (the official release has 5,000 train / 1,000 test images per class): ` +
        'class 0 "airplane" has 3 train images, the official release 5,000;',
    );
    // A registered dataset states its own counts: one missing image is named, whatever perClass selects.
    registerDataset({
      name: 'three-two',
      description: 'test set',
      layouts: ['cifar10-folder'],
      imageSize: { height: 32, width: 32 },
      expectedPerClass: { train: 3, test: 2 },
      sourceHint: 'a folder',
    });
    try {
      expect((await importDataset('three-two', { from: work, dataDir })).images).toBe(50);
      await rm(join(base, 'test', 'horse', '1.png'));
      await expectError(
        importDataset('three-two', { from: work, dataDir, perClass: 1 }),
        'WRONG_COUNT',
        'class 7 "horse" has 1 test images, the official release 2. A truncated or incomplete copy?',
      );
      const r = await importDataset('three-two', {
        from: work,
        dataDir,
        allowNonStandardCount: true,
      });
      expect(r.splits.test.nonStandardCount).toEqual([
        'class 7 "horse" has 1 test images, the official release 2',
      ]);
      expect(r.splits.train.nonStandardCount).toEqual([]);
    } finally {
      unregisterDataset('three-two');
    }
  });

  it('a wrongly sized image is an error naming the path and both sizes', async () => {
    const base = await makeCifarFolder(work, { perClass: { train: 2, test: 1 } });
    const odd = join(base, 'train', 'frog', '1.png');
    await put(odd, await png(40, 30, () => 9));
    const e = await expectError(
      importDataset('cifar10', { from: work, dataDir, allowNonStandardCount: true }),
      'WRONG_SIZE',
      odd,
      '40x30',
      '32x32',
    );
    expect(e.message).toMatch(/--resize 32x32/);
    expect(await ls(dataDir)).toEqual([]);
    // skip does not hide a wrong size: sizes are a dataset problem, not a decoding one.
    await expectError(
      importDataset('cifar10', {
        from: work,
        dataDir,
        allowNonStandardCount: true,
        onBadImage: 'skip',
      }),
      'WRONG_SIZE',
      odd,
    );
  });

  it('with an explicit resize policy, other sizes are resized', async () => {
    const base = await makeCifarFolder(work, { perClass: { train: 1, test: 1 } });
    await put(join(base, 'train', 'frog', '0.png'), await png(64, 48, () => 200));
    const r = await importDataset('cifar10', {
      from: work,
      dataDir,
      allowNonStandardCount: true,
      resize: { width: 32, height: 32, fit: 'fill' },
    });
    expect(r.width).toBe(32);
    const train = await loadDataset('cifar10', 'train', { dataDir });
    for (const v of imageAt(train.images, 6)) expect(v).toBe(200);
    expect(train.meta.resize).toEqual({ width: 32, height: 32, fit: 'fill' });
    // A resize to another size changes the cache's image size.
    const r16 = await importDataset('cifar10', {
      from: work,
      dataDir,
      allowNonStandardCount: true,
      resize: { width: 16, height: 8 },
      saveAs: 'cifar10-small',
    });
    expect([r16.width, r16.height]).toEqual([16, 8]);
    const small = await loadDataset('cifar10-small', 'test', { dataDir });
    expect(small.images.length).toBe(10 * 16 * 8 * 3);
    expect(small.meta.resize?.fit).toBe('cover');
  });

  it('classes and perClass select the first classes and the first files in natural order', async () => {
    await makeCifarFolder(work, { perClass: { train: 12, test: 3 } });
    const r = await importDataset('cifar10', {
      from: work,
      dataDir,
      allowNonStandardCount: true,
      classes: 2,
      perClass: { train: 10, test: 2 },
    });
    expect(r.classNames).toEqual(['airplane', 'automobile']);
    expect(r.splits.train.classCounts).toEqual([10, 10]);
    expect(r.splits.test.classCounts).toEqual([2, 2]);
    const train = await loadDataset('cifar10', 'train', { dataDir });
    // automobile's 10 images are 0.png ... 9.png (10.png and 11.png sort after 9.png and are dropped)
    expect(sameBytes(imageAt(train.images, 19), rgbPixels(32, 32, cifarPixel('train', 1, 9)))).toBe(
      true,
    );
    expect(train.meta.selection).toMatchObject({ classes: 2, perClass: 10 });
    // A single number applies to both splits.
    const r2 = await importDataset('cifar10', {
      from: work,
      dataDir,
      allowNonStandardCount: true,
      perClass: 1,
      saveAs: 'c1',
    });
    expect([r2.splits.train.count, r2.splits.test.count]).toEqual([10, 10]);
  });

  it('a failed re-import keeps the previous cache entry intact', async () => {
    const base = await makeCifarFolder(work, { perClass: { train: 1, test: 1 } });
    await importDataset('cifar10', { from: work, dataDir, allowNonStandardCount: true });
    const before = await readFile(join(dataDir, 'cifar10', 'train.images.u8'));
    await writeFile(join(base, 'train', 'cat', '0.png'), Buffer.from('garbage'));
    await expectError(
      importDataset('cifar10', { from: work, dataDir, allowNonStandardCount: true }),
      'BAD_IMAGE',
    );
    expect(await ls(dataDir)).toEqual(['cifar10']);
    expect((await readFile(join(dataDir, 'cifar10', 'train.images.u8'))).equals(before)).toBe(true);
    expect((await loadDataset('cifar10', 'train', { dataDir })).count).toBe(10);
  });

  it('a successful re-import replaces the entry', async () => {
    await makeCifarFolder(work, { perClass: { train: 1, test: 1 } });
    await importDataset('cifar10', { from: work, dataDir, allowNonStandardCount: true });
    await importDataset('cifar10', {
      from: work,
      dataDir,
      allowNonStandardCount: true,
      classes: 4,
    });
    expect(await ls(dataDir)).toEqual(['cifar10']);
    expect((await loadDataset('cifar10', 'train', { dataDir })).numClasses).toBe(4);
  });
});
