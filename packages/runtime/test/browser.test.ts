/**
 * The runtime in a real browser (headless Chromium): a page on a local
 * server (127.0.0.1) imports the built runtime, loads an exported model over
 * HTTP with `loadModel` and must give Node's logits, on the WebAssembly
 * kernels (compiled asynchronously, as a browser's main thread requires; on
 * one thread and with web workers in the cross-origin-isolated page) and on
 * the TypeScript fallback. Needs the package built (dist/) and a Chromium
 * (`npm run setup` installs Debian's; or TRIT_CHROMIUM).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs module without types, shared with perf/runtime-browser.mjs.
import { serveStatic } from '../../../perf/lib/static-server.mjs';
import { encodeModel } from '../src/index.js';
import { loadModelFromDir, saveModel } from '../src/node.js';
import { resnetish } from './fixtures.js';
import { maxAbsDiff, rng, uniform } from './helpers.js';

const dist = join(import.meta.dirname, '..', 'dist');

function chromiumPath(): string {
  const path = [
    process.env.TRIT_CHROMIUM,
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome',
  ].find((p) => p && existsSync(p));
  if (!path)
    throw new Error(
      'no Chromium: `npm run setup` installs Debian’s chromium package when run as root, or set TRIT_CHROMIUM',
    );
  return path;
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>trit runtime</title>
<script type="module">
  window.runtime = await import('/runtime/index.js');
  document.title = 'ready';
</script>`;

interface PageResult {
  backend: string;
  y: number[];
  isolated: boolean;
  /** Chunks of layers the page's workers computed. */
  jobs: number;
}

describe('the runtime in headless Chromium', () => {
  let dir: string;
  let server: { url: string; close(): Promise<void> };
  let browser: Browser;
  let page: Page;
  const x = uniform(rng(9), 2 * 16 * 16 * 3);
  let nodeY: Float32Array;

  beforeAll(async () => {
    expect(existsSync(join(dist, 'index.js')), 'build the package first').toBe(true);
    dir = await mkdtemp(join(tmpdir(), 'trit-browser-'));
    await saveModel(dir, encodeModel(resnetish(4)));
    nodeY = (await loadModelFromDir(dir, { threads: 1 })).predict(x).data;
    server = await serveStatic({ '/runtime/': dist, '/model/': dir }, { '/': PAGE });
    browser = await chromium.launch({
      executablePath: chromiumPath(),
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}/`);
    await page.waitForFunction(
      () => (globalThis as unknown as { document: { title: string } }).document.title === 'ready',
      undefined,
      { timeout: 30_000 },
    );
    expect(errors).toEqual([]);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * Loads the model in the page with `options` and predicts `x`; with workers,
   * again until they have taken part (they boot in the background).
   */
  const inPage = (options: { backend: string; threads: number }) =>
    page.evaluate(
      async ({ options, x }) => {
        const w = globalThis as unknown as {
          runtime: typeof import('../src/index.js');
          crossOriginIsolated: boolean;
        };
        const model = await w.runtime.loadModel('/model/model.json', options as never);
        const input = Float32Array.from(x);
        const pool = () =>
          (model as unknown as { engine: { pool?: { workerChunks: number } | null } }).engine.pool;
        model.predict(input);
        for (let i = 0; i < 100 && options.threads > 1 && (pool()?.workerChunks ?? 0) === 0; i++) {
          await new Promise((r) => setTimeout(r, 25));
          model.predict(input);
        }
        const y = [...model.predict(input).data];
        const result = {
          backend: model.backend,
          y,
          isolated: w.crossOriginIsolated,
          jobs: pool()?.workerChunks ?? 0,
        };
        model.dispose();
        return result;
      },
      { options, x: [...x] },
    ) as Promise<PageResult>;

  it('WebAssembly kernels, one thread: Node’s logits', async () => {
    const r = await inPage({ backend: 'wasm', threads: 1 });
    expect(r.backend).toBe('wasm');
    expect(r.y.length).toBe(20);
    expect(maxAbsDiff(Float32Array.from(r.y), nodeY)).toBeLessThan(1e-5);
    expect(maxAbsDiff(nodeY, new Float32Array(20))).toBeGreaterThan(0.1);
  });

  it('WebAssembly kernels with web workers (cross-origin-isolated page): Node’s logits', async () => {
    const r = await inPage({ backend: 'wasm', threads: 2 });
    expect(r.isolated).toBe(true);
    expect(r.jobs).toBeGreaterThan(0);
    expect(maxAbsDiff(Float32Array.from(r.y), nodeY)).toBeLessThan(1e-5);
  });

  it('TypeScript kernels: Node’s logits to float rounding', async () => {
    const r = await inPage({ backend: 'js', threads: 1 });
    expect(r.backend).toBe('js');
    expect(maxAbsDiff(Float32Array.from(r.y), nodeY)).toBeLessThan(1e-4);
  });

  it('a missing model is a clear error in the page too', async () => {
    const message = await page.evaluate(async () => {
      const w = globalThis as unknown as { runtime: typeof import('../src/index.js') };
      try {
        await w.runtime.loadModel('/model/nope.json');
        return 'loaded';
      } catch (e) {
        return (e as Error).message;
      }
    });
    expect(message).toMatch(
      /fetching the manifest at http:\/\/127\.0\.0\.1:\d+\/model\/nope\.json failed: HTTP 404/,
    );
  });
});
