import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@trit/quant-core';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { summarize } from '../src/bench/aggregate.js';
import { renderReport } from '../src/bench/report.js';
import {
  collectPretraining,
  type PretrainingResult,
  type RunResult,
  runBench,
} from '../src/bench/run.js';
import { syntheticData } from '../src/training/synthetic-data.js';
import { removeDir, smokeStudy, tempDir } from './bench-support.js';

const METHODS = ['fp32', 'bwn', 'twn', 'ttq', 'sq', 'hla'];
const CHARTS = [
  'pretrain-accuracy',
  'accuracy',
  'sparsity',
  'ttq-scales',
  'ttq-shares',
  'sq-bits',
  'hla-cosine',
];
const NOTE = 'Wall time is <training> & evaluation.';
/** A report context with nothing to escape or show, for tests about the charts alone. */
const BARE_CONTEXT = { title: 't', command: 'c', backend: 'b', machine: 'm', generatedAt: 'g' };
const COMMAND =
  'trit bench --preset smoke <b>not bold</b> & "quoted" </script><script>window.__injected = 1</script>';

// What the page code below touches, typed here (this package compiles without the DOM library).
interface CanvasLike {
  readonly id: string;
  readonly width: number;
  readonly height: number;
  getContext(kind: '2d'): {
    getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
  } | null;
  toDataURL(type: string): string;
}
interface ChartLike {
  readonly config: { readonly type: string };
  readonly data: {
    readonly datasets: readonly { readonly label: string; readonly data: readonly unknown[] }[];
  };
  readonly scales: Readonly<
    Record<string, { readonly ticks: readonly { readonly value: number }[] }>
  >;
}
interface PageGlobals {
  readonly document: { querySelectorAll(selector: string): Iterable<CanvasLike> };
  readonly Chart?: { getChart(canvas: CanvasLike): ChartLike | undefined };
  readonly __injected?: number;
}

const INSTALL_HINT =
  'Install one: `npm run setup` at the repository root installs Debian’s chromium package on Debian/Ubuntu when run as root ' +
  '(or `apt-get install chromium`), or point TRIT_CHROMIUM at a Chromium/Chrome executable.';

/** The Chromium the test drives: TRIT_CHROMIUM if set, else the usual system paths (as `npm run setup` looks). */
function findChromium(): string {
  const fromEnv = process.env.TRIT_CHROMIUM;
  if (fromEnv) {
    if (!existsSync(fromEnv))
      throw new Error(`TRIT_CHROMIUM=${fromEnv} does not exist. ${INSTALL_HINT}`);
    return fromEnv;
  }
  const candidates = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
  const found = candidates.find((c) => existsSync(c));
  if (!found)
    throw new Error(
      `no Chromium for the report test (looked at ${candidates.join(', ')}). ${INSTALL_HINT}`,
    );
  return found;
}

let work: string;
let runs: RunResult[];
let pretraining: PretrainingResult[];
let html: string;
let htmlFile: string;

beforeAll(async () => {
  work = tempDir('trit-report-');
  const backend = await initBackend({ quiet: true });
  runs = await runBench({
    study: smokeStudy({ methods: METHODS, pretrainEpochs: 2, epochs: 2 }),
    outDir: path.join(work, 'bench'),
    loadData: async (p) => syntheticData(p.data as Parameters<typeof syntheticData>[0]),
    backend,
    progress: false,
    log: () => {},
  });
  const summary = summarize(runs, METHODS);
  pretraining = collectPretraining([path.join(work, 'bench')]);
  html = renderReport(
    runs,
    summary,
    {
      title: 'trit bench: smoke',
      command: COMMAND,
      backend: backend.name,
      machine: 'test machine',
      generatedAt: '2025-01-01T00:00:00.000Z',
      notes: [NOTE],
    },
    pretraining,
  );
  htmlFile = path.join(work, 'report.html');
  writeFileSync(htmlFile, html);
});

afterAll(() => {
  removeDir(work);
  tf.disposeVariables();
});

describe('renderReport (static checks)', () => {
  it('is self-contained: Chart.js inlined, nothing loaded from elsewhere', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script[^>]*\ssrc=/i);
    expect(html).not.toMatch(/<link[^>]*\shref=/i);
    expect(html).not.toMatch(/<img[^>]*\ssrc=/i);
    expect(html.length).toBeGreaterThan(150_000); // the Chart.js bundle is ~200 KB
    expect(html).toContain('Chart');
  });

  it('escapes the command and title (no markup or script injection)', () => {
    expect(html).not.toContain('<b>not bold</b>');
    expect(html).toContain('&#60;b&#62;not bold&#60;/b&#62; &#38; &#34;quoted&#34;');
    expect(html).not.toContain('window.__injected = 1</script>');
  });

  it('has one canvas per chart, in order', () => {
    expect([...html.matchAll(/<canvas id="([^"]+)">/g)].map((m) => m[1])).toEqual(CHARTS);
  });

  it('shows the table notes (escaped) and the FP32 pre-training every method started from', () => {
    expect(html).toContain(
      '<p class="caption">Wall time is &#60;training&#62; &#38; evaluation.</p>',
    );
    expect(pretraining).toHaveLength(1);
    const p = pretraining[0]!;
    expect(p.epochs).toBe(2);
    const acc = (x: number) => (x * 100).toFixed(2);
    expect(html).toContain(
      '<section id="pretraining"><h2>FP32 pre-training (shared starting point of every method)</h2>',
    );
    expect(html).toContain(
      `<li>seed 0: 2 epochs, final test accuracy ${acc(p.history[1]!.testAccuracy)}% ` +
        `(best ${acc(Math.max(p.history[0]!.testAccuracy, p.history[1]!.testAccuracy))}%), ` +
        `${((p.history[0]!.imagesPerSecond + p.history[1]!.imagesPerSecond) / 2).toFixed(0)} train images/s, ` +
        `wall time ${p.history.reduce((a, h) => a + h.seconds + h.evalSeconds!, 0).toFixed(1)} s</li>`,
    );
    // before the method charts
    expect(html.indexOf('id="pretraining"')).toBeLessThan(html.indexOf('<canvas id="accuracy">'));
  });

  it('without pre-training (scratch protocol) there is no pre-training section or chart', () => {
    const scratch = renderReport(runs, summarize(runs, METHODS), BARE_CONTEXT);
    expect(scratch).not.toContain('pretrain');
    expect(scratch).not.toContain('FP32 pre-training');
    expect([...scratch.matchAll(/<canvas id="([^"]+)">/g)].map((m) => m[1])).toEqual(
      CHARTS.slice(1),
    );
  });

  it('variants (ttq:init=mean) get their quantizer’s charts, titled with the method', () => {
    const variants = runs
      .filter((r) => r.method === 'fp32' || r.quantizer.name === 'ttq')
      .map((r) => (r.method === 'ttq' ? { ...r, method: 'ttq:init=mean' } : r));
    const order = ['fp32', 'ttq:init=mean'];
    const page = renderReport(variants, summarize(variants, order), BARE_CONTEXT);
    expect([...page.matchAll(/<canvas id="([^"]+)">/g)].map((m) => m[1])).toEqual([
      'accuracy',
      'sparsity',
      'ttq-scales',
      'ttq-shares',
    ]);
    expect(page).toContain('TTQ: Wp and −Wn per layer over training (ttq:init=mean, seed 0)');
    expect(html).toContain('TTQ: Wp and −Wn per layer over training (seed 0)');
  });
});

describe('renderReport in headless Chromium', () => {
  let browser: Browser | undefined;
  afterAll(async () => {
    await browser?.close();
  });

  it('finds a Chromium (fails with how to install one)', async () => {
    browser = await chromium.launch({
      executablePath: findChromium(),
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    expect(browser.isConnected()).toBe(true);
  });

  it('loads without console errors, draws every chart, shows the summary table; screenshot saved', async () => {
    if (!browser) throw new Error('no browser: see the previous test');
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning')
        problems.push(`console.${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('dialog', (d) => {
      problems.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('file:')) return route.continue();
      requests.push(url);
      return route.abort();
    });
    await page.goto(pathToFileURL(htmlFile).href, { waitUntil: 'load' });
    await page.waitForFunction((n) => {
      const g = globalThis as unknown as PageGlobals;
      const C = g.Chart;
      const canvases = [...g.document.querySelectorAll('canvas')];
      return (
        C !== undefined &&
        canvases.length === n &&
        canvases.every((c) => C.getChart(c) !== undefined)
      );
    }, CHARTS.length);

    const charts = await page.evaluate(() => {
      const g = globalThis as unknown as PageGlobals;
      return [...g.document.querySelectorAll('canvas')].map((canvas) => {
        const { width, height } = canvas;
        const pixels = canvas.getContext('2d')!.getImageData(0, 0, width, height).data;
        let painted = 0;
        const colours = new Set<number>();
        for (let i = 0; i < pixels.length; i += 4) {
          if (pixels[i + 3]! > 0) {
            painted++;
            colours.add((pixels[i]! << 16) | (pixels[i + 1]! << 8) | pixels[i + 2]!);
          }
        }
        const chart = g.Chart!.getChart(canvas)!;
        return {
          id: canvas.id,
          width,
          height,
          painted,
          colours: colours.size,
          type: chart.config.type,
          datasets: chart.data.datasets.length,
          labels: chart.data.datasets.map((d) => d.label),
          xTicks: chart.config.type === 'line' ? chart.scales.x!.ticks.map((t) => t.value) : [],
          points: chart.data.datasets.map((d) => d.data.length),
          ys:
            chart.config.type === 'line'
              ? chart.data.datasets.map((d) => d.data.map((p) => (p as { y: number | null }).y))
              : [],
          dataUrlLength: canvas.toDataURL('image/png').length,
        };
      });
    });
    expect(charts.map((c) => c.id)).toEqual(CHARTS);
    for (const c of charts) {
      expect(c.width, c.id).toBeGreaterThan(300);
      expect(c.height, c.id).toBeGreaterThan(200);
      // axes, labels and data in several colours, not a blank canvas
      expect(c.painted, c.id).toBeGreaterThan(0.01 * c.width * c.height);
      expect(c.colours, c.id).toBeGreaterThan(10);
      expect(c.dataUrlLength, c.id).toBeGreaterThan(5000);
      expect(c.datasets, c.id).toBeGreaterThan(0);
      expect(Math.min(...c.points), c.id).toBeGreaterThan(0);
    }
    const byId = Object.fromEntries(charts.map((c) => [c.id, c]));
    // FP32 pre-training: one line per seed, its test accuracy (%) after each of its 2 epochs
    expect(byId['pretrain-accuracy']!.labels).toEqual(['FP32 pre-training (seed 0)']);
    expect(byId['pretrain-accuracy']!.ys).toEqual([
      pretraining[0]!.history.map((h) => h.testAccuracy * 100),
    ]);
    // accuracy: one line per run with one point per epoch
    expect(byId.accuracy!.datasets).toBe(6);
    expect(byId.accuracy!.points).toEqual([2, 2, 2, 2, 2, 2]);
    // legend in the summary table's method order, not alphabetical
    expect(byId.accuracy!.labels).toEqual(METHODS.map((m) => `${m} (seed 0)`));
    // epoch axes: whole-number ticks only (a 2-epoch run would otherwise get 1.1, 1.2, ...)
    for (const c of charts.filter((c) => c.type === 'line')) {
      expect(c.xTicks.length, c.id).toBeGreaterThan(1);
      expect(c.xTicks.every(Number.isInteger), `${c.id}: ${c.xTicks.join(', ')}`).toBe(true);
    }
    // TTQ/HLA curves start at epoch 0 (before fine-tuning): 3 points for 2 epochs
    expect(byId['ttq-scales']!.points.every((n) => n === 3)).toBe(true);
    expect(byId['hla-cosine']!.points.every((n) => n === 3)).toBe(true);
    expect(byId['sq-bits']!.type).toBe('bar');

    const rows = await page.$$eval('table tr', (trs) =>
      trs.map((tr) =>
        Array.from(
          tr.children as ArrayLike<{ textContent: string | null }>,
          (td) => td.textContent ?? '',
        ),
      ),
    );
    expect(rows).toHaveLength(1 + METHODS.length);
    expect(rows[0]!.slice(0, 3)).toEqual(['method', 'seeds', 'test accuracy (%)']);
    expect(rows.slice(1).map((r) => r[0])).toEqual(METHODS);
    for (const r of rows.slice(1)) expect(r[2]).toMatch(/^\d+\.\d\d ± 0\.00$/);
    expect(await page.textContent('p.meta')).toContain(COMMAND);
    expect(await page.$$eval('#pretraining li', (lis) => lis.map((li) => li.textContent))).toEqual([
      expect.stringMatching(/^seed 0: 2 epochs, final test accuracy \d+\.\d\d% \(best /),
    ]);
    expect(
      await page.evaluate(() => (globalThis as unknown as PageGlobals).__injected),
    ).toBeUndefined();

    const shot = path.join(work, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    const png = readFileSync(shot);
    expect(png.subarray(0, 8)).toEqual(
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    );
    expect(png.readUInt32BE(16)).toBe(1200); // IHDR width
    expect(png.readUInt32BE(20)).toBeGreaterThan(7 * 380); // seven 380-px charts, full page
    expect(statSync(shot).size).toBeGreaterThan(50_000);

    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  });
});
