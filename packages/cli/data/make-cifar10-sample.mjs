#!/usr/bin/env node
// Rebuilds cifar10-sample.tar.gz from the JPEG CIFAR-10 copy, deterministically:
//   node packages/cli/data/make-cifar10-sample.mjs [path/to/cifar10-jpeg.tar.gz] [--train N] [--test N]
// Needs the built package (`npm run build`): the class list is @trit/cli's CIFAR10_CLASSES.
// Selection: per class, the first N train and M test files in file-name order
// (0000.jpg, 0001.jpg, ...), bytes copied unchanged. The archive is byte-for-byte
// reproducible: sorted entries, fixed mtime, no owner, gzip level 9.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CIFAR10_CLASSES as CLASSES } from '@trit/cli';
import { create, list } from 'tar';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
/**
 * The images per class a count flag asks for (removed from `args`), or `def`.
 * @param {string} name
 * @param {number} def
 */
const flag = (name, def) => {
  const i = args.indexOf(name);
  if (i < 0) return def;
  const [v = ''] = args.splice(i, 2).slice(1);
  const n = Number(v);
  // NaN would slice out no images and write an empty sample without a word.
  if (v === '' || !Number.isInteger(n) || n < 1)
    throw new Error(`${name} must be a whole number >= 1, got '${v}'`);
  return n;
};
const perTrain = flag('--train', 500);
const perTest = flag('--test', 100);
const source = resolve(args[0] ?? join(here, '../../../../shared/datasets/cifar10-jpeg.tar.gz'));
const out = join(here, 'cifar10-sample.tar.gz');
const MTIME = new Date('2020-01-01T00:00:00Z');

/** @type {Map<string, Buffer>} "split/class/file" -> JPEG bytes */
const wanted = new Map();
const re = /^(?:\.\/)?[^/]+\/(train|test)\/([a-z]+)\/(\d+)\.jpg$/;
/** @type {Map<string, { name: string, data: Buffer }[]>} "split/class" -> its images */
const byClass = new Map();
await list({
  file: source,
  strict: true,
  onReadEntry: (entry) => {
    const m = re.exec(entry.path);
    if (!m || entry.type !== 'File') return entry.resume();
    const key = `${m[1]}/${m[2]}`;
    /** @type {Buffer[]} */
    const chunks = [];
    entry.on('data', (/** @type {Buffer} */ c) => chunks.push(c));
    entry.on('end', () => {
      const files = byClass.get(key) ?? [];
      byClass.set(key, files);
      files.push({ name: `${m[3]}.jpg`, data: Buffer.concat(chunks) });
    });
  },
});
for (const split of ['train', 'test']) {
  for (const cls of CLASSES) {
    const files = (byClass.get(`${split}/${cls}`) ?? []).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    const n = split === 'train' ? perTrain : perTest;
    if (files.length < n)
      throw new Error(`${source}: ${split}/${cls} has ${files.length} images, need ${n}`);
    for (const f of files.slice(0, n)) wanted.set(`${split}/${cls}/${f.name}`, f.data);
  }
}

const work = await mkdtemp(join(tmpdir(), 'cifar10-sample-'));
try {
  const root = 'cifar10-sample';
  const entries = [root];
  for (const split of ['test', 'train']) {
    entries.push(`${root}/${split}`);
    for (const cls of CLASSES) entries.push(`${root}/${split}/${cls}`);
  }
  for (const [path, data] of wanted) {
    const file = join(work, root, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, data);
    await utimes(file, MTIME, MTIME);
    entries.push(`${root}/${path}`);
  }
  for (const d of entries.slice().reverse()) {
    if (!d.endsWith('.jpg')) await utimes(join(work, d), MTIME, MTIME).catch(() => undefined);
  }
  entries.sort();
  await create(
    { file: out, cwd: work, gzip: { level: 9 }, portable: true, noDirRecurse: true, mtime: MTIME },
    entries,
  );
} finally {
  await rm(work, { recursive: true, force: true });
}
const bytes = await readFile(out);
const sourceHash = createHash('sha256')
  .update(await readFile(source))
  .digest('hex');
console.log(`source ${source} sha256 ${sourceHash}`);
console.log(
  `wrote ${out}: ${wanted.size} images (${perTrain} train + ${perTest} test per class), ${bytes.length} bytes, sha256 ${createHash('sha256').update(bytes).digest('hex')}`,
);
