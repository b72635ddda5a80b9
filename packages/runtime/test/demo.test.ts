/**
 * The demo page (demo/, bundled with esbuild) in headless Chromium: it loads
 * an exported model from a local server (127.0.0.1), classifies an image
 * picked in its file input with the runtime and with tfjs float32, and shows
 * both answers and latencies. The screenshot is kept for a person to look at.
 */
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs module without types.
import { serveStatic } from '../../../perf/lib/static-server.mjs';
// @ts-expect-error: a plain .mjs module without types.
import { buildDemo } from '../demo/build.mjs';
import { encodeModel } from '../src/index.js';
import { saveModel } from '../src/node.js';
import { resnetish } from './fixtures.js';

/** A 24-bit BMP (Chromium decodes it like any picked image) of `w x h` pixels. */
function bmp(w: number, h: number, pixel: (x: number, y: number) => [number, number, number]) {
  const row = Math.ceil((w * 3) / 4) * 4;
  const b = Buffer.alloc(54 + row * h);
  b.write('BM', 0);
  b.writeUInt32LE(b.length, 2);
  b.writeUInt32LE(54, 10);
  b.writeUInt32LE(40, 14);
  b.writeInt32LE(w, 18);
  b.writeInt32LE(h, 22);
  b.writeUInt16LE(1, 26);
  b.writeUInt16LE(24, 28);
  b.writeUInt32LE(row * h, 34);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const [r, g, bl] = pixel(x, h - 1 - y);
      const o = 54 + y * row + x * 3;
      b[o] = bl;
      b[o + 1] = g;
      b[o + 2] = r;
    }
  }
  return b;
}

function chromiumPath(): string {
  const path = [process.env.TRIT_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
    (p) => p && existsSync(p),
  );
  if (!path) throw new Error('no Chromium: `npm run setup` installs one, or set TRIT_CHROMIUM');
  return path;
}

describe('the demo page', () => {
  let dir: string;
  let server: { url: string; close(): Promise<void> };
  let browser: Browser;

  beforeAll(async () => {
    const dist: string = await buildDemo();
    dir = await mkdtemp(join(tmpdir(), 'trit-demo-'));
    const graph = resnetish(8);
    await saveModel(
      dir,
      encodeModel({
        ...graph,
        metadata: {
          source: { method: 'ttq' },
          preprocessing: { type: 'normalize', mean: [0.49, 0.48, 0.44], std: [0.25, 0.24, 0.26] },
        },
      }),
    );
    server = await serveStatic({ '/model/': dir, '/': dist });
    browser = await chromium.launch({
      executablePath: chromiumPath(),
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('classifies a picked image with the runtime and tfjs, shows both latencies, and renders', async () => {
    const page = await browser.newPage({ viewport: { width: 1000, height: 640 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}/index.html`);
    await page.waitForSelector('#files:not([disabled])', { timeout: 60_000 });
    expect(await page.textContent('#model')).toMatch(
      /input 16x16x3, 10 classes; .* KiB of weights .* runtime kernels: wasm, tfjs backend: wasm/,
    );
    await page.setInputFiles('#files', [
      {
        name: 'gradient.bmp',
        mimeType: 'image/bmp',
        buffer: bmp(40, 40, (x, y) => [x * 6, y * 6, 255 - x * 3]),
      },
      {
        name: 'stripes.bmp',
        mimeType: 'image/bmp',
        buffer: bmp(40, 40, (x) => (x % 8 < 4 ? [250, 240, 20] : [10, 30, 200])),
      },
    ]);
    await page.waitForFunction(
      () =>
        (
          globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }
        ).document.querySelectorAll('#results tbody tr').length === 2,
      undefined,
      { timeout: 60_000 },
    );
    const rows = await page.$$eval('#results tbody tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    );
    const classes = [
      'airplane',
      'automobile',
      'bird',
      'cat',
      'deer',
      'dog',
      'frog',
      'horse',
      'ship',
      'truck',
    ];
    for (const [, ours, theirs, ms, tfms, speed] of rows) {
      // Exact mode: the runtime's answer is tfjs float32's, class and probability.
      expect(ours).toBe(theirs);
      expect(classes).toContain(ours!.replace(/ \(.*$/, ''));
      expect(Number(ms)).toBeGreaterThan(0);
      expect(Number(tfms)).toBeGreaterThan(0);
      expect(speed).toMatch(/^\d+\.\dx$/);
    }
    expect(await page.textContent('#status')).toBe('Classified 2 image(s).');
    const shot = join(tmpdir(), 'trit-demo-screenshot.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    expect(errors).toEqual([]);
  }, 120_000);
});
