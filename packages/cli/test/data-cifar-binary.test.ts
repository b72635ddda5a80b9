import { createHash } from 'node:crypto';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importDataset, loadDataset } from '../src/data/index.js';
import {
  binPixel,
  cifarRecord,
  imageAt,
  ls,
  makeCifarBinary,
  makeTar,
  removeDir,
  rgbPixels,
} from './data-fixtures/fixtures.js';
import { dataDir, expectError, useTempWorkspace, work } from './data-fixtures/workspace.js';

useTempWorkspace();

describe('CIFAR-10 binary release', () => {
  it('imports a folder: planar CHW records become HWC pixels, labels and order kept', async () => {
    await makeCifarBinary(work, 10);
    const r = await importDataset('cifar10', { from: work, dataDir, allowNonStandardCount: true });
    expect(r.layout).toBe('cifar10-binary');
    // 5 train files x 10 records, 1 test file x 10 records
    expect(r.splits.train.count).toBe(50);
    expect(r.splits.test.count).toBe(10);
    expect(r.splits.train.classCounts).toEqual([5, 5, 5, 5, 5, 5, 5, 5, 5, 5]);
    const train = await loadDataset('cifar10', 'train', { dataDir });
    // Record r of file f has label (f + r) % 10: file 1 -> 1,2,...,9,0; file 2 -> 2,3,...
    expect(Array.from(train.labels.slice(0, 12))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 2, 3]);
    // Image 5 = file 1, record 5. Pixel (x=1, y=2): R = (1*50 + 5*13 + 1 + 2*2 + 0) % 256 = 120,
    // G = 120 + 60 = 180, B = 120 + 120 = 240. HWC offset of (y=2, x=1) = (2*32 + 1)*3 = 195.
    const img = imageAt(train.images, 5);
    expect(Array.from(img.subarray(195, 198))).toEqual([120, 180, 240]);
    // R plane byte 65 of the record (y=2, x=1) is what landed there:
    expect(img[195]).toBe(cifarRecord(6, binPixel(1, 5))[1 + 65]);
    // Whole images equal the pattern in HWC order (image 13 = file 2, record 3).
    expect(Buffer.from(img).equals(Buffer.from(rgbPixels(32, 32, binPixel(1, 5))))).toBe(true);
    expect(
      Buffer.from(imageAt(train.images, 13)).equals(Buffer.from(rgbPixels(32, 32, binPixel(2, 3)))),
    ).toBe(true);
    const test = await loadDataset('cifar10', 'test', { dataDir });
    expect(Array.from(test.labels)).toEqual([6, 7, 8, 9, 0, 1, 2, 3, 4, 5]);
    expect(
      Buffer.from(imageAt(test.images, 3)).equals(Buffer.from(rgbPixels(32, 32, binPixel(6, 3)))),
    ).toBe(true);
    expect(test.meta.source.kind).toBe('folder');
    expect(test.meta.source.sha256).toBeNull();
  });

  it('imports cifar-10-binary.tar.gz and records the archive sha256', async () => {
    await makeCifarBinary(join(work, 'src'), 10);
    const archive = await makeTar(join(work, 'cifar-10-binary.tar.gz'), join(work, 'src'), [
      'cifar-10-batches-bin',
    ]);
    const r = await importDataset('cifar10', {
      from: archive,
      dataDir,
      allowNonStandardCount: true,
    });
    expect(r.splits.train.count).toBe(50);
    const meta = (await loadDataset('cifar10', 'train', { dataDir })).meta;
    expect(meta.source).toEqual({
      path: archive,
      kind: 'archive',
      layout: 'cifar10-binary',
      sha256: createHash('sha256')
        .update(await readFile(archive))
        .digest('hex'),
    });
    expect(meta.files.images.sha256).toBe(
      createHash('sha256')
        .update(await readFile(join(dataDir, 'cifar10', 'train.images.u8')))
        .digest('hex'),
    );
  });

  it('classes/perClass keep the first classes and the first records per class in file order', async () => {
    await makeCifarBinary(work, 10);
    const r = await importDataset('cifar10', {
      from: work,
      dataDir,
      allowNonStandardCount: true,
      classes: 3,
      perClass: { train: 2 },
    });
    // Labels (f + r) % 10. File 1: r0 -> 1, r1 -> 2, r9 -> 0; file 2: r0 -> 2, r8 -> 0, r9 -> 1;
    // then every class has its 2 train images.
    expect(r.splits.train.classCounts).toEqual([2, 2, 2]);
    const train = await loadDataset('cifar10', 'train', { dataDir });
    expect(Array.from(train.labels)).toEqual([1, 2, 0, 2, 0, 1]);
    expect(
      Buffer.from(imageAt(train.images, 3)).equals(Buffer.from(rgbPixels(32, 32, binPixel(2, 0)))),
    ).toBe(true);
    expect(train.classNames).toEqual(['airplane', 'automobile', 'bird']);
    expect(train.meta.selection).toMatchObject({ classes: 3, perClass: 2 });
    // Test (file 6): labels 6,7,8,9,0,1,2,... -> records 4, 5, 6 (perClass.test unset = all).
    const test = await loadDataset('cifar10', 'test', { dataDir });
    expect(Array.from(test.labels)).toEqual([0, 1, 2]);
    expect(
      Buffer.from(imageAt(test.images, 0)).equals(Buffer.from(rgbPixels(32, 32, binPixel(6, 4)))),
    ).toBe(true);
    expect(test.meta.selection.perClass).toBeNull();
  });

  it('computes the train per-channel mean/std at import time', async () => {
    // One record per file. Train: records of files 1-4 are all 0, file 5 is all 255 in R,
    // 51 in G (= 0.2*255) everywhere, and B = 0 / 255 alternating per image (files 1..5 -> 0,255,0,255,0).
    const labelOf = () => 0;
    await makeCifarBinary(work, 1, labelOf);
    const dir = join(work, 'cifar-10-batches-bin');
    for (let f = 1; f <= 5; f++) {
      const rec = cifarRecord(0, (_x, _y, c) =>
        c === 0 ? (f === 5 ? 255 : 0) : c === 1 ? 51 : f % 2 === 0 ? 255 : 0,
      );
      await writeFile(join(dir, `data_batch_${f}.bin`), rec);
    }
    const r = await importDataset('cifar10', {
      from: work,
      dataDir,
      allowNonStandardCount: true,
      classes: 1,
    });
    // R: mean = 255/5 = 51 -> 0.2; E[x^2] = 255^2/5 = 13005; var = 13005 - 51^2 = 10404; std = 102 -> 0.4
    // G: constant 51 -> mean 0.2, std 0 -> floored at 1/255
    // B: two of five images 255 -> mean 102 -> 0.4; E[x^2] = 2*65025/5 = 26010; var = 26010 - 10404 = 15606;
    //    std = sqrt(15606) = 124.924 -> 0.489898
    expect(r.normalization.mean[0]).toBeCloseTo(0.2, 12);
    expect(r.normalization.std[0]).toBeCloseTo(0.4, 12);
    expect(r.normalization.mean[1]).toBeCloseTo(0.2, 12);
    expect(r.normalization.std[1]).toBeCloseTo(1 / 255, 12);
    expect(r.normalization.mean[2]).toBeCloseTo(0.4, 12);
    expect(r.normalization.std[2]).toBeCloseTo(Math.sqrt(15606) / 255, 12);
    // The test split's meta carries the train statistics.
    const test = await loadDataset('cifar10', 'test', { dataDir });
    expect(test.mean).toEqual(r.normalization.mean);
    expect(test.meta.normalization.computedFrom).toBe('train');
  });

  it('a truncated .bin is an error naming the file and the record index; nothing is cached', async () => {
    await makeCifarBinary(work, 3);
    const file = join(work, 'cifar-10-batches-bin', 'data_batch_3.bin');
    await truncate(file, 3 * 3073 - 100); // record 2 loses its last 100 bytes
    await expectError(
      importDataset('cifar10', { from: work, dataDir, allowNonStandardCount: true }),
      'BAD_RECORD',
      'data_batch_3.bin',
      'record 2 has only 2973 of 3073 bytes',
    );
    expect(await ls(dataDir)).toEqual([]);
  });

  it('an invalid label byte is an error naming the file and the record', async () => {
    await makeCifarBinary(work, 10);
    const file = join(work, 'cifar-10-batches-bin', 'test_batch.bin');
    const buf = await readFile(file);
    buf[1 * 3073] = 12;
    await writeFile(file, buf);
    await expectError(
      importDataset('cifar10', { from: work, dataDir, allowNonStandardCount: true }),
      'BAD_RECORD',
      'test_batch.bin: record 1 has label 12',
    );
    expect(await ls(dataDir)).toEqual([]);
  });

  it('an empty .bin file and a missing batch file are clear errors', async () => {
    await makeCifarBinary(work, 1);
    await writeFile(join(work, 'cifar-10-batches-bin', 'data_batch_2.bin'), new Uint8Array(0));
    await expectError(
      importDataset('cifar10', { from: work, dataDir, allowNonStandardCount: true }),
      'BAD_RECORD',
      'data_batch_2.bin is empty',
    );
    await removeDir(join(work, 'cifar-10-batches-bin', 'test_batch.bin'));
    await expectError(
      importDataset('cifar10', { from: work, dataDir, allowNonStandardCount: true }),
      'BAD_LAYOUT',
      /missing .*test_batch\.bin/,
    );
  });

  it('a .bin cut at a record boundary is a WRONG_COUNT error naming the file, checked before anything is read', async () => {
    // Official sizes: 10,000 records per file. Sparse files (all-zero records, label 0) cost nothing.
    await makeCifarBinary(work, 1);
    const dir = join(work, 'cifar-10-batches-bin');
    const files = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`).concat('test_batch.bin');
    for (const f of files) await truncate(join(dir, f), 10_000 * 3073);
    await truncate(join(dir, 'data_batch_3.bin'), 9_000 * 3073);
    const e = await expectError(
      importDataset('cifar10', { from: work, dataDir }),
      'WRONG_COUNT',
      `${work} is not a complete cifar10 (the official release has 10,000 records per .bin file): ` +
        `${join(dir, 'data_batch_3.bin')} holds 9,000 records, the official file 10,000. ` +
        'A truncated or incomplete copy? To import a non-standard count on purpose, pass ' +
        'allowNonStandardCount: true (CLI: --allow-non-standard-count)',
    );
    expect(e.message).not.toMatch(/data_batch_2/);
    expect(await ls(dataDir)).toEqual([]);
    // The official counts import without any option and carry no note.
    await truncate(join(dir, 'data_batch_3.bin'), 10_000 * 3073);
    const r = await importDataset('cifar10', { from: work, dataDir, classes: 1, perClass: 3 });
    expect([r.splits.train.count, r.splits.test.count]).toEqual([3, 3]);
    expect(r.splits.train.nonStandardCount).toEqual([]);
    expect((await loadDataset('cifar10', 'test', { dataDir })).meta.nonStandardCount).toEqual([]);
  });

  it('a .bin larger than the official file is refused before it is read', async () => {
    await makeCifarBinary(work, 1);
    const file = join(work, 'cifar-10-batches-bin', 'test_batch.bin');
    await truncate(file, 10_001 * 3073);
    await expectError(
      importDataset('cifar10', { from: work, dataDir, allowNonStandardCount: true }),
      'TOO_LARGE',
      `${file} is 29.31 MiB (30733073 bytes), more than the 29.31 MiB (30730000 bytes) allowed for a CIFAR-10 .bin file (10,000 records of 3073 bytes)`,
    );
    expect(await ls(dataDir)).toEqual([]);
  });

  it('allowNonStandardCount imports other counts and records the differences in the result and meta', async () => {
    await makeCifarBinary(work, 10);
    const r = await importDataset('cifar10', { from: work, dataDir, allowNonStandardCount: true });
    const dir = join(work, 'cifar-10-batches-bin');
    expect(r.splits.train.nonStandardCount).toEqual(
      [1, 2, 3, 4, 5].map(
        (i) => `${join(dir, `data_batch_${i}.bin`)} holds 10 records, the official file 10,000`,
      ),
    );
    expect(r.splits.test.nonStandardCount).toEqual([
      `${join(dir, 'test_batch.bin')} holds 10 records, the official file 10,000`,
    ]);
    const meta = (await loadDataset('cifar10', 'train', { dataDir })).meta;
    expect(meta.nonStandardCount).toEqual(r.splits.train.nonStandardCount);
    await expectError(
      importDataset('cifar10', {
        from: work,
        dataDir,
        allowNonStandardCount: 'yes' as unknown as boolean,
      }),
      'BAD_OPTION',
      'option "allowNonStandardCount" must be true or false, got "yes"',
    );
  });

  it('resize is refused for the binary release (its images are 32x32)', async () => {
    await makeCifarBinary(work, 1);
    await expectError(
      importDataset('cifar10', {
        from: work,
        dataDir,
        allowNonStandardCount: true,
        resize: { width: 64, height: 64 },
      }),
      'BAD_OPTION',
      'image-folder sources only',
    );
  });
});
