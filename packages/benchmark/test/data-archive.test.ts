import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  getDatasetPreset,
  importDataset,
  listDatasets,
  loadDataset,
  registerDataset,
  unregisterDataset,
} from '../src/data/index.js';
import { ls, makeCifarFolder, makeTar } from './data-fixtures/fixtures.js';
import { dataDir, expectError, useTempWorkspace, work } from './data-fixtures/workspace.js';

useTempWorkspace();

async function cifarArchive(name = 'c.tar.gz'): Promise<string> {
  await makeCifarFolder(join(work, 'src'), { perClass: { train: 2, test: 1 } });
  return makeTar(join(work, name), join(work, 'src'), ['cifar10-jpeg']);
}

describe('archives and sources', () => {
  it('reads an uncompressed .tar and a .tgz', async () => {
    await makeCifarFolder(join(work, 'src'), { perClass: { train: 1, test: 1 } });
    const tar = await makeTar(join(work, 'c.tar'), join(work, 'src'), ['cifar10-jpeg']);
    expect(
      (await importDataset('cifar10', { from: tar, dataDir, allowNonStandardCount: true })).splits
        .train.count,
    ).toBe(10);
    const tgz = await makeTar(join(work, 'c.tgz'), join(work, 'src'), ['cifar10-jpeg']);
    expect(
      (await importDataset('cifar10', { from: tgz, dataDir, allowNonStandardCount: true })).source,
    ).toBe(tgz);
  });

  it('finds the dataset two folders down in an archive', async () => {
    await makeCifarFolder(join(work, 'src', 'outer'), { perClass: { train: 1, test: 1 } });
    const archive = await makeTar(join(work, 'deep.tar.gz'), join(work, 'src'), ['outer']);
    expect(
      (await importDataset('cifar10', { from: archive, dataDir, allowNonStandardCount: true }))
        .splits.test.count,
    ).toBe(10);
  });

  it('a truncated .tar.gz is a clear error naming the archive, with nothing cached', async () => {
    const archive = await cifarArchive();
    const bytes = await readFile(archive);
    const cut = join(work, 'cut.tar.gz');
    await writeFile(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expectError(
      importDataset('cifar10', { from: cut, dataDir, allowNonStandardCount: true }),
      'BAD_ARCHIVE',
      `cannot read archive ${cut}`,
      /truncated or corrupt/,
    );
    expect(await ls(dataDir)).toEqual([]);
  });

  it('a truncated .tar is a clear error', async () => {
    await makeCifarFolder(join(work, 'src'), { perClass: { train: 1, test: 1 } });
    const tar = await makeTar(join(work, 'c.tar'), join(work, 'src'), ['cifar10-jpeg']);
    const bytes = await readFile(tar);
    await writeFile(tar, bytes.subarray(0, 700)); // inside the first file's data
    await expectError(
      importDataset('cifar10', { from: tar, dataDir, allowNonStandardCount: true }),
      'BAD_ARCHIVE',
      tar,
    );
  });

  it('corrupt compressed bytes are a clear error', async () => {
    const archive = await cifarArchive();
    const bytes = await readFile(archive);
    for (let i = 100; i < 400; i++) bytes[i] = (bytes[i]! * 31 + 7) & 255;
    await writeFile(archive, bytes);
    await expectError(
      importDataset('cifar10', { from: archive, dataDir, allowNonStandardCount: true }),
      'BAD_ARCHIVE',
      archive,
    );
    expect(await ls(dataDir)).toEqual([]);
  });

  it('a file that is not an archive at all is a clear error', async () => {
    const fake = join(work, 'fake.tar.gz');
    await writeFile(fake, 'this is plain text, not a tarball');
    await expectError(
      importDataset('cifar10', { from: fake, dataDir, allowNonStandardCount: true }),
      'BAD_ARCHIVE',
      fake,
    );
  });

  it('unsupported extensions and missing paths are BAD_SOURCE errors', async () => {
    const zip = join(work, 'x.zip');
    await writeFile(zip, 'PK');
    await expectError(
      importDataset('cifar10', { from: zip, dataDir, allowNonStandardCount: true }),
      'BAD_SOURCE',
      /unzip it and pass the folder/,
    );
    await expectError(
      importDataset('cifar10', {
        from: join(work, 'nope.tar.gz'),
        dataDir,
        allowNonStandardCount: true,
      }),
      'BAD_SOURCE',
      /does not exist/,
    );
  });

  it('a source without the dataset layout lists the accepted layouts', async () => {
    await mkdir(join(work, 'empty', 'stuff'), { recursive: true });
    await expectError(
      importDataset('cifar10', { from: join(work, 'empty'), dataDir, allowNonStandardCount: true }),
      'BAD_LAYOUT',
      /does not contain a cifar10 dataset/,
      /data_batch_\{1\.\.5\}\.bin/,
      /\{train,test\}\/<class>/,
    );
  });
});

describe('names and options', () => {
  it('an unknown dataset name is an error listing the known ones', async () => {
    const e = await expectError(
      importDataset('cifar100', { from: work, dataDir }),
      'UNKNOWN_DATASET',
    );
    expect(e.message).toBe(
      'unknown dataset "cifar100"; known datasets: cifar10, cifar10-sample, imagenet, tiny-imagenet-10, tiny-imagenet-100',
    );
    await expectError(
      loadDataset('cifar100', 'train', { dataDir }),
      'UNKNOWN_DATASET',
      /known datasets: cifar10, /,
    );
  });

  it('bad options are errors naming the option and value', async () => {
    await makeCifarFolder(work, { perClass: { train: 1, test: 1 } });
    await expectError(
      importDataset('cifar10', { from: work, dataDir, allowNonStandardCount: true, classes: 0 }),
      'BAD_OPTION',
      /"classes" must be a positive integer, got 0/,
    );
    await expectError(
      importDataset('cifar10', { from: work, dataDir, allowNonStandardCount: true, perClass: 2.5 }),
      'BAD_OPTION',
      /"perClass" must be a positive integer, got 2.5/,
    );
    await expectError(
      importDataset('cifar10', {
        from: work,
        dataDir,
        allowNonStandardCount: true,
        onBadImage: 'ignore' as 'skip',
      }),
      'BAD_OPTION',
      /"onBadImage" must be one of "error", "skip", got "ignore"/,
    );
    await expectError(
      importDataset('cifar10', {
        from: work,
        dataDir,
        allowNonStandardCount: true,
        perClas: 3,
      } as never),
      'BAD_OPTION',
      /unknown option "perClas"/,
    );
    await expectError(
      importDataset('cifar10', {
        from: work,
        dataDir,
        allowNonStandardCount: true,
        resize: { width: 8 },
      } as never),
      'BAD_OPTION',
      /resize/,
    );
    await expectError(
      importDataset('cifar10', {
        from: work,
        dataDir,
        allowNonStandardCount: true,
        saveAs: '../evil',
      }),
      'BAD_OPTION',
      /invalid saveAs name/,
    );
    await expectError(
      importDataset('cifar10', { from: work, dataDir, allowNonStandardCount: true, classes: 11 }),
      'BAD_OPTION',
      /asked for 11 classes but CIFAR-10 has only 10/,
    );
  });

  it('a dataset without a default source needs from, and the error gives the command', async () => {
    await expectError(
      importDataset('cifar10', { dataDir, allowNonStandardCount: true }),
      'BAD_OPTION',
      /trit data import cifar10 --from <cifar-10-binary\.tar\.gz/,
      /trit data download cifar10/,
    );
  });

  it('registerDataset adds a dataset (e.g. your own ImageNet-style folder) and rejects duplicates', async () => {
    registerDataset({
      name: 'my-set',
      description: 'test set',
      layouts: ['cifar10-folder'],
      imageSize: { height: 32, width: 32 },
      sourceHint: 'a folder',
      classes: 2,
    });
    try {
      expect(listDatasets()).toContain('my-set');
      await makeCifarFolder(work, { perClass: { train: 1, test: 1 } });
      const r = await importDataset('my-set', { from: work, dataDir, allowNonStandardCount: true });
      expect(r.classNames).toEqual(['airplane', 'automobile']);
      expect(() => registerDataset({ ...getDatasetPreset('my-set') })).toThrow(
        /already registered/,
      );
      expect(() => registerDataset({ ...getDatasetPreset('my-set'), name: 'Bad Name' })).toThrow(
        /invalid dataset name/,
      );
    } finally {
      unregisterDataset('my-set');
    }
  });

  it('stale staging folders of dead imports are removed, live ones kept', async () => {
    await mkdir(join(dataDir, '.tmp-cifar10-999999999-abc123'), { recursive: true });
    await writeFile(join(dataDir, '.tmp-cifar10-999999999-abc123', 'train.images.u8'), 'partial');
    await mkdir(join(dataDir, '.old-cifar10-999999998-xyz'), { recursive: true });
    // pid 1 is always alive
    await mkdir(join(dataDir, '.tmp-cifar10-1-live00'), { recursive: true });
    await makeCifarFolder(work, { perClass: { train: 1, test: 1 } });
    await importDataset('cifar10', { from: work, dataDir, allowNonStandardCount: true });
    expect(await ls(dataDir)).toEqual(['.tmp-cifar10-1-live00', 'cifar10']);
  });
});
