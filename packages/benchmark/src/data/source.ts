import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { Parser, type ReadEntry } from 'tar';
import { DatasetError, errorMessage } from './errors.js';
import { naturalCompare } from './natural-sort.js';
import type { ProgressCallback } from './progress.js';

/** One name inside a folder of a {@link SourceTree}. */
export interface TreeEntry {
  readonly name: string;
  readonly isDir: boolean;
}

/**
 * A read-only file tree: an extracted folder on disk, or the contents of a
 * tar archive held in memory. Paths are relative, `/`-separated, `''` = root.
 * Hidden names (`.DS_Store`, `._*`, `__MACOSX`) are never listed.
 */
export interface SourceTree {
  readonly kind: 'archive' | 'folder';
  /** Absolute path of the archive or folder. */
  readonly location: string;
  /** sha256 of the archive file; null for folders. */
  readonly sha256: string | null;
  /** Entries of `dir` in natural order, or undefined if `dir` is not a folder. */
  list(dir: string): Promise<TreeEntry[] | undefined>;
  isFile(path: string): Promise<boolean>;
  readFile(path: string): Promise<Buffer>;
  /** How to name `path` in messages (absolute path, or `archive.tar.gz:inner/path`). */
  display(path: string): string;
}

export const ARCHIVE_EXTENSIONS = ['.tar.gz', '.tgz', '.tar'] as const;

export function joinPath(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('/');
}

function isHidden(name: string): boolean {
  return name.startsWith('.') || name === '__MACOSX';
}

function sortEntries(entries: TreeEntry[]): TreeEntry[] {
  return entries.sort((a, b) => naturalCompare(a.name, b.name));
}

class FolderTree implements SourceTree {
  readonly kind = 'folder';
  readonly sha256 = null;
  constructor(readonly location: string) {}

  async list(dir: string): Promise<TreeEntry[] | undefined> {
    let dirents: import('node:fs').Dirent[];
    try {
      dirents = await readdir(join(this.location, dir), { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw err;
    }
    const out: TreeEntry[] = [];
    for (const d of dirents) {
      if (isHidden(d.name)) continue;
      let isDir = d.isDirectory();
      if (d.isSymbolicLink()) {
        const s = await stat(join(this.location, dir, d.name)).catch(() => undefined);
        if (!s) continue;
        isDir = s.isDirectory();
      }
      out.push({ name: d.name, isDir });
    }
    return sortEntries(out);
  }

  async isFile(path: string): Promise<boolean> {
    const s = await stat(join(this.location, path)).catch(() => undefined);
    return s?.isFile() ?? false;
  }

  readFile(path: string): Promise<Buffer> {
    return readFile(join(this.location, path));
  }

  display(path: string): string {
    return join(this.location, path);
  }
}

class ArchiveTree implements SourceTree {
  readonly kind = 'archive';
  private readonly dirs = new Map<string, Map<string, boolean>>([['', new Map()]]);

  constructor(
    readonly location: string,
    readonly sha256: string,
    private readonly files: Map<string, Buffer>,
    dirPaths: Iterable<string>,
  ) {
    for (const d of dirPaths) this.addDir(d);
    for (const f of files.keys()) {
      const slash = f.lastIndexOf('/');
      const parent = slash < 0 ? '' : f.slice(0, slash);
      this.addDir(parent);
      this.dirs.get(parent)!.set(f.slice(slash + 1), false);
    }
  }

  private addDir(path: string): void {
    if (this.dirs.has(path)) return;
    this.dirs.set(path, new Map());
    if (path === '') return;
    const slash = path.lastIndexOf('/');
    const parent = slash < 0 ? '' : path.slice(0, slash);
    this.addDir(parent);
    this.dirs.get(parent)!.set(path.slice(slash + 1), true);
  }

  async list(dir: string): Promise<TreeEntry[] | undefined> {
    const entries = this.dirs.get(dir);
    if (!entries) return undefined;
    const out: TreeEntry[] = [];
    for (const [name, isDir] of entries) if (!isHidden(name)) out.push({ name, isDir });
    return sortEntries(out);
  }

  async isFile(path: string): Promise<boolean> {
    return this.files.has(path);
  }

  async readFile(path: string): Promise<Buffer> {
    const data = this.files.get(path);
    if (!data) throw new DatasetError('BAD_LAYOUT', `${this.display(path)} does not exist`);
    return data;
  }

  display(path: string): string {
    return `${this.location}:${path}`;
  }
}

/** Normalizes a tar entry path: no leading `./` or `/`, no trailing `/`, no empty or `.` parts. */
function normalizeEntryPath(path: string): string | undefined {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return undefined;
  return parts.join('/');
}

/**
 * Reads a `.tar`, `.tar.gz` or `.tgz` archive into memory in one streaming
 * pass (file contents only, images still encoded: ~55 MB for CIFAR-10 as
 * JPEG) while hashing it. Archives larger than half the RAM are refused
 * (extract them and import the folder). A truncated or corrupt archive is a
 * `BAD_ARCHIVE` error naming the file.
 */
export async function readArchive(
  file: string,
  onProgress?: ProgressCallback,
): Promise<SourceTree> {
  const location = resolve(file);
  const size = (await stat(location)).size;
  if (size > totalmem() / 2) {
    throw new DatasetError(
      'BAD_SOURCE',
      `archive ${location} is ${Math.round(size / 2 ** 30)} GiB; archives are read into memory, so extract it and pass the folder instead`,
    );
  }
  const files = new Map<string, Buffer>();
  const dirs: string[] = [];
  const hash = createHash('sha256');
  let read = 0;
  let lastReport = 0;
  onProgress?.({ phase: 'read', done: 0, total: size, unit: 'bytes' });
  await new Promise<void>((done, fail) => {
    let settled = false;
    const finish = (err?: unknown) => {
      if (settled) return;
      settled = true;
      stream.destroy();
      if (err === undefined) done();
      else
        fail(
          new DatasetError(
            'BAD_ARCHIVE',
            `cannot read archive ${location}: ${errorMessage(err)} (the file is truncated or corrupt; download or copy it again)`,
            { cause: err },
          ),
        );
    };
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        const path = normalizeEntryPath(entry.path);
        if (path === undefined || path === '') {
          entry.resume();
          return;
        }
        if (entry.type === 'Directory') {
          dirs.push(path);
          entry.resume();
        } else if (
          entry.type === 'File' ||
          entry.type === 'OldFile' ||
          entry.type === 'ContiguousFile'
        ) {
          const chunks: Buffer[] = [];
          entry.on('data', (c: Buffer) => chunks.push(c));
          entry.on('end', () => {
            files.set(path, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
          });
        } else {
          entry.resume();
        }
      },
    });
    parser.on('error', (err: unknown) => finish(err));
    parser.on('end', () => finish());
    const stream = createReadStream(location, { highWaterMark: 1 << 20 });
    stream.on('data', (chunk) => {
      read += chunk.length;
      hash.update(chunk);
      if (read - lastReport >= 4 << 20 || read === size) {
        lastReport = read;
        onProgress?.({ phase: 'read', done: read, total: size, unit: 'bytes' });
      }
    });
    stream.on('error', (err) => finish(err));
    stream.pipe(parser as unknown as NodeJS.WritableStream);
  });
  if (files.size === 0) {
    throw new DatasetError('BAD_ARCHIVE', `archive ${location} contains no files`);
  }
  return new ArchiveTree(location, hash.digest('hex'), files, dirs);
}

/**
 * Opens `from` as a source: a folder, or an archive with a supported extension.
 * Anything else is a `BAD_SOURCE` error saying what is supported.
 */
export async function openSource(from: string, onProgress?: ProgressCallback): Promise<SourceTree> {
  const location = resolve(from);
  const s = await stat(location).catch(() => undefined);
  if (!s) throw new DatasetError('BAD_SOURCE', `source ${location} does not exist`);
  if (s.isDirectory()) return new FolderTree(location);
  const name = basename(location).toLowerCase();
  if (!ARCHIVE_EXTENSIONS.some((ext) => name.endsWith(ext))) {
    throw new DatasetError(
      'BAD_SOURCE',
      `unsupported source ${location}: expected a folder or a ${ARCHIVE_EXTENSIONS.join(' / ')} archive` +
        (name.endsWith('.zip') ? ' (unzip it and pass the folder)' : ''),
    );
  }
  return readArchive(location, onProgress);
}
