import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isAlive } from '../process-info.js';
import { errorMessage } from './errors.js';
import { metaFileName, parseSplitMeta, type SplitMeta } from './meta.js';
import { resolveDataDir } from './paths.js';
import { SPLITS, type Split } from './presets.js';

/** Prefix of staging folders; a finished import renames its staging folder into place. */
export const STAGING_PREFIX = '.tmp-';
const OLD_PREFIX = '.old-';

/** Folder of cache entry `entry`. */
export function entryDir(dataDir: string, entry: string): string {
  return join(dataDir, entry);
}

/**
 * Removes staging/old folders left by imports whose process died (killed,
 * power loss): `.tmp-<entry>-<pid>-*` and `.old-<entry>-<pid>-*` whose pid no
 * longer runs. Folders of running imports are left alone.
 */
export async function removeStaleStaging(dataDir: string): Promise<string[]> {
  const names = await readdir(dataDir).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(STAGING_PREFIX) && !name.startsWith(OLD_PREFIX)) continue;
    const m = /-(\d+)-[^-]+$/.exec(name);
    const pid = m ? Number(m[1]) : Number.NaN;
    if (Number.isFinite(pid) && pid !== process.pid && isAlive(pid)) continue;
    if (pid === process.pid) continue;
    await rm(join(dataDir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/**
 * Creates the staging folder `<dataDir>/.tmp-<entry>-<pid>-<random>` of an
 * import. Unlike `mkdtemp` (always 0700) it follows the umask, like every file
 * of the entry, so a cache shared by a group stays readable by the group.
 */
export async function makeStagingDir(dataDir: string, entry: string): Promise<string> {
  for (;;) {
    const dir = join(
      dataDir,
      `${STAGING_PREFIX}${entry}-${process.pid}-${randomBytes(6).toString('hex')}`,
    );
    try {
      await mkdir(dir);
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/**
 * Moves a finished staging folder to `<dataDir>/<entry>` with renames only: a
 * previous entry is first renamed aside, then removed once the new one is in
 * place (and restored if the second rename fails).
 */
export async function commitStaging(
  staging: string,
  dataDir: string,
  entry: string,
): Promise<string> {
  const target = entryDir(dataDir, entry);
  const existing = await stat(target).catch(() => undefined);
  if (!existing) {
    await rename(staging, target);
    return target;
  }
  const aside = join(dataDir, `${OLD_PREFIX}${entry}-${process.pid}-${Date.now().toString(36)}`);
  await rename(target, aside);
  try {
    await rename(staging, target);
  } catch (err) {
    await rename(aside, target).catch(() => undefined);
    throw err;
  }
  await rm(aside, { recursive: true, force: true });
  return target;
}

/** One cache entry as found on disk by {@link listCachedDatasets}. */
export interface CachedDataset {
  /** Entry (folder) name; the name `loadDataset` takes. */
  readonly entry: string;
  readonly path: string;
  /** Registered dataset the entry was imported as (undefined if no meta is readable). */
  readonly dataset: string | undefined;
  readonly splits: Partial<Record<Split, SplitMeta>>;
  /** Bytes of all files in the entry folder. */
  readonly bytes: number;
  /** Why the entry is unusable (missing or invalid meta), if it is. */
  readonly problems: string[];
}

/** Lists the cache entries under `dataDir` (default cache dir when omitted), sorted by name. */
export async function listCachedDatasets(
  options: { dataDir?: string } = {},
): Promise<CachedDataset[]> {
  const dataDir = resolveDataDir(options.dataDir);
  const names = await readdir(dataDir, { withFileTypes: true }).catch(() => []);
  const out: CachedDataset[] = [];
  for (const d of names) {
    if (!d.isDirectory() || d.name.startsWith('.')) continue;
    const path = entryDir(dataDir, d.name);
    const splits: Partial<Record<Split, SplitMeta>> = {};
    const problems: string[] = [];
    for (const split of SPLITS) {
      const file = join(path, metaFileName(split));
      try {
        splits[split] = parseSplitMeta(JSON.parse(await readFile(file, 'utf8')), file);
      } catch (err) {
        problems.push(
          (err as NodeJS.ErrnoException).code === 'ENOENT' ? `missing ${file}` : errorMessage(err),
        );
      }
    }
    let bytes = 0;
    for (const f of await readdir(path, { withFileTypes: true })) {
      if (f.isFile()) bytes += (await stat(join(path, f.name))).size;
    }
    out.push({
      entry: d.name,
      path,
      dataset: splits.train?.dataset ?? splits.test?.dataset,
      splits,
      bytes,
      problems,
    });
  }
  return out.sort((a, b) => (a.entry < b.entry ? -1 : a.entry > b.entry ? 1 : 0));
}
