import { readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  defaultDataDir,
  ensureImported,
  importDataset,
  isImported,
  listCachedDatasets,
  loadDataset,
  parseSplitMeta,
  registerDataset,
  resolveSplit,
  unregisterDataset,
} from '../src/data/index.js';
import { ls, makeCifarFolder, makeTar } from './data-fixtures/fixtures.js';
import { dataDir, expectError, useTempWorkspace, work } from './data-fixtures/workspace.js';

useTempWorkspace();

async function imported(): Promise<void> {
  await makeCifarFolder(work, { perClass: { train: 2, test: 1 } });
  await importDataset('cifar10', { from: work, dataDir, allowNonStandardCount: true });
}

describe('cache location', () => {
  it('defaults to $TRIT_DATA_DIR, then $XDG_CACHE_HOME/trit/datasets, then ~/.cache/trit/datasets', () => {
    expect(defaultDataDir({ TRIT_DATA_DIR: '/data/t', XDG_CACHE_HOME: '/x' })).toBe('/data/t');
    expect(defaultDataDir({ XDG_CACHE_HOME: '/x' })).toBe('/x/trit/datasets');
    expect(defaultDataDir({ TRIT_DATA_DIR: '  ', XDG_CACHE_HOME: '' })).toBe(
      join(homedir(), '.cache', 'trit', 'datasets'),
    );
    expect(defaultDataDir({})).toBe(join(homedir(), '.cache', 'trit', 'datasets'));
  });
});

describe('loadDataset', () => {
  it('loads both splits with typed arrays, class names and train statistics', async () => {
    await imported();
    const train = await loadDataset('cifar10', 'train', { dataDir });
    expect(train.images).toBeInstanceOf(Uint8Array);
    expect(train.images.length).toBe(20 * 32 * 32 * 3);
    expect(train.labels).toBeInstanceOf(Uint8Array);
    expect(train.numClasses).toBe(10);
    expect(train.mean.length).toBe(3);
    const test = await loadDataset('cifar10', 'test', { dataDir, verifyChecksum: true });
    expect(test.count).toBe(10);
    expect(test.std).toEqual(train.std);
  });

  it('a missing cache is a clear error giving the import command', async () => {
    const e = await expectError(loadDataset('cifar10', 'train', { dataDir }), 'NOT_IMPORTED');
    expect(e.message).toContain(`dataset cifar10 is not imported in ${dataDir}`);
    expect(e.message).toContain(
      `trit data import cifar10 --from <cifar-10-binary.tar.gz (official binary release) or cifar10-jpeg.tar.gz (image folders)> --data-dir ${dataDir}`,
    );
    expect(e.message).toContain(`trit data download cifar10 --data-dir ${dataDir}`);
    const sample = await expectError(
      loadDataset('cifar10-sample', 'test', { dataDir }),
      'NOT_IMPORTED',
    );
    expect(sample.message).toContain(`trit data import cifar10-sample --data-dir ${dataDir}`);
    const tiny = await expectError(
      loadDataset('tiny-imagenet-10', 'test', { dataDir }),
      'NOT_IMPORTED',
    );
    expect(tiny.message).toContain(
      'trit data import tiny-imagenet-10 --from <the Tiny ImageNet folder',
    );
  });

  it('accepts val as an alias of test and rejects other split names', async () => {
    await imported();
    expect((await loadDataset('cifar10', 'val', { dataDir })).split).toBe('test');
    expect(resolveSplit('validation')).toBe('test');
    await expectError(
      loadDataset('cifar10', 'dev' as 'train', { dataDir }),
      'BAD_OPTION',
      /unknown split "dev"/,
    );
  });

  it('loads an entry imported with saveAs', async () => {
    await makeCifarFolder(work, { perClass: { train: 2, test: 1 } });
    await importDataset('cifar10', {
      from: work,
      dataDir,
      allowNonStandardCount: true,
      perClass: 1,
      saveAs: 'cifar10-tiny',
    });
    const d = await loadDataset('cifar10-tiny', 'train', { dataDir });
    expect([d.name, d.dataset, d.count]).toEqual(['cifar10-tiny', 'cifar10', 10]);
    expect(await isImported('cifar10-tiny', { dataDir })).toBe(true);
    expect(await isImported('cifar10', { dataDir })).toBe(false);
  });

  it('a meta file failing the schema is a BAD_CACHE error naming the file and field', async () => {
    await imported();
    const metaPath = join(dataDir, 'cifar10', 'train.meta.json');
    const meta = JSON.parse(await readFile(metaPath, 'utf8'));
    await writeFile(metaPath, JSON.stringify({ ...meta, count: 21 }));
    // count 21 contradicts the class counts (sum 20) and the file sizes
    await expectError(
      loadDataset('cifar10', 'train', { dataDir }),
      'BAD_CACHE',
      metaPath,
      /classCounts/,
      /files\.images\.bytes/,
    );
    await writeFile(metaPath, JSON.stringify({ ...meta, height: 'big' }));
    await expectError(loadDataset('cifar10', 'train', { dataDir }), 'BAD_CACHE', /height/);
    await writeFile(metaPath, '{ not json');
    await expectError(
      loadDataset('cifar10', 'train', { dataDir }),
      'BAD_CACHE',
      /not valid JSON/,
      /trit data import cifar10/,
    );
    await writeFile(metaPath, JSON.stringify({ ...meta, formatVersion: 2 }));
    await expectError(
      loadDataset('cifar10', 'train', { dataDir }),
      'BAD_CACHE',
      /format version 2/,
    );
    expect(() => parseSplitMeta({ ...meta, classNames: ['a'] }, 'x.json')).toThrow(/classNames/);
  });

  it('a data file of the wrong size or content is detected', async () => {
    await imported();
    const images = join(dataDir, 'cifar10', 'train.images.u8');
    const bytes = await readFile(images);
    await writeFile(images, bytes.subarray(0, bytes.length - 1));
    await expectError(
      loadDataset('cifar10', 'train', { dataDir }),
      'BAD_CACHE',
      images,
      `has ${bytes.length - 1} bytes, the meta says ${bytes.length}`,
    );
    // Same size, one byte changed: only the checksum catches it.
    const changed = Buffer.from(bytes);
    changed[1000] = changed[1000]! ^ 0xff;
    await writeFile(images, changed);
    expect((await loadDataset('cifar10', 'train', { dataDir })).count).toBe(20);
    await expectError(
      loadDataset('cifar10', 'train', { dataDir, verifyChecksum: true }),
      'BAD_CACHE',
      /sha256/,
    );
    // A label outside the classes.
    const labels = join(dataDir, 'cifar10', 'test.labels.u8');
    const lb = await readFile(labels);
    lb[3] = 10;
    await writeFile(labels, lb);
    await expectError(
      loadDataset('cifar10', 'test', { dataDir }),
      'BAD_CACHE',
      /label 10 at index 3/,
    );
    await rm(labels);
    await expectError(
      loadDataset('cifar10', 'test', { dataDir }),
      'BAD_CACHE',
      /test\.labels\.u8 is missing/,
    );
  });

  it('listCachedDatasets reports entries, sizes and unusable ones', async () => {
    await imported();
    await import('node:fs/promises').then((fs) =>
      fs.mkdir(join(dataDir, 'broken'), { recursive: true }),
    );
    const list = await listCachedDatasets({ dataDir });
    expect(list.map((e) => e.entry)).toEqual(['broken', 'cifar10']);
    const c = list[1]!;
    expect(c.problems).toEqual([]);
    expect(c.splits.train?.count).toBe(20);
    // images + labels + meta of both splits
    expect(c.bytes).toBeGreaterThan(30 * 3072 + 30);
    expect(list[0]!.problems.length).toBe(2);
  });
});

describe('ensureImported', () => {
  it('imports a dataset with a shipped source once, and refuses one without', async () => {
    await makeCifarFolder(join(work, 'src'), { perClass: { train: 1, test: 1 } });
    const archive = await makeTar(join(work, 'shipped.tar.gz'), join(work, 'src'), [
      'cifar10-jpeg',
    ]);
    registerDataset({
      name: 'shipped-test',
      description: 'test',
      layouts: ['cifar10-folder'],
      imageSize: { height: 32, width: 32 },
      defaultFrom: archive,
      sourceHint: 'shipped',
    });
    try {
      const first = await ensureImported('shipped-test', { dataDir });
      expect(first?.splits.train.count).toBe(10);
      expect(await ensureImported('shipped-test', { dataDir })).toBeUndefined();
      expect(await ls(dataDir)).toEqual(['shipped-test']);
    } finally {
      unregisterDataset('shipped-test');
    }
    await expectError(
      ensureImported('cifar10', { dataDir }),
      'NOT_IMPORTED',
      /trit data import cifar10 --from/,
    );
  });
});
