import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatBytes } from '@trit/quant-core';
import { DatasetError, errorMessage } from './errors.js';
import { dataDirArg } from './hints.js';
import { type ImportOptions, type ImportResult, importDataset } from './import.js';
import { checkKeys, checkPositiveInt } from './options.js';
import { resolveDataDir } from './paths.js';
import { type DownloadSource, getDatasetPreset, listDatasetPresets } from './presets.js';
import type { ProgressCallback } from './progress.js';

/** The built-in URL/checksum table: every preset with an official download. */
export function defaultDownloadSources(): Record<string, DownloadSource> {
  const out: Record<string, DownloadSource> = {};
  for (const p of listDatasetPresets()) if (p.download) out[p.name] = p.download;
  return out;
}

export interface DownloadOptions {
  readonly dataDir?: string;
  /** URL/checksum table used instead of {@link defaultDownloadSources} (mirrors, tests). */
  readonly sources?: Readonly<Record<string, DownloadSource>>;
  readonly onProgress?: ProgressCallback;
  /** Extra attempts after a failed transfer; each resumes where the last stopped (default 3). */
  readonly retries?: number;
  /** Wait before retry k is retryDelayMs * 2^k (default 1000). */
  readonly retryDelayMs?: number;
  /** Abort a transfer that receives nothing for this long (default 60000). */
  readonly idleTimeoutMs?: number;
  /**
   * Most bytes accepted when neither the source nor the server declares the
   * size (default 4 GiB). A declared size (the source's `size`, the server's
   * Content-Length or Content-Range) is always a hard limit.
   */
  readonly maxBytes?: number;
  /** Import after downloading (default true). */
  readonly import?: boolean;
  /** Options for that import. */
  readonly importOptions?: Omit<ImportOptions, 'from' | 'dataDir' | 'onProgress'>;
  /** fetch implementation (default: the global fetch). */
  readonly fetch?: typeof fetch;
}

const DOWNLOAD_KEYS = [
  'dataDir',
  'sources',
  'onProgress',
  'retries',
  'retryDelayMs',
  'idleTimeoutMs',
  'maxBytes',
  'import',
  'importOptions',
  'fetch',
];

export interface DownloadResult {
  readonly url: string;
  /** The verified archive, kept under `<dataDir>/.downloads/`. */
  readonly archive: string;
  readonly bytes: number;
  readonly sha256: string;
  /** False when a verified archive was already there. */
  readonly downloaded: boolean;
  /** Bytes already on disk (a `.part` file) when the download started. */
  readonly resumedFrom: number;
  /** HTTP transfers made (1 + retries used). */
  readonly attempts: number;
  readonly import: ImportResult | undefined;
}

/** A transfer problem worth another attempt (network error, early close, stall). */
class Retryable extends Error {}

/** Folder of downloaded archives inside the cache. */
export function downloadsDir(dataDir: string): string {
  return join(dataDir, '.downloads');
}

/**
 * Downloads a dataset's official archive into `<dataDir>/.downloads/`, then
 * imports it. The transfer goes to `<file>.part` and resumes with an HTTP
 * Range request after an interruption (within this call, up to `retries`
 * times, and across calls); the finished file must match the published
 * sha256 — on a mismatch the file is deleted and the call fails.
 */
export async function downloadDataset(
  name: string,
  options: DownloadOptions = {},
): Promise<DownloadResult> {
  const owner = `downloadDataset(${JSON.stringify(name)})`;
  const preset = getDatasetPreset(name);
  checkKeys(owner, options, DOWNLOAD_KEYS);
  const dataDir = resolveDataDir(options.dataDir);
  const source = (options.sources ?? defaultDownloadSources())[name];
  if (!source) {
    throw new DatasetError(
      'BAD_OPTION',
      `there is no download for ${name}${preset.downloadNote ? `: ${preset.downloadNote}` : ''}. ` +
        `Import it from a local copy: trit data import ${name} --from <${preset.sourceHint}>${dataDirArg(dataDir)}`,
    );
  }
  const sha256 = source.sha256.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(sha256)) {
    throw new DatasetError(
      'BAD_OPTION',
      `${owner}: sha256 must be 64 hex digits, got ${JSON.stringify(source.sha256)}`,
    );
  }
  if (!/^[A-Za-z0-9._-]+$/.test(source.fileName)) {
    throw new DatasetError(
      'BAD_OPTION',
      `${owner}: invalid fileName ${JSON.stringify(source.fileName)}`,
    );
  }
  const retries = options.retries ?? 3;
  const retryDelayMs = options.retryDelayMs ?? 1000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  const maxBytes = checkPositiveInt(owner, 'maxBytes', options.maxBytes) ?? DEFAULT_MAX_BYTES;
  const fetchImpl = options.fetch ?? globalThis.fetch;

  const dir = downloadsDir(dataDir);
  await mkdir(dir, { recursive: true });
  const archive = join(dir, source.fileName);
  const part = `${archive}.part`;
  let downloaded = false;
  let attempts = 0;
  let resumedFrom = 0;

  const existing = await stat(archive).catch(() => undefined);
  if (existing && (await hashFile(archive, options.onProgress)) === sha256) {
    // Verified earlier download: reuse it.
  } else {
    if (existing) await rm(archive, { force: true });
    resumedFrom = (await stat(part).catch(() => undefined))?.size ?? 0;
    for (;;) {
      attempts++;
      try {
        await transfer(fetchImpl, source, part, idleTimeoutMs, maxBytes, options.onProgress);
        break;
      } catch (err) {
        if (!(err instanceof Retryable) || attempts > retries) {
          if (err instanceof DatasetError) throw err;
          const kept = (await stat(part).catch(() => undefined))?.size ?? 0;
          throw new DatasetError(
            'DOWNLOAD_FAILED',
            `download of ${source.url} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${errorMessage(err)}` +
              (kept > 0
                ? `; ${kept} bytes are kept in ${part}, run the download again to resume`
                : ''),
            { cause: err },
          );
        }
        await sleep(retryDelayMs * 2 ** (attempts - 1));
      }
    }
    const got = await hashFile(part, options.onProgress);
    if (got !== sha256) {
      await rm(part, { force: true });
      throw new DatasetError(
        'CHECKSUM_MISMATCH',
        `sha256 mismatch for ${source.url}: expected ${sha256}, got ${got}. The file was deleted; run the download again ` +
          '(if it keeps failing, the server is serving a different file)',
      );
    }
    await rename(part, archive);
    downloaded = true;
  }
  const bytes = (await stat(archive)).size;
  const imported =
    options.import === false
      ? undefined
      : await importDataset(name, {
          ...options.importOptions,
          from: archive,
          dataDir,
          onProgress: options.onProgress,
        });
  return {
    url: source.url,
    archive,
    bytes,
    sha256,
    downloaded,
    resumedFrom,
    attempts,
    import: imported,
  };
}

/** Download cap when no size is declared anywhere. */
const DEFAULT_MAX_BYTES = 4 * 2 ** 30;

/** sha256 of a file, streamed, with `checksum` progress. */
async function hashFile(path: string, onProgress?: ProgressCallback): Promise<string> {
  const total = (await stat(path)).size;
  const hash = createHash('sha256');
  let done = 0;
  let last = 0;
  onProgress?.({ phase: 'checksum', done: 0, total, unit: 'bytes' });
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    done += (chunk as Buffer).length;
    if (done - last >= 16 << 20 || done === total) {
      last = done;
      onProgress?.({ phase: 'checksum', done, total, unit: 'bytes' });
    }
  }
  return hash.digest('hex');
}

/** One HTTP transfer into `part`, resuming from its current size. */
async function transfer(
  fetchImpl: typeof fetch,
  source: DownloadSource,
  part: string,
  idleTimeoutMs: number,
  maxBytes: number,
  onProgress: ProgressCallback | undefined,
): Promise<void> {
  let have = (await stat(part).catch(() => undefined))?.size ?? 0;
  if (source.size !== undefined && have > source.size) {
    await rm(part, { force: true });
    have = 0;
  }
  if (source.size !== undefined && have === source.size) return; // complete: the checksum decides
  const controller = new AbortController();
  let timer = setTimeout(() => controller.abort(), idleTimeoutMs);
  // identity: the declared length is then the length of the bytes written (no decompression bomb).
  const headers: Record<string, string> = {
    'user-agent': 'trit-benchmark',
    'accept-encoding': 'identity',
  };
  if (have > 0) headers.range = `bytes=${have}-`;
  try {
    let res: Response;
    try {
      res = await fetchImpl(source.url, { headers, signal: controller.signal, redirect: 'follow' });
    } catch (err) {
      throw new Retryable(errorMessage((err as Error).cause ?? err));
    }
    if (res.status === 416 && have > 0) {
      await res.body?.cancel();
      return; // the server has nothing past our bytes: the checksum decides
    }
    let start = 0;
    let total: number | undefined;
    if (res.status === 206) {
      const m = /bytes\s+(\d+)-(\d+)\/(\d+|\*)/.exec(res.headers.get('content-range') ?? '');
      if (!m || Number(m[1]) !== have) {
        await res.body?.cancel();
        await rm(part, { force: true });
        throw new Retryable(
          `server resumed at the wrong offset (${res.headers.get('content-range')}); restarting`,
        );
      }
      start = have;
      total = m[3] === '*' ? undefined : Number(m[3]);
    } else if (res.status === 200) {
      const length = res.headers.get('content-length');
      total = length !== null ? Number(length) : source.size;
    } else {
      await res.body?.cancel();
      const message = `HTTP ${res.status} ${res.statusText} from ${source.url}`;
      if (res.status >= 500 || res.status === 408 || res.status === 429)
        throw new Retryable(message);
      throw new DatasetError('DOWNLOAD_FAILED', message);
    }
    if (!res.body) throw new Retryable('empty response body');
    // The file may not grow past its declared size (the smallest one declared), or the cap.
    const declared = [source.size, total].filter((n): n is number => n !== undefined);
    const limit = declared.length > 0 ? Math.min(...declared) : maxBytes;
    const limitText =
      declared.length > 0
        ? `its declared size of ${limit} bytes`
        : `the ${formatBytes(limit)} cap for a download of undeclared size (option maxBytes)`;
    const file = await open(part, start > 0 ? 'a' : 'w');
    let done = start;
    let last = 0;
    let overflow = false;
    onProgress?.({ phase: 'download', done, total, unit: 'bytes', resumedFrom: start });
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        clearTimeout(timer);
        timer = setTimeout(() => controller.abort(), idleTimeoutMs);
        if (done + chunk.length > limit) {
          overflow = true;
          break; // ends the iteration, which cancels the response body
        }
        await file.write(chunk);
        done += chunk.length;
        if (done - last >= 1 << 20 || done === total) {
          last = done;
          onProgress?.({ phase: 'download', done, total, unit: 'bytes', resumedFrom: start });
        }
      }
    } catch (err) {
      throw new Retryable(
        `transfer interrupted after ${done}${total !== undefined ? ` of ${total}` : ''} bytes: ${errorMessage((err as Error).cause ?? err)}`,
      );
    } finally {
      await file.close();
    }
    if (overflow) {
      controller.abort();
      await rm(part, { force: true });
      throw new DatasetError(
        'DOWNLOAD_FAILED',
        `${source.url} sent more than ${limitText}; stopped after ${done} bytes and deleted ${part} ` +
          '(the server is misbehaving or serving another file)',
      );
    }
    onProgress?.({ phase: 'download', done, total, unit: 'bytes', resumedFrom: start });
    if (total !== undefined && done !== total) {
      throw new Retryable(`connection closed after ${done} of ${total} bytes`);
    }
  } finally {
    clearTimeout(timer);
  }
}
