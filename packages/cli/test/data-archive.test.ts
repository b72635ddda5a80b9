import { copyFileSync } from 'node:fs';
import {
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  symlink,
  truncate,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { create } from 'tar';
import { describe, expect, it } from 'vitest';
import {
  getDatasetPreset,
  importDataset,
  listDatasets,
  loadDataset,
  registerDataset,
  unregisterDataset,
} from '../src/data/index.js';
import { openSource } from '../src/data/source.js';
import { ls, makeCifarFolder, makeTar, put } from './data-fixtures/fixtures.js';
import { dataDir, expectError, useTempWorkspace, work } from './data-fixtures/workspace.js';

useTempWorkspace();

/** A full garbage collection, without starting node with --expose-gc. */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

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

  it('a folder source never reads outside itself: not through "..", not through a symbolic link', async () => {
    const base = await makeCifarFolder(join(work, 'src'), { perClass: { train: 1, test: 1 } });
    await put(join(work, 'secret.txt'), 'outside the source');
    const tree = await openSource(join(work, 'src'));
    const cap = { bytes: 1000, what: 'a test file' };
    await expect(tree.readFile('../secret.txt', cap)).rejects.toThrow(
      `"../secret.txt" points outside the source folder ${join(work, 'src')}; nothing outside it is read`,
    );
    await expect(tree.list('cifar10-jpeg/../..')).rejects.toThrow(/points outside the source/);
    // A class folder that is a link to images elsewhere is refused, not imported.
    const elsewhere = join(work, 'elsewhere-cat');
    await makeCifarFolder(join(work, 'other'), { perClass: { train: 1, test: 1 } });
    await rename(join(work, 'other', 'cifar10-jpeg', 'train', 'cat'), elsewhere);
    await rm(join(base, 'train', 'cat'), { recursive: true });
    await symlink(elsewhere, join(base, 'train', 'cat'));
    await expectError(
      importDataset('cifar10', { from: join(work, 'src'), dataDir, allowNonStandardCount: true }),
      'BAD_SOURCE',
      `${join(base, 'train', 'cat')} leads to ${elsewhere}, outside the source folder ${join(work, 'src')}`,
    );
    expect(await ls(dataDir)).toEqual([]);
    // A link inside the source is fine, and so is a source folder that is itself a link.
    await rm(join(base, 'train', 'cat'));
    await rename(elsewhere, join(base, 'cat-real'));
    await symlink(join(base, 'cat-real'), join(base, 'train', 'cat'));
    await symlink(join(work, 'src'), join(work, 'src-link'));
    const r = await importDataset('cifar10', {
      from: join(work, 'src-link'),
      dataDir,
      allowNonStandardCount: true,
    });
    expect(r.splits.train.count).toBe(10);
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

describe('archive streaming and size caps', () => {
  it('an unused 128 MiB member streams through: memory holds only the planned entries', async () => {
    await makeCifarFolder(join(work, 'src'), { perClass: { train: 2, test: 1 } });
    // A sparse file of zeros: cheap to make, 128 MiB inside the tar, ~130 KB gzipped.
    await put(join(work, 'src', 'cifar10-jpeg', 'unused', 'huge.dat'), '');
    await truncate(join(work, 'src', 'cifar10-jpeg', 'unused', 'huge.dat'), 128 * 2 ** 20);
    const archive = join(work, 'bomb.tar.gz');
    await create({ file: archive, cwd: join(work, 'src'), gzip: { level: 1 }, portable: true }, [
      'cifar10-jpeg',
    ]);
    expect((await stat(archive)).size).toBeLessThan(2 * 2 ** 20);
    const gc = collector();
    let peak = 0;
    const r = await importDataset('cifar10', {
      from: archive,
      dataDir,
      allowNonStandardCount: true,
      onProgress: (e) => {
        // While images decode, the tree holds what it extracted; after a full GC only
        // live buffers count in arrayBuffers. Twice: V8 frees the backing stores a GC
        // found dead on a background thread, and the next GC waits for that to finish
        // (with one GC, 2 of 7 runs here measured 14.6 MB and over 32 MB, and one CI run
        // 48 MB; with two, 11 of 11 runs measured 8.5 MB).
        if (e.phase === 'decode') {
          gc();
          gc();
          peak = Math.max(peak, process.memoryUsage().arrayBuffers);
        }
      },
    });
    expect(r.images).toBe(30);
    // Holding the member (as a whole-archive read does) would put this above 128 MiB.
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThan(32 * 2 ** 20);
  });

  it('an image entry larger than a 32x32 image can be is refused before it is read, naming it, its size and the cap', async () => {
    await makeCifarFolder(join(work, 'src'), { perClass: { train: 2, test: 1 } });
    const big = join(work, 'src', 'cifar10-jpeg', 'train', 'cat', '1.png');
    await writeFile(big, Buffer.alloc(2 * 2 ** 20 + 5, 7));
    const archive = await makeTar(join(work, 'c.tar.gz'), join(work, 'src'), ['cifar10-jpeg']);
    await expectError(
      importDataset('cifar10', { from: archive, dataDir, allowNonStandardCount: true }),
      'TOO_LARGE',
      `${archive}:cifar10-jpeg/train/cat/1.png is 2.00 MiB (2097157 bytes), more than the 1.00 MiB (1048576 bytes) allowed for an image file of a 32x32 dataset`,
    );
    expect(await ls(dataDir)).toEqual([]);
    // The same cap applies to a folder source, and onBadImage 'skip' does not skip it.
    await expectError(
      importDataset('cifar10', {
        from: join(work, 'src'),
        dataDir,
        allowNonStandardCount: true,
        onBadImage: 'skip',
      }),
      'TOO_LARGE',
      `${big} is 2.00 MiB (2097157 bytes), more than the 1.00 MiB`,
    );
    expect(await ls(dataDir)).toEqual([]);
  });

  it('an archive replaced between the scan and the extraction is an error, not a mix of two files', async () => {
    const archive = await cifarArchive();
    // Another valid archive with the same entries (and one more): only its sha256 tells it apart.
    await writeFile(join(work, 'src', 'cifar10-jpeg', 'extra.txt'), 'x');
    const other = await makeTar(join(work, 'other.tar.gz'), join(work, 'src'), ['cifar10-jpeg']);
    let swapped = false;
    await expectError(
      importDataset('cifar10', {
        from: archive,
        dataDir,
        allowNonStandardCount: true,
        onProgress: (e) => {
          if (e.phase === 'extract' && e.done === 0 && !swapped) {
            swapped = true;
            copyFileSync(other, archive);
          }
        },
      }),
      'BAD_ARCHIVE',
      `archive ${archive} changed while it was being imported`,
    );
    expect(swapped).toBe(true);
    expect(await ls(dataDir)).toEqual([]);
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

  it('cache folders and files follow the umask (a group-shared cache stays readable)', async () => {
    await makeCifarFolder(work, { perClass: { train: 1, test: 1 } });
    const before = process.umask(0o002);
    try {
      for (const [mask, dirMode, fileMode] of [
        [0o002, 0o775, 0o664],
        [0o022, 0o755, 0o644],
      ] as const) {
        process.umask(mask);
        const dd = join(work, `cache-${mask.toString(8)}`);
        await importDataset('cifar10', { from: work, dataDir: dd, allowNonStandardCount: true });
        const entry = join(dd, 'cifar10');
        expect(((await stat(dd)).mode & 0o777).toString(8)).toBe(dirMode.toString(8));
        expect(((await stat(entry)).mode & 0o777).toString(8)).toBe(dirMode.toString(8));
        const files = await readdir(entry);
        expect(files.length).toBe(6);
        for (const f of files) {
          expect([f, ((await stat(join(entry, f))).mode & 0o777).toString(8)]).toEqual([
            f,
            fileMode.toString(8),
          ]);
        }
      }
    } finally {
      process.umask(before);
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
