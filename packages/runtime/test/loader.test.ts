/** Loading over HTTP with fetch (the browser path), against a local server. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeModel, encodeModel, loadModel, TritFormatError } from '../src/index.js';
import { saveModel } from '../src/node.js';
import { smallGraph } from './fixtures.js';
import { rng, uniform } from './helpers.js';

let server: Server;
let dir: string;
let base: string;
const requests: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trit-http-'));
  await saveModel(join(dir, 'models', 'small'), smallGraph());
  server = createServer(async (req, res) => {
    requests.push(req.url!);
    try {
      const body = await readFile(
        join(dir, decodeURIComponent(new URL(req.url!, 'http://x').pathname)),
      );
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404, 'Not Found').end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

describe('loadModel(url)', () => {
  const x = uniform(rng(3), 6 * 6 * 3);

  it('fetches the manifest, then the binary it names relative to the manifest URL', async () => {
    requests.length = 0;
    const model = await loadModel(`${base}/models/small/model.json`);
    expect(requests).toEqual(['/models/small/model.json', '/models/small/model.bin']);
    const { manifest, binary } = encodeModel(smallGraph());
    expect([...model.predict(x).data]).toEqual([...decodeModel(manifest, binary).predict(x).data]);
  });

  it('uses an injected fetch', async () => {
    const seen: string[] = [];
    const model = await loadModel(new URL(`${base}/models/small/model.json`), {
      fetch: (url, init) => {
        seen.push(url);
        return fetch(url, init);
      },
    });
    expect(seen).toHaveLength(2);
    expect(model.outputs[0]!.name).toBe('probs');
  });

  it('reports HTTP errors and corrupted downloads clearly', async () => {
    const missing = await loadModel(`${base}/models/none/model.json`).catch((e) => e);
    expect(missing).toBeInstanceOf(TritFormatError);
    expect(missing.code).toBe('fetch-failed');
    expect(missing.message).toMatch(
      /fetching the manifest at .*\/models\/none\/model.json failed: HTTP 404/,
    );
    // A manifest whose binary is missing.
    await writeFile(
      join(dir, 'models', 'small', 'orphan.json'),
      JSON.stringify({
        ...encodeModel(smallGraph()).manifest,
        binary: { ...encodeModel(smallGraph()).manifest.binary, file: 'gone.bin' },
      }),
    );
    const orphan = await loadModel(`${base}/models/small/orphan.json`).catch((e) => e);
    expect(orphan.message).toMatch(/fetching the binary at .*gone.bin failed: HTTP 404/);
    // A truncated binary on the server.
    const bin = await readFile(join(dir, 'models', 'small', 'model.bin'));
    await writeFile(join(dir, 'models', 'small', 'model.bin'), bin.subarray(0, 100));
    const cut = await loadModel(`${base}/models/small/model.json`).catch((e) => e);
    expect(cut.code).toBe('truncated');
    await writeFile(join(dir, 'models', 'small', 'model.bin'), bin);
  });
});
