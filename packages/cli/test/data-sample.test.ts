import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CIFAR10_SAMPLE_ARCHIVE,
  getDatasetPreset,
  importDataset,
  loadDataset,
} from '../src/data/index.js';
import { removeDir, tempDir } from './data-fixtures/fixtures.js';

// The committed sample (packages/cli/data/cifar10-sample.tar.gz), not /work/shared.
let work: string;
beforeAll(async () => {
  work = await tempDir();
});
afterAll(async () => removeDir(work));

describe('committed cifar10-sample', () => {
  it('is the default source of the cifar10-sample preset and stays small', async () => {
    expect(getDatasetPreset('cifar10-sample').defaultFrom).toBe(CIFAR10_SAMPLE_ARCHIVE);
    expect(CIFAR10_SAMPLE_ARCHIVE).toBe(
      join(import.meta.dirname, '..', 'data', 'cifar10-sample.tar.gz'),
    );
    const s = await stat(CIFAR10_SAMPLE_ARCHIVE);
    expect(s.size).toBeLessThan(5 * 1024 * 1024);
    // The README states the archive's checksum.
    const readme = await readFile(join(import.meta.dirname, '..', 'data', 'README.md'), 'utf8');
    const sha = createHash('sha256')
      .update(await readFile(CIFAR10_SAMPLE_ARCHIVE))
      .digest('hex');
    expect(readme).toContain(sha);
  });

  it('imports without --from: 500 train + 100 test images per class, 32x32', async () => {
    const dataDir = join(work, 'cache');
    const r = await importDataset('cifar10-sample', { dataDir });
    expect(r.layout).toBe('cifar10-folder');
    expect(r.splits.train.classCounts).toEqual(new Array(10).fill(500));
    expect(r.splits.test.classCounts).toEqual(new Array(10).fill(100));
    expect(r.skipped).toBe(0);
    const test = await loadDataset('cifar10-sample', 'test', { dataDir });
    expect(test.meta.caveat).toMatch(/JPEG/);
    // Train statistics of real CIFAR-10 images are near the published ones
    // (mean 0.491 0.482 0.447, std 0.247 0.243 0.262).
    for (const [i, m] of [0.491, 0.482, 0.447].entries())
      expect(Math.abs(r.normalization.mean[i]! - m)).toBeLessThan(0.02);
    for (const [i, s] of [0.247, 0.243, 0.262].entries())
      expect(Math.abs(r.normalization.std[i]! - s)).toBeLessThan(0.02);
  });
});
