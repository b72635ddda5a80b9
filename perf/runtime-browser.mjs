/**
 * The runtime-speed cases in headless Chromium: @trit/runtime (WebAssembly
 * SIMD on 1 and on N threads, web workers) against tfjs float32 on
 * @tensorflow/tfjs-backend-wasm (SIMD, and its threads: the page is
 * cross-origin isolated, so it loads the threaded SIMD binary), the same
 * network from the same manifest. Called by perf/runtime-speed.mjs
 * --browser; the page is served from 127.0.0.1 only.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { saveModel } from '@trit/runtime/node';
import { chromium } from 'playwright-core';
import { serveStatic } from './lib/static-server.mjs';

/**
 * One case: a model, encoded, and its input (`batch` images when set, else one).
 * @typedef {{ group: string, encoded: import('@trit/runtime').EncodedModel, x: Float32Array, batch?: number }} BrowserCase
 */
/**
 * One measurement (milliseconds); `maxAbsDiff` against the runtime's first output.
 * @typedef {{ group: string, engine: string, kind: string, median: number, min: number, p90: number, maxAbsDiff: number, batch?: number | undefined }} BrowserRow
 */
/**
 * What the page's module script puts on `window` (see PAGE), as the evaluated functions see it.
 * @typedef {{ tf: typeof import('@tensorflow/tfjs'), rt: typeof import('@trit/runtime'), graph: typeof import('./lib/tfjs-graph.mjs') }} PageGlobals
 */

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');

const PAGE = `<!doctype html><meta charset="utf-8"><title>trit runtime bench</title>
<script src="/tfjs/tf.min.js"></script>
<script src="/tfjs-wasm/tf-backend-wasm.min.js"></script>
<script type="module">
  window.rt = await import('/runtime/index.js');
  window.graph = await import('/lib/tfjs-graph.mjs');
  tf.wasm.setWasmPaths('/tfjs-wasm/');
  await tf.setBackend('wasm');
  await tf.ready();
  document.title = 'ready';
</script>`;

function chromiumPath() {
  const path = [
    process.env.TRIT_CHROMIUM,
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome',
  ].find((p) => p && existsSync(p));
  if (!path) throw new Error('no Chromium (npm run setup installs one; or set TRIT_CHROMIUM)');
  return path;
}

/**
 * Measures `cases` in the page. Returns one row per engine and case, and the
 * page's facts (user agent, cross-origin isolation, tfjs wasm features).
 * @param {BrowserCase[]} cases
 * @param {{ runs: number, warmup: number, threads: number }} options
 */
export async function browserBench(cases, { runs, warmup, threads }) {
  const dir = await mkdtemp(join(tmpdir(), 'trit-browser-bench-'));
  const server = await serveStatic(
    {
      '/runtime/': join(root, 'packages', 'runtime', 'dist'),
      '/lib/': join(here, 'lib'),
      '/tfjs/': join(root, 'node_modules', '@tensorflow', 'tfjs', 'dist'),
      '/tfjs-wasm/': join(root, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist'),
      '/models/': dir,
    },
    { '/': PAGE },
  );
  const browser = await chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  try {
    const page = await browser.newPage();
    /** @type {string[]} */
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}/`);
    await page.waitForFunction(() => document.title === 'ready', undefined, { timeout: 60_000 });
    if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
    const facts = await page.evaluate(async () => {
      const { tf } = /** @type {PageGlobals} */ (/** @type {unknown} */ (window));
      return {
        userAgent: navigator.userAgent,
        crossOriginIsolated,
        hardwareConcurrency: navigator.hardwareConcurrency,
        tfjsWasmSimd: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
        tfjsWasmThreads: await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'),
      };
    });
    /** @type {BrowserRow[]} */
    const rows = [];
    for (const [i, c] of cases.entries()) {
      await saveModel(join(dir, String(i)), c.encoded);
      const result = await page.evaluate(
        async ({ url, x, runs, warmup, threads }) => {
          const { tf, rt, graph } = /** @type {PageGlobals} */ (/** @type {unknown} */ (window));
          const input = Float32Array.from(x);
          /** @param {() => unknown} fn */
          const stats = (fn) => {
            for (let k = 0; k < warmup; k++) fn();
            const t = [];
            for (let k = 0; k < runs; k++) {
              const t0 = performance.now();
              fn();
              t.push(performance.now() - t0);
            }
            t.sort((a, b) => a - b);
            // runs >= 1, so every index is in range.
            return {
              median: /** @type {number} */ (t[t.length >> 1]),
              min: /** @type {number} */ (t[0]),
              p90: /** @type {number} */ (t[Math.floor(t.length * 0.9)]),
            };
          };
          /** @type {Omit<BrowserRow, 'group' | 'batch'>[]} */
          const out = [];
          /** @type {Float32Array | undefined} */
          let ref;
          /** @param {Float32Array} y */
          const diff = (y) => {
            if (!ref) throw new Error('no reference output yet');
            let m = 0;
            for (let k = 0; k < y.length; k++)
              m = Math.max(m, Math.abs(Number(y[k]) - Number(ref[k])));
            return m;
          };
          for (const t of [...new Set([1, threads])]) {
            const model = await rt.loadModel(url, { backend: 'wasm', threads: t });
            const y = model.predict(input).data;
            ref ??= y;
            await new Promise((r) => setTimeout(r, t > 1 ? 500 : 0));
            out.push({
              engine: `runtime, wasm SIMD, ${t} thread${t > 1 ? 's' : ''}`,
              kind: 'wasm',
              ...stats(() => model.predict(input)),
              maxAbsDiff: diff(model.predict(input).data),
            });
            model.dispose();
          }
          const manifest = rt.parseManifest(await (await fetch(url)).text());
          const binUrl = new URL(manifest.binary.file, new URL(url, location.href));
          const binRes = await fetch(binUrl);
          const binary = new Uint8Array(await binRes.arrayBuffer());
          const net = graph.tfjsFromManifest(tf, rt, manifest, binary);
          out.push({
            engine: 'tfjs float32 (tfjs-backend-wasm)',
            kind: 'wasm',
            ...stats(() => net.run(input)),
            maxAbsDiff: diff(net.run(input)),
          });
          net.dispose();
          return out;
        },
        { url: `/models/${i}/model.json`, x: [...c.x], runs, warmup, threads },
      );
      for (const r of result) rows.push({ group: c.group, ...r, batch: c.batch });
      console.error(`  browser: ${c.group} done`);
    }
    return { rows, facts };
  } finally {
    await browser.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}
