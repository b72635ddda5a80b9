/**
 * quant-core's layers and the quantizers of all four algorithm packages (and
 * the FP32 and BWN baselines) in a real browser: headless Chromium loads them
 * (bundled with esbuild; tfjs from its UMD build) from a local server
 * (127.0.0.1), builds a small conv + dense model per quantizer, takes its
 * gradients, trains three steps and saves it to IndexedDB and loads it back,
 * on the `cpu` backend and on `webgl` (software rendering, SwiftShader) when
 * Chromium offers it. The same case runs in Node (test/browser/training-case.ts).
 *
 * Tolerances: cpu in the browser runs the same JavaScript kernels as Node's
 * cpu backend, so loss and gradients must agree to 1e-6; webgl computes in
 * float32 shaders, in another order, so to 1e-3 of the largest gradient.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as core from '@trit/quant-core';
import '@trit/twn';
import '@trit/ttq';
import '@trit/smart-quant';
import '@trit/hyperspherical';
import { build } from 'esbuild';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs module without types.
import { serveStatic } from '../../../perf/lib/static-server.mjs';
import { type CaseResult, trainCase } from './browser/training-case.js';

const QUANTIZERS = ['fp32', 'bwn', 'twn', 'ttq', 'sq', 'hla'];

function chromiumPath(): string {
  const path = [process.env.TRIT_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
    (p) => p && existsSync(p),
  );
  if (!path) throw new Error('no Chromium: `npm run setup` installs one, or set TRIT_CHROMIUM');
  return path;
}

/** The case in Node on the cpu backend, saved to and loaded from memory. */
async function inNode(quantizer: string): Promise<CaseResult> {
  await tf.setBackend('cpu');
  let saved: tf.io.ModelArtifacts | undefined;
  const store = tf.io.withSaveHandler(async (a) => {
    saved = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  });
  return trainCase(tf, core, quantizer, store, { load: async () => saved! });
}

const maxAbs = (a: readonly number[], b: readonly number[]) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

describe('quant-core and the quantizers in headless Chromium', () => {
  let dir: string;
  let server: { url: string; close(): Promise<void> };
  let browser: Browser;
  let page: Page;
  let webgl = false;
  let webglNote = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trit-browser-train-'));
    await build({
      entryPoints: [join(import.meta.dirname, 'browser', 'training-entry.ts')],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      outfile: join(dir, 'app.js'),
      logLevel: 'warning',
      // tfjs is the page's global (its UMD build); the native binding is never loaded in a browser.
      external: ['@tensorflow/tfjs-node'],
      plugins: [
        {
          name: 'tfjs-global',
          setup(b) {
            b.onResolve({ filter: /^@tensorflow\/tfjs$/ }, () => ({ path: 'tf', namespace: 'g' }));
            b.onLoad({ filter: /.*/, namespace: 'g' }, () => ({
              contents: 'module.exports = globalThis.tf;',
              loader: 'js',
            }));
          },
        },
      ],
    });
    const tfjsDist = join(
      dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs')),
      '..',
      'dist',
    );
    const page_ = `<!doctype html><meta charset="utf-8"><title>trit training</title>
<script src="/tfjs/tf.min.js"></script>
<script type="module">await import('/app/app.js'); document.title = 'ready';</script>`;
    server = await serveStatic({ '/tfjs/': tfjsDist, '/app/': dir }, { '/': page_ });
    browser = await chromium.launch({
      executablePath: chromiumPath(),
      headless: true,
      args: [
        '--no-sandbox',
        '--use-angle=swiftshader',
        '--enable-unsafe-swiftshader',
        '--no-first-run',
      ],
    });
    page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}/`);
    await page.waitForFunction(
      () => (globalThis as unknown as { document: { title: string } }).document.title === 'ready',
      undefined,
      { timeout: 60_000 },
    );
    expect(errors).toEqual([]);
    // The page's own tfjs (a bare `tf` here would be this file's import, rewritten by vitest).
    const gl = await page.evaluate(async () => {
      const t = (globalThis as unknown as { tf: typeof tf }).tf;
      try {
        return { ok: await t.setBackend('webgl'), why: '' };
      } catch (e) {
        return { ok: false, why: String(e) };
      }
    });
    webgl = gl.ok;
    webglNote = gl.why;
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('registers every quantizer in the page', async () => {
    const names = await page.evaluate(() =>
      (globalThis as unknown as { trit: { quantizers(): string[] } }).trit.quantizers(),
    );
    for (const q of QUANTIZERS) expect(names).toContain(q);
  });

  for (const quantizer of QUANTIZERS) {
    it(`${quantizer}: gradients, three training steps and an IndexedDB save/load match Node`, async () => {
      const node = await inNode(quantizer);
      const run = (backend: string) =>
        page.evaluate(
          ({ quantizer, backend }) =>
            (
              globalThis as unknown as {
                trit: { run(q: string, b: string): Promise<CaseResult> };
              }
            ).trit.run(quantizer, backend),
          { quantizer, backend },
        );
      const cpu = await run('cpu');
      expect(cpu.backend).toBe('cpu');
      expect(Math.abs(cpu.loss - node.loss)).toBeLessThan(1e-6);
      expect(Object.keys(cpu.grads).sort()).toEqual(Object.keys(node.grads).sort());
      let largest = 0;
      for (const [name, g] of Object.entries(node.grads)) {
        expect(maxAbs(cpu.grads[name]!, g), name).toBeLessThan(1e-6);
        largest = Math.max(largest, ...g.map(Math.abs));
      }
      expect(largest).toBeGreaterThan(1e-4); // the gradients are not all zero
      expect(maxAbs(cpu.losses, node.losses)).toBeLessThan(1e-5);
      expect(node.losses[2]!).toBeLessThan(node.losses[0]!); // it trains
      expect(maxAbs(cpu.trained, node.trained)).toBeLessThan(1e-5);
      expect(cpu.reloaded).toEqual(cpu.trained);
      if (webgl) {
        const gl = await run('webgl');
        expect(gl.backend).toBe('webgl');
        for (const [name, g] of Object.entries(node.grads))
          expect(maxAbs(gl.grads[name]!, g), name).toBeLessThan(1e-3 * Math.max(1, largest));
        expect(maxAbs(gl.reloaded, gl.trained)).toBeLessThan(1e-5);
      }
    }, 120_000);
  }

  it('reports whether webgl (software rendering) ran', () => {
    // Informational: SwiftShader WebGL is what headless Chromium offers without a GPU.
    console.info(
      `browser training test: webgl ${webgl ? 'available and checked' : `not available ${webglNote}`}`,
    );
    expect(typeof webgl).toBe('boolean');
  });
});
