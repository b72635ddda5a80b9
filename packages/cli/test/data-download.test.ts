import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CIFAR10_BINARY_DOWNLOAD,
  type DownloadSource,
  defaultDownloadSources,
  downloadDataset,
  loadDataset,
  type ProgressEvent,
} from '../src/data/index.js';
import { ls, makeCifarBinary, makeTar, removeDir, tempDir } from './data-fixtures/fixtures.js';
import { dataDir, expectError, useTempWorkspace } from './data-fixtures/workspace.js';

/** A local HTTP server for one file, with Range support and scripted failures. */
interface Served {
  server: Server;
  url: string;
  body: Buffer;
  /** Range header of every request to the file. */
  ranges: (string | undefined)[];
  /** The next N responses send half of their body, then drop the connection. */
  interruptNext: number;
  /** Answer Range requests with the whole file (200), like servers without Range support. */
  ignoreRange: boolean;
}

let fixtures: string;
let served: Served;

beforeAll(async () => {
  fixtures = await tempDir();
  await makeCifarBinary(join(fixtures, 'src'), 10);
  const archive = await makeTar(join(fixtures, 'cifar-10-binary.tar.gz'), join(fixtures, 'src'), [
    'cifar-10-batches-bin',
  ]);
  const body = await readFile(archive);
  served = {
    server: undefined as unknown as Server,
    url: '',
    body,
    ranges: [],
    interruptNext: 0,
    ignoreRange: false,
  };
  served.server = createServer((req, res) => {
    if (req.url !== '/files/cifar-10-binary.tar.gz') {
      res.writeHead(404).end('not found');
      return;
    }
    served.ranges.push(req.headers.range);
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m && !served.ignoreRange ? Number(m[1]) : 0;
    if (start >= body.length) {
      res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
      return;
    }
    const headers: Record<string, string | number> = {
      'content-length': body.length - start,
      'accept-ranges': 'bytes',
    };
    if (start > 0) headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    res.writeHead(start > 0 ? 206 : 200, headers);
    const rest = body.subarray(start);
    if (served.interruptNext > 0) {
      served.interruptNext--;
      res.write(rest.subarray(0, Math.floor(rest.length / 2)), () =>
        setTimeout(() => res.socket?.destroy(), 20),
      );
      return;
    }
    res.end(rest);
  });
  await new Promise<void>((resolve) => served.server.listen(0, '127.0.0.1', resolve));
  served.url = `http://127.0.0.1:${(served.server.address() as AddressInfo).port}/files/cifar-10-binary.tar.gz`;
});
afterAll(async () => {
  await new Promise((resolve) => served.server.close(resolve));
  await removeDir(fixtures);
});
useTempWorkspace();
beforeEach(() => {
  served.ranges = [];
  served.interruptNext = 0;
  served.ignoreRange = false;
});

/** The fixture archive holds 10 records per .bin file, not the official 10,000. */
const small = { allowNonStandardCount: true };

function table(sha256?: string): Record<string, DownloadSource> {
  return {
    cifar10: {
      url: served.url,
      sha256: sha256 ?? createHash('sha256').update(served.body).digest('hex'),
      fileName: 'cifar-10-binary.tar.gz',
    },
  };
}

describe('downloadDataset', () => {
  it('the default table has the official CIFAR-10 binary release and its sha256', () => {
    expect(defaultDownloadSources()).toEqual({ cifar10: CIFAR10_BINARY_DOWNLOAD });
    expect(CIFAR10_BINARY_DOWNLOAD).toEqual({
      url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz',
      sha256: 'c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd',
      fileName: 'cifar-10-binary.tar.gz',
      size: 170052171,
    });
  });

  it('downloads, verifies the sha256, keeps the archive and imports it, with progress', async () => {
    const events: ProgressEvent[] = [];
    const r = await downloadDataset('cifar10', {
      dataDir,
      sources: table(),
      onProgress: (e) => events.push(e),
      importOptions: small,
    });
    expect(r.downloaded).toBe(true);
    expect(r.attempts).toBe(1);
    expect(r.bytes).toBe(served.body.length);
    expect(r.archive).toBe(join(dataDir, '.downloads', 'cifar-10-binary.tar.gz'));
    expect((await readFile(r.archive)).equals(served.body)).toBe(true);
    expect(await ls(join(dataDir, '.downloads'))).toEqual(['cifar-10-binary.tar.gz']);
    expect(r.import?.splits.train.count).toBe(50);
    expect((await loadDataset('cifar10', 'test', { dataDir })).meta.source.path).toBe(r.archive);
    const dl = events.filter((e) => e.phase === 'download');
    expect(dl.at(-1)).toMatchObject({
      done: served.body.length,
      total: served.body.length,
      unit: 'bytes',
    });
    for (let i = 1; i < dl.length; i++) expect(dl[i]!.done).toBeGreaterThanOrEqual(dl[i - 1]!.done);
    expect(events.some((e) => e.phase === 'checksum')).toBe(true);
    expect(events.some((e) => e.phase === 'decode' && e.split === 'train')).toBe(true);
    expect(served.ranges).toEqual([undefined]);
  });

  it('an interrupted transfer resumes with a Range request in the same call', async () => {
    served.interruptNext = 1;
    const r = await downloadDataset('cifar10', {
      dataDir,
      sources: table(),
      retryDelayMs: 0,
      importOptions: small,
    });
    expect(r.attempts).toBe(2);
    const half = Math.floor(served.body.length / 2);
    expect(served.ranges).toEqual([undefined, `bytes=${half}-`]);
    expect((await readFile(r.archive)).equals(served.body)).toBe(true);
    expect(r.import?.splits.test.count).toBe(10);
  });

  it('a failed call keeps the .part file and the next call resumes it', async () => {
    served.interruptNext = 1;
    const e = await expectError(
      downloadDataset('cifar10', { dataDir, sources: table(), retries: 0, importOptions: small }),
      'DOWNLOAD_FAILED',
      /failed after 1 attempt/,
      /run the download again to resume/,
    );
    const part = join(dataDir, '.downloads', 'cifar-10-binary.tar.gz.part');
    const half = Math.floor(served.body.length / 2);
    expect(e.message).toContain(`${half} bytes are kept in ${part}`);
    expect((await stat(part)).size).toBe(half);
    expect(await ls(dataDir)).toEqual(['.downloads']);
    const r = await downloadDataset('cifar10', { dataDir, sources: table(), importOptions: small });
    expect(r.resumedFrom).toBe(half);
    expect(served.ranges).toEqual([undefined, `bytes=${half}-`]);
    expect((await readFile(r.archive)).equals(served.body)).toBe(true);
    expect(await ls(join(dataDir, '.downloads'))).toEqual(['cifar-10-binary.tar.gz']);
  });

  it('a server that ignores Range restarts from zero and still gets the right file', async () => {
    served.interruptNext = 1;
    served.ignoreRange = true;
    const r = await downloadDataset('cifar10', {
      dataDir,
      sources: table(),
      retryDelayMs: 0,
      import: false,
    });
    expect(r.attempts).toBe(2);
    expect((await readFile(r.archive)).equals(served.body)).toBe(true);
    expect(r.import).toBeUndefined();
    expect(await ls(dataDir)).toEqual(['.downloads']);
  });

  it('a checksum mismatch is an error; the bad file is deleted and nothing is imported', async () => {
    const wrong = 'ab'.repeat(32);
    await expectError(
      downloadDataset('cifar10', { dataDir, sources: table(wrong) }),
      'CHECKSUM_MISMATCH',
      `expected ${wrong}, got ${createHash('sha256').update(served.body).digest('hex')}`,
      /file was deleted/,
    );
    expect(await ls(join(dataDir, '.downloads'))).toEqual([]);
    expect(await ls(dataDir)).toEqual(['.downloads']);
  });

  it('a verified archive already downloaded is reused without a request', async () => {
    await downloadDataset('cifar10', { dataDir, sources: table(), import: false });
    served.ranges = [];
    const r = await downloadDataset('cifar10', {
      dataDir,
      sources: table(),
      importOptions: { ...small, classes: 2 },
    });
    expect(r.downloaded).toBe(false);
    expect(served.ranges).toEqual([]);
    expect(r.import?.classNames).toEqual(['airplane', 'automobile']);
  });

  it('a server that never ends is stopped at the declared size, or at maxBytes when none is declared', async () => {
    // Streams 64 KB chunks (chunked encoding, no Content-Length) until the client goes away.
    let sent = 0;
    const endless = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 1);
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) sent += chunk.length;
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    });
    await new Promise<void>((r) => endless.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(endless.address() as AddressInfo).port}/endless.tar.gz`;
    const source = (size?: number) => ({
      cifar10: { url, sha256: 'ab'.repeat(32), fileName: 'endless.tar.gz', size },
    });
    const part = join(dataDir, '.downloads', 'endless.tar.gz.part');
    try {
      await expectError(
        downloadDataset('cifar10', { dataDir, sources: source(1_000_000), retryDelayMs: 0 }),
        'DOWNLOAD_FAILED',
        `${url} sent more than its declared size of 1000000 bytes; stopped after `,
        `bytes and deleted ${part}`,
      );
      expect(await ls(join(dataDir, '.downloads'))).toEqual([]);
      await expectError(
        downloadDataset('cifar10', {
          dataDir,
          sources: source(),
          maxBytes: 3 * 2 ** 20,
          retryDelayMs: 0,
        }),
        'DOWNLOAD_FAILED',
        `${url} sent more than the 3.00 MiB cap for a download of undeclared size (option maxBytes)`,
      );
      expect(await ls(join(dataDir, '.downloads'))).toEqual([]);
      expect(await ls(dataDir)).toEqual(['.downloads']);
      // The server stopped too: nowhere near what an unbounded client would have taken.
      expect(sent).toBeLessThan(64 * 2 ** 20);
    } finally {
      endless.closeAllConnections();
      await new Promise((r) => endless.close(r));
    }
  }, 20_000);

  it('HTTP errors and unreachable servers are clear errors', async () => {
    const sources = {
      cifar10: { ...table().cifar10!, url: served.url.replace('/files/', '/missing/') },
    };
    await expectError(
      downloadDataset('cifar10', { dataDir, sources }),
      'DOWNLOAD_FAILED',
      /HTTP 404 Not Found/,
    );
    const closed = { cifar10: { ...table().cifar10!, url: 'http://127.0.0.1:9/x.tar.gz' } };
    await expectError(
      downloadDataset('cifar10', { dataDir, sources: closed, retries: 1, retryDelayMs: 0 }),
      'DOWNLOAD_FAILED',
      /failed after 2 attempts/,
    );
  });

  it('datasets without a download say what to do instead; unknown names list the known ones', async () => {
    await expectError(
      downloadDataset('tiny-imagenet-10', { dataDir }),
      'BAD_OPTION',
      /\.zip/,
      /trit data import tiny-imagenet-10 --from/,
    );
    await expectError(
      downloadDataset('cifar10-sample', { dataDir }),
      'BAD_OPTION',
      /ships with the package/,
    );
    await expectError(
      downloadDataset('mnist', { dataDir }),
      'UNKNOWN_DATASET',
      /known datasets: cifar10/,
    );
    await expectError(
      downloadDataset('cifar10', { dataDir, sources: table('xyz') }),
      'BAD_OPTION',
      /sha256 must be 64 hex digits/,
    );
  });
});
