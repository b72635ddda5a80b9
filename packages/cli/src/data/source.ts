import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir, realpath, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { formatBytes } from '@trit/quant-core';
import { Parser, type ReadEntry } from 'tar';
import { DatasetError, errorMessage } from './errors.js';
import { naturalCompare } from './natural-sort.js';
import type { ProgressCallback } from './progress.js';

/** One name inside a folder of a {@link SourceTree}. */
export interface TreeEntry {
  readonly name: string;
  readonly isDir: boolean;
}

/** The most bytes a file may have, and what kind of file it is (for the error message). */
export interface ByteCap {
  readonly bytes: number;
  /** e.g. `an image file of a 32x32 dataset`, `an index file`. */
  readonly what: string;
}

/**
 * A read-only file tree: an extracted folder on disk, or a tar archive read
 * in streaming passes. Paths are relative, `/`-separated, `''` = root.
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
  /** Size in bytes of file `path`, or undefined if it is not a file. */
  fileSize(path: string): Promise<number | undefined>;
  /**
   * Makes `files` readable, checking every size against its cap first.
   * Archives read their bytes now, in one more streaming pass that keeps only
   * these entries; folders read each file when it is asked for.
   */
  load(files: ReadonlyMap<string, ByteCap>, onProgress?: ProgressCallback): Promise<void>;
  /** The bytes of `path`; a file larger than `cap` is a `TOO_LARGE` error (nothing is read). */
  readFile(path: string, cap: ByteCap): Promise<Buffer>;
  /** How to name `path` in messages (absolute path, or `archive.tar.gz:inner/path`). */
  display(path: string): string;
}

export const ARCHIVE_EXTENSIONS = ['.tar.gz', '.tgz', '.tar'] as const;

/**
 * Most bytes of archive entries held in memory by one import. Selected
 * entries above it are refused before they are read: extract the archive and
 * import the folder (folders are read one file at a time).
 */
export const ARCHIVE_MEMORY_BUDGET = 512 * 2 ** 20;

/** Largest index file (`wnids.txt`, `val_annotations.txt`, `words.txt`, ...) read. */
export const INDEX_FILE_CAP: ByteCap = { bytes: 16 * 2 ** 20, what: 'an index file' };

/** Most bytes of index files an archive scan keeps (several copies of them at most). */
const INDEX_BUDGET = 64 * 2 ** 20;

export function joinPath(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('/');
}

function isHidden(name: string): boolean {
  return name.startsWith('.') || name === '__MACOSX';
}

function sortEntries(entries: TreeEntry[]): TreeEntry[] {
  return entries.sort((a, b) => naturalCompare(a.name, b.name));
}

function tooLarge(where: string, size: number, cap: ByteCap): DatasetError {
  return new DatasetError(
    'TOO_LARGE',
    `${where} is ${formatBytes(size)} (${size} bytes), more than the ${formatBytes(cap.bytes)} (${cap.bytes} bytes) allowed for ${cap.what}`,
  );
}

/** Whether `child` is `root` or inside it (both absolute and normalized). */
function isInside(root: string, child: string): boolean {
  const rel = relative(root, child);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

class FolderTree implements SourceTree {
  readonly kind = 'folder';
  readonly sha256 = null;
  /**
   * @param location the folder as given (resolved), used in messages
   * @param real its real path (symbolic links resolved), the boundary every read must stay in
   */
  constructor(
    readonly location: string,
    private readonly real: string,
  ) {}

  /**
   * The real path of `path` (undefined if it does not exist), which must stay
   * inside the source folder both as written and once symbolic links are
   * resolved: paths built from index files (`../../outside`) or links pointing
   * elsewhere are errors, never read.
   */
  private async inside(path: string): Promise<string | undefined> {
    const full = resolve(this.location, path);
    if (!isInside(this.location, full)) {
      throw new DatasetError(
        'BAD_SOURCE',
        `${JSON.stringify(path)} points outside the source folder ${this.location}; nothing outside it is read`,
      );
    }
    let real: string;
    try {
      real = await realpath(full);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return undefined;
      throw err;
    }
    if (!isInside(this.real, real)) {
      throw new DatasetError(
        'BAD_SOURCE',
        `${full} leads to ${real}, outside the source folder ${this.location} (a symbolic link); ` +
          'nothing outside the source is read: copy the files into it or import their real folder',
      );
    }
    return real;
  }

  async list(dir: string): Promise<TreeEntry[] | undefined> {
    const real = await this.inside(dir);
    if (real === undefined) return undefined;
    let dirents: import('node:fs').Dirent[];
    try {
      dirents = await readdir(real, { withFileTypes: true });
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
        const s = await stat(join(real, d.name)).catch(() => undefined);
        if (!s) continue;
        isDir = s.isDirectory();
      }
      out.push({ name: d.name, isDir });
    }
    return sortEntries(out);
  }

  async isFile(path: string): Promise<boolean> {
    return (await this.fileSize(path)) !== undefined;
  }

  async fileSize(path: string): Promise<number | undefined> {
    const real = await this.inside(path);
    if (real === undefined) return undefined;
    const s = await stat(real).catch(() => undefined);
    return s?.isFile() ? s.size : undefined;
  }

  async load(files: ReadonlyMap<string, ByteCap>): Promise<void> {
    // Files are read one at a time by readFile (which checks again); check
    // paths and sizes here, so an escape or an oversized file fails before
    // any image is decoded.
    for (const [path, cap] of files) {
      const size = await this.fileSize(path);
      if (size === undefined) {
        throw new DatasetError('BAD_LAYOUT', `${this.display(path)} does not exist`);
      }
      if (size > cap.bytes) throw tooLarge(this.display(path), size, cap);
    }
  }

  async readFile(path: string, cap: ByteCap): Promise<Buffer> {
    const real = await this.inside(path);
    if (real === undefined) {
      throw new DatasetError('BAD_LAYOUT', `${this.display(path)} does not exist`);
    }
    const handle = await open(real, 'r');
    try {
      const { size } = await handle.stat();
      if (size > cap.bytes) throw tooLarge(this.display(path), size, cap);
      // Read at most cap + 1 bytes: a file growing after the stat cannot exceed the cap either.
      const buf = Buffer.allocUnsafe(size + 1);
      let got = 0;
      for (;;) {
        const { bytesRead } = await handle.read(buf, got, buf.length - got, got);
        if (bytesRead === 0) break;
        got += bytesRead;
        if (got > cap.bytes) throw tooLarge(this.display(path), got, cap);
        if (got === buf.length) break;
      }
      return buf.subarray(0, got);
    } finally {
      await handle.close();
    }
  }

  display(path: string): string {
    return join(this.location, path);
  }
}

/** A tar entry the scan or the extraction keeps in memory, with its bytes. */
interface HeldFile {
  readonly size: number;
  data: Buffer | undefined;
}

class ArchiveTree implements SourceTree {
  readonly kind = 'archive';
  private readonly dirs = new Map<string, Map<string, boolean>>([['', new Map()]]);

  constructor(
    readonly location: string,
    readonly sha256: string,
    /** Every regular file of the archive (size from its header; bytes only once held). */
    private readonly files: Map<string, HeldFile>,
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

  async fileSize(path: string): Promise<number | undefined> {
    return this.files.get(path)?.size;
  }

  async load(wanted: ReadonlyMap<string, ByteCap>, onProgress?: ProgressCallback): Promise<void> {
    // Every size is known from the scan: refuse oversized entries, and a
    // selection larger than the memory budget, before reading anything.
    let total = 0;
    const missing = new Map<string, ByteCap>();
    for (const [path, cap] of wanted) {
      const held = this.files.get(path);
      if (!held) throw new DatasetError('BAD_LAYOUT', `${this.display(path)} does not exist`);
      if (held.size > cap.bytes) throw tooLarge(this.display(path), held.size, cap);
      if (held.data === undefined) {
        missing.set(path, cap);
        total += held.size;
      }
    }
    if (missing.size === 0) return;
    if (total > ARCHIVE_MEMORY_BUDGET) {
      throw new DatasetError(
        'TOO_LARGE',
        `the ${missing.size} files to import from ${this.location} take ${formatBytes(total)}, more than the ` +
          `${formatBytes(ARCHIVE_MEMORY_BUDGET)} an import holds in memory from an archive; extract the archive and import the folder`,
      );
    }
    const got = new Map<string, Buffer>();
    const sha256 = await streamArchive(
      this.location,
      (path, entry) => {
        const cap = missing.get(path);
        if (!cap) return false;
        // A later copy of the same path replaces an earlier one (tar semantics): check each.
        if (entry.size > cap.bytes) throw tooLarge(this.display(path), entry.size, cap);
        return true;
      },
      (path, data) => got.set(path, data),
      'extract',
      onProgress,
    );
    if (sha256 !== this.sha256) {
      throw new DatasetError(
        'BAD_ARCHIVE',
        `archive ${this.location} changed while it was being imported (sha256 ${this.sha256} at the scan, ${sha256} now); import it again once it is complete`,
      );
    }
    for (const [path, data] of got) this.files.get(path)!.data = data;
  }

  async readFile(path: string, cap: ByteCap): Promise<Buffer> {
    const held = this.files.get(path);
    if (!held) throw new DatasetError('BAD_LAYOUT', `${this.display(path)} does not exist`);
    if (held.size > cap.bytes) throw tooLarge(this.display(path), held.size, cap);
    if (held.data === undefined) {
      throw new Error(`ArchiveTree: ${this.display(path)} was read before load()`);
    }
    return held.data;
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
 * One streaming pass over a `.tar`, `.tar.gz` or `.tgz` archive: hashes the
 * file, calls `onEntry` for every regular file (return true to keep its bytes,
 * which then go to `onData`; throw to stop the pass), and discards the bytes
 * of every other entry as they stream by, so memory holds only what is kept.
 * A truncated or corrupt archive is a `BAD_ARCHIVE` error naming the file.
 * Returns the archive's sha256.
 */
async function streamArchive(
  location: string,
  onEntry: (path: string, entry: ReadEntry) => boolean,
  onData: (path: string, data: Buffer) => void,
  phase: 'read' | 'extract',
  onProgress?: ProgressCallback,
  onDir?: (path: string) => void,
): Promise<string> {
  const size = (await stat(location)).size;
  const hash = createHash('sha256');
  let read = 0;
  let lastReport = 0;
  onProgress?.({ phase, done: 0, total: size, unit: 'bytes' });
  await new Promise<void>((done, fail) => {
    let settled = false;
    const finish = (err?: unknown) => {
      if (settled) return;
      settled = true;
      stream.destroy();
      if (err === undefined) done();
      else if (err instanceof DatasetError) fail(err);
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
        if (settled || path === undefined || path === '') {
          entry.resume();
          return;
        }
        if (entry.type === 'Directory') {
          onDir?.(path);
          entry.resume();
          return;
        }
        if (entry.type !== 'File' && entry.type !== 'OldFile' && entry.type !== 'ContiguousFile') {
          entry.resume();
          return;
        }
        let keep: boolean;
        try {
          keep = onEntry(path, entry);
        } catch (err) {
          entry.resume();
          finish(err);
          return;
        }
        if (!keep) {
          entry.resume();
          return;
        }
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        // Copied out of the parser's chunks, which also hold bytes of the entries around it.
        entry.on('end', () => onData(path, Buffer.concat(chunks)));
      },
    });
    parser.on('error', (err: unknown) => finish(err));
    parser.on('end', () => finish());
    // Small reads bound the memory of one step: zlib inflates each chunk in one
    // go, and 1 MB of a gzipped run of zeros is about 1 GB of output.
    const stream = createReadStream(location, { highWaterMark: 64 << 10 });
    stream.on('data', (chunk) => {
      read += chunk.length;
      hash.update(chunk);
      if (read - lastReport >= 4 << 20 || read === size) {
        lastReport = read;
        onProgress?.({ phase, done: read, total: size, unit: 'bytes' });
      }
    });
    stream.on('error', (err) => finish(err));
    stream.pipe(parser as unknown as NodeJS.WritableStream);
  });
  return hash.digest('hex');
}

/**
 * Scans a `.tar`, `.tar.gz` or `.tgz` archive in one streaming pass while
 * hashing it: records every file's path and size, but keeps the bytes of
 * index files only (base names in `indexFiles`, up to {@link INDEX_FILE_CAP}
 * each). The files an import needs are read later by `load()`, in a second
 * pass, so neither pass ever holds an entry nobody uses (a 1.5 GB member
 * streams through in 1 MB pieces). A truncated or corrupt archive is a
 * `BAD_ARCHIVE` error naming the file.
 */
export async function readArchive(
  file: string,
  options: { onProgress?: ProgressCallback; indexFiles?: ReadonlySet<string> } = {},
): Promise<SourceTree> {
  const location = resolve(file);
  const files = new Map<string, HeldFile>();
  const dirs: string[] = [];
  const indexFiles = options.indexFiles ?? new Set<string>();
  let indexBytes = 0;
  const sha256 = await streamArchive(
    location,
    (path, entry) => {
      const size = entry.size ?? 0;
      files.set(path, { size, data: undefined });
      const name = path.slice(path.lastIndexOf('/') + 1);
      if (!indexFiles.has(name) || size > INDEX_FILE_CAP.bytes) return false;
      indexBytes += size;
      if (indexBytes > INDEX_BUDGET) {
        throw new DatasetError(
          'TOO_LARGE',
          `archive ${location} holds more than ${formatBytes(INDEX_BUDGET)} of index files (${[...indexFiles].join(', ')}), the most an import reads; at ${location}:${path}`,
        );
      }
      return true;
    },
    (path, data) => {
      const held = files.get(path);
      if (held) held.data = data;
    },
    'read',
    options.onProgress,
    (path) => dirs.push(path),
  );
  if (files.size === 0) {
    throw new DatasetError('BAD_ARCHIVE', `archive ${location} contains no files`);
  }
  return new ArchiveTree(location, sha256, files, dirs);
}

/**
 * Opens `from` as a source: a folder, or an archive with a supported extension.
 * Anything else is a `BAD_SOURCE` error saying what is supported.
 */
export async function openSource(
  from: string,
  options: { onProgress?: ProgressCallback; indexFiles?: ReadonlySet<string> } = {},
): Promise<SourceTree> {
  const location = resolve(from);
  const s = await stat(location).catch(() => undefined);
  if (!s) throw new DatasetError('BAD_SOURCE', `source ${location} does not exist`);
  if (s.isDirectory()) return new FolderTree(location, await realpath(location));
  const name = basename(location).toLowerCase();
  if (!ARCHIVE_EXTENSIONS.some((ext) => name.endsWith(ext))) {
    throw new DatasetError(
      'BAD_SOURCE',
      `unsupported source ${location}: expected a folder or a ${ARCHIVE_EXTENSIONS.join(' / ')} archive` +
        (name.endsWith('.zip') ? ' (unzip it and pass the folder)' : ''),
    );
  }
  return readArchive(location, options);
}
