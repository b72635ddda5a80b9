/**
 * Hostile files and servers: a manifest that points the loader elsewhere,
 * manifests and binaries too large or endless, and models that would be
 * saved but not load. Every case is a clear TritFormatError before the
 * request, the read or the write it guards.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeModel,
  type GraphSpec,
  loadModel,
  MAX_MANIFEST_BYTES,
  parseManifest,
  TritFormatError,
} from '../src/index.js';
import { loadModelFromDir, saveModel } from '../src/node.js';
import { smallGraph } from './fixtures.js';
import { floatKernel, rng, uniform } from './helpers.js';

let dir: string;
let server: Server;
let base: string;
/** Every request the server saw: path and the Authorization header. */
const requests: { url: string; auth: string | undefined }[] = [];
/** Custom responses by path; anything else is served from `dir`. */
const routes = new Map<string, (res: ServerResponse) => void>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trit-limits-'));
  server = createServer(async (req, res) => {
    const path = new URL(req.url!, 'http://x').pathname;
    requests.push({ url: path, auth: req.headers.authorization });
    const route = routes.get(path);
    if (route) return route(res);
    try {
      const body = await readFile(join(dir, decodeURIComponent(path)));
      res.writeHead(200, { 'content-length': body.length }).end(body);
    } catch {
      res.writeHead(404, 'Not Found').end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

async function failure(p: Promise<unknown>): Promise<TritFormatError> {
  const e = await p.then(
    () => new Error('expected a TritFormatError, but the call succeeded'),
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(TritFormatError);
  return e as TritFormatError;
}

/** The small model's manifest with `binary.file` replaced, as JSON text. */
function manifestWithFile(file: string): string {
  const { manifest } = encodeModel(smallGraph());
  return JSON.stringify({ ...manifest, binary: { ...manifest.binary, file } });
}

/** Writes a sparse file of `size` bytes (no disk space used) and returns its path. */
async function sparseFile(path: string, size: number): Promise<string> {
  const h = await open(path, 'w');
  await h.truncate(size);
  await h.close();
  return path;
}

const ESCAPES = [
  'http://evil.example/model.bin',
  '//evil.example/model.bin',
  'file:///etc/passwd',
  '../model.bin',
  '..',
  '.',
  'sub/model.bin',
  '/model.bin',
  '..\\model.bin',
  '%2e%2e/model.bin',
  '%2e%2e',
  'model.bin?x=1',
  'model.bin#x',
  'C:model.bin',
];

describe('binary.file must be a plain file name next to the manifest', () => {
  it.each(ESCAPES)(
    'loadModel refuses %j before requesting it, with no credentials sent elsewhere',
    async (file) => {
      await mkdir(join(dir, 'esc'), { recursive: true });
      await writeFile(join(dir, 'esc', 'model.json'), manifestWithFile(file));
      const fetched: string[] = [];
      const e = await failure(
        loadModel(`${base}/esc/model.json`, {
          fetch: (url, init) => {
            fetched.push(url);
            return fetch(url, init);
          },
          requestInit: { headers: { authorization: 'Bearer secret' } },
        }),
      );
      expect(e.code).toBe('bad-manifest');
      expect(e.message).toContain(
        `manifest.binary.file: expected a plain file name next to the manifest`,
      );
      expect(fetched).toEqual([`${base}/esc/model.json`]);
    },
  );

  it.each(ESCAPES)('loadModelFromDir refuses %j before reading it', async (file) => {
    const d = join(dir, 'disk-esc');
    await mkdir(join(d, 'sub'), { recursive: true });
    // Files an escape could reach: the parent folder's and a sub-folder's model.bin.
    await saveModel(d, smallGraph());
    await saveModel(join(d, 'sub'), smallGraph());
    await writeFile(join(d, 'model.json'), manifestWithFile(file));
    const e = await failure(loadModelFromDir(d));
    expect(e.code).toBe('bad-manifest');
    expect(e.message).toMatch(/manifest\.binary\.file: expected a plain file name/);
  });

  it('parseManifest and decodeModel apply the same rule; plain names (dots, dashes) pass', () => {
    const { manifest } = encodeModel(smallGraph());
    for (const file of ['model.bin', 'resnet-20_v2.bin', '...bin', 'a']) {
      expect(parseManifest({ ...manifest, binary: { ...manifest.binary, file } }).binary.file).toBe(
        file,
      );
    }
    expect(() => encodeModel(smallGraph(), { binaryFile: '../x.bin' })).toThrow(
      /manifest\.binary\.file: expected a plain file name/,
    );
  });

  it('the caller’s requestInit reaches the manifest’s origin only, for both files', async () => {
    await saveModel(join(dir, 'auth'), smallGraph());
    requests.length = 0;
    const model = await loadModel(`${base}/auth/model.json`, {
      requestInit: { headers: { authorization: 'Bearer secret' } },
    });
    expect(model.outputs[0]!.name).toBe('probs');
    expect(requests).toEqual([
      { url: '/auth/model.json', auth: 'Bearer secret' },
      { url: '/auth/model.bin', auth: 'Bearer secret' },
    ]);
  });
});

describe('manifest size limit', () => {
  /** A valid manifest padded with metadata to more than `bytes`. */
  function bigManifest(bytes: number): string {
    const { manifest } = encodeModel(smallGraph());
    return JSON.stringify({ ...manifest, metadata: { padding: 'x'.repeat(bytes) } });
  }

  it('is 4 MiB by default, and stated in the error', () => {
    expect(MAX_MANIFEST_BYTES).toBe(4 * 1024 * 1024);
  });

  it('loadModel refuses a manifest over the limit from its Content-Length, before reading it', async () => {
    await saveModel(join(dir, 'big'), smallGraph());
    await writeFile(join(dir, 'big', 'model.json'), bigManifest(MAX_MANIFEST_BYTES));
    requests.length = 0;
    const e = await failure(loadModel(`${base}/big/model.json`));
    expect(e.code).toBe('too-large');
    expect(e.message).toMatch(
      /^the manifest at http:.*\/big\/model\.json is \d+ bytes \(Content-Length\), over the 4194304-byte limit/,
    );
    expect(e.message).toContain('maxManifestBytes');
    expect(requests.map((r) => r.url)).toEqual(['/big/model.json']);
    // A caller who expects a manifest this large says so.
    const model = await loadModel(`${base}/big/model.json`, { maxManifestBytes: 8 * 1024 * 1024 });
    expect(model.outputs[0]!.name).toBe('probs');
  });

  it('loadModel stops reading an endless manifest (no Content-Length) at the limit', async () => {
    let sent = 0;
    routes.set('/endless/model.json', (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, '[');
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) sent += chunk.length;
        if (!res.destroyed) res.once('drain', pump);
      };
      res.on('close', () => res.removeAllListeners('drain'));
      pump();
    });
    const e = await failure(loadModel(`${base}/endless/model.json`, { maxManifestBytes: 1 << 20 }));
    expect(e.code).toBe('too-large');
    expect(e.message).toMatch(
      /is more than 1048576 bytes \(\d+ received so far\), over the 1048576-byte limit/,
    );
    // Bounded by the limit plus what sat in the socket buffers, not by the server.
    expect(sent).toBeLessThan(64 << 20);
  });

  it('loadModel stops reading a binary that goes past the manifest’s byteLength', async () => {
    await saveModel(join(dir, 'endless-bin'), smallGraph());
    routes.set('/endless-bin/model.bin', (res) => {
      res.writeHead(200);
      const chunk = Buffer.alloc(64 * 1024);
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) {}
        if (!res.destroyed) res.once('drain', pump);
      };
      res.on('close', () => res.removeAllListeners('drain'));
      pump();
    });
    const { manifest } = encodeModel(smallGraph());
    const e = await failure(loadModel(`${base}/endless-bin/model.json`));
    expect(e.code).toBe('size-mismatch');
    expect(e.message).toMatch(
      new RegExp(
        `the binary at .*/endless-bin/model\\.bin has more than ${manifest.binary.byteLength} bytes \\(\\d+ received so far\\), the manifest expects ${manifest.binary.byteLength}`,
      ),
    );
  });

  it('loadModelFromDir refuses a 600 MB model.json from its size, without reading it', async () => {
    const d = join(dir, 'huge-disk');
    await saveModel(d, smallGraph());
    await sparseFile(join(d, 'model.json'), 600 * 1024 * 1024);
    const e = await failure(loadModelFromDir(d));
    expect(e.code).toBe('too-large');
    expect(e.message).toBe(
      `the manifest ${join(d, 'model.json')} is 629145600 bytes, over the 4194304-byte limit of a trit model ` +
        'manifest (a ResNet-20 manifest takes about 8 KB); not reading it. If it is a genuine manifest, ' +
        'pass { maxManifestBytes } to raise the limit',
    );
  });

  it('loadModelFromDir refuses a binary of the wrong size before reading it', async () => {
    const d = join(dir, 'huge-bin');
    await saveModel(d, smallGraph());
    const expected = encodeModel(smallGraph()).manifest.binary.byteLength;
    await sparseFile(join(d, 'model.bin'), 3 * 1024 * 1024 * 1024);
    const big = await failure(loadModelFromDir(d));
    expect(big.code).toBe('size-mismatch');
    expect(big.message).toBe(
      `binary has 3221225472 bytes, the manifest expects ${expected} (is it the binary of another model?)`,
    );
    await sparseFile(join(d, 'model.bin'), 10);
    const cut = await failure(loadModelFromDir(d));
    expect(cut.code).toBe('truncated');
    expect(cut.message).toContain(`${expected - 10} missing`);
  });

  it('parseManifest refuses JSON text over the limit before parsing it', () => {
    const e = (() => {
      try {
        parseManifest('['.repeat(MAX_MANIFEST_BYTES + 1));
      } catch (err) {
        return err as TritFormatError;
      }
    })()!;
    expect(e.code).toBe('too-large');
    expect(e.message).toMatch(
      /^the manifest text is at least 4194305 bytes, over the 4194304-byte limit/,
    );
  });
});

describe('saveModel writes only a model that loads back', () => {
  async function files(d: string): Promise<string[]> {
    return existsSync(d) ? (await readdir(d)).sort() : [];
  }

  it('refuses an encoded model whose binary does not match its manifest: nothing written', async () => {
    const d = join(dir, 'save-corrupt');
    const { manifest, binary } = encodeModel(smallGraph());
    const flipped = binary.slice();
    flipped[40]! ^= 0xff;
    const e = await failure(saveModel(d, { manifest, binary: flipped }));
    expect(e.code).toBe('checksum');
    expect(e.message).toMatch(
      /^saveModel: not writing .*save-corrupt\/model\.json: the model would not load: checksum mismatch in tensor "/,
    );
    expect(existsSync(d)).toBe(false);
  });

  it('refuses a hand-edited manifest, and keeps the files already there', async () => {
    const d = join(dir, 'save-keep');
    await saveModel(d, smallGraph());
    const before = await readFile(join(d, 'model.json'), 'utf8');
    const { manifest, binary } = encodeModel(smallGraph(2));
    const edited = JSON.parse(JSON.stringify(manifest));
    edited.ops[1].padding = 'full';
    const e = await failure(saveModel(d, { manifest: edited, binary }));
    expect(e.code).toBe('bad-manifest');
    expect(e.message).toContain(
      `manifest.ops[1] ("conv1").padding: expected one of 'same', 'valid', got "full"`,
    );
    expect(await files(d)).toEqual(['model.bin', 'model.json']);
    expect(await readFile(join(d, 'model.json'), 'utf8')).toBe(before);
    expect((await loadModelFromDir(d)).outputs[0]!.name).toBe('probs');
  });

  it('refuses a manifest over the size limit (metadata too large): nothing written', async () => {
    const d = join(dir, 'save-big');
    const graph: GraphSpec = {
      ...smallGraph(),
      metadata: { notes: 'x'.repeat(MAX_MANIFEST_BYTES) },
    };
    const e = await failure(saveModel(d, graph));
    expect(e.code).toBe('too-large');
    expect(e.message).toMatch(
      /^saveModel: the manifest to write to .*model\.json is \d+ bytes, over the 4194304-byte limit/,
    );
    expect(existsSync(d)).toBe(false);
    // With a raised limit on both sides it saves and loads.
    await saveModel(d, graph, { maxManifestBytes: 8 << 20 });
    expect((await loadModelFromDir(d, { maxManifestBytes: 8 << 20 })).outputs).toHaveLength(1);
  });

  it('refuses a folded BatchNorm that overflows float32 (the file would hold Infinity)', async () => {
    const d = join(dir, 'save-overflow');
    const rand = rng(5);
    const graph: GraphSpec = {
      ops: [
        { op: 'input', name: 'x', shape: [4] },
        { op: 'dense', name: 'fc', inputs: ['x'], kernel: floatKernel(rand, [4, 3], 1e30) },
        {
          op: 'batchNorm',
          name: 'bn',
          inputs: ['fc'],
          mean: new Float32Array(3),
          variance: new Float32Array(3).fill(1),
          gamma: new Float32Array([1, 1e20, 1]),
          beta: uniform(rand, 3),
        },
      ],
    };
    const e = await failure(saveModel(d, graph));
    expect(e.code).toBe('non-finite');
    expect(e.message).toMatch(
      /^tensor "fc\/kernel" would hold (-?)Infinity at index \d+: -?\d.*e\+\d+ does not fit in float32 \(a folded BatchNorm scale too large/,
    );
    expect(existsSync(d)).toBe(false);
  });
});
