import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@trit/quant-core';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MethodSummary, summarize } from '../src/bench/aggregate.js';
import { getPreset } from '../src/bench/presets.js';
import { methodColors, niceLog, paretoFront, renderReport } from '../src/bench/report.js';
import {
  collectPretraining,
  type PretrainingResult,
  type RunResult,
  runBench,
} from '../src/bench/run.js';
import { removeDir, smokeStudy, tempDir } from './bench-support.js';

const METHODS = ['fp32', 'bwn', 'twn', 'ttq', 'sq', 'hla'];
const SEEDS = [0, 1];
const CHARTS = [
  'pretrain-accuracy',
  'pareto',
  'gaps',
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
    readonly labels?: readonly unknown[];
    readonly datasets: readonly {
      readonly label: string;
      readonly data: readonly unknown[];
      readonly type?: string;
      readonly borderColor?: string;
      readonly backgroundColor?: string;
      readonly hideInLegend?: boolean;
      readonly fill?: unknown;
    }[];
  };
  readonly scales: Readonly<
    Record<
      string,
      {
        readonly type: string;
        readonly min: number;
        readonly max: number;
        readonly ticks: readonly { readonly value: number; readonly label?: unknown }[];
        getPixelForValue(v: number): number;
      }
    >
  >;
  readonly legend: {
    readonly legendItems: readonly { readonly text: string }[];
    readonly legendHitBoxes: readonly {
      readonly left: number;
      readonly top: number;
      readonly width: number;
      readonly height: number;
    }[];
  };
  readonly width: number;
  readonly height: number;
  readonly ctx: { font: string; measureText(text: string): { readonly width: number } };
  getDatasetMeta(i: number): {
    readonly data: readonly { readonly x: number; readonly y: number }[];
  };
}
interface PageGlobals {
  readonly document: {
    querySelectorAll(selector: string): Iterable<CanvasLike>;
  };
  readonly Chart?: {
    getChart(canvas: CanvasLike): ChartLike | undefined;
    readonly defaults: { readonly font: { readonly size: number; readonly family: string } };
  };
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
let summary: MethodSummary[];
let html: string;
let htmlFile: string;

beforeAll(async () => {
  work = tempDir('trit-report-');
  const backend = await initBackend({ quiet: true });
  // A noisier smoke task than the preset's: the seeds then differ, so spread and intervals show.
  const smoke = getPreset('smoke');
  runs = await runBench({
    study: smokeStudy(
      { methods: METHODS, seeds: SEEDS, pretrainEpochs: 2, epochs: 2 },
      { data: { ...(smoke.data as object), noise: 1.6 } },
    ),
    outDir: path.join(work, 'bench'),
    backend,
    progress: false,
    log: () => {},
  });
  summary = summarize(runs, METHODS);
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
    expect(pretraining.map((p) => [p.seed, p.epochs])).toEqual([
      [0, 2],
      [1, 2],
    ]);
    const acc = (x: number) => (x * 100).toFixed(2);
    expect(html).toContain(
      '<section id="pretraining"><h2>FP32 pre-training (shared starting point of every method)</h2>',
    );
    for (const p of pretraining) {
      expect(html).toContain(
        `<li>seed ${p.seed}: 2 epochs, final test accuracy ${acc(p.history[1]!.testAccuracy)}% ` +
          `(best ${acc(Math.max(p.history[0]!.testAccuracy, p.history[1]!.testAccuracy))}%), ` +
          `${((p.history[0]!.imagesPerSecond + p.history[1]!.imagesPerSecond) / 2).toFixed(0)} train images/s, ` +
          `wall time ${p.history.reduce((a, h) => a + h.seconds + h.evalSeconds!, 0).toFixed(1)} s</li>`,
      );
    }
    // The mean over the 2 seeds with its 95% CI by hand: mean ± t(0.975, 1) · s / √2, s = |a − b| / √2.
    const [a, b] = pretraining.map((p) => p.finalTestAccuracy * 100) as [number, number];
    const s = Math.abs(a - b) / Math.SQRT2;
    const half = (12.706204736 * s) / Math.SQRT2;
    expect(html).toContain(
      `<li>mean over 2 seeds: final test accuracy ${((a + b) / 2).toFixed(2)} ± ${s.toFixed(2)}% ` +
        `(95% CI [${((a + b) / 2 - half).toFixed(2)}, ${((a + b) / 2 + half).toFixed(2)}]), wall time `,
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
      'pareto',
      'gaps',
      'accuracy',
      'sparsity',
      'ttq-scales',
      'ttq-shares',
    ]);
    expect(page).toContain('TTQ: Wp and −Wn per layer over training (ttq:init=mean, seed 0)');
    expect(html).toContain('TTQ: Wp and −Wn per layer over training (seed 0)');
  });

  it('one seed: the table says n = 1 and shows no spread and no interval', () => {
    const one = runs.filter((r) => r.seed === 0);
    const page = renderReport(one, summarize(one, METHODS), BARE_CONTEXT);
    const rows = [...page.matchAll(/<tr>(.*?)<\/tr>/g)].map((m) =>
      [...m[1]!.matchAll(/<t[hd]>(.*?)<\/t[hd]>/g)].map((c) =>
        c[1]!.replace(/<span[^>]*><\/span>/, ''),
      ),
    );
    expect(rows[0]!.slice(0, 6)).toEqual([
      'method',
      'n',
      'test accuracy (%)',
      '95% CI (%)',
      'gap to FP32 (points)',
      '95% CI of gap, paired',
    ]);
    for (const r of rows.slice(1)) {
      const run = one.find((x) => x.method === r[0])!;
      expect(r.slice(1, 4)).toEqual(['1', (run.finalTestAccuracy * 100).toFixed(2), 'n/a']);
      expect(r[5]).toBe(r[0] === 'fp32' ? '—' : 'n/a (1 pair)');
    }
    expect(page).not.toContain('± 0.00');
  });

  it('the Pareto front: by increasing memory, the methods more accurate than every smaller one', () => {
    const p = (x: number, y: number) => ({ x, y });
    // (10, 80) is beaten by (5, 85); (40, 85) ties (5, 85) with more memory; (20, 90) and (80, 95) improve.
    expect(paretoFront([p(80, 95), p(10, 80), p(5, 85), p(40, 85), p(20, 90)])).toEqual([
      p(5, 85),
      p(20, 90),
      p(80, 95),
    ]);
    // the same memory twice: only the more accurate one
    expect(paretoFront([p(5, 70), p(5, 75)])).toEqual([p(5, 75)]);
    expect(paretoFront([])).toEqual([]);
  });

  it('niceLog: the axis ends of the memory chart are 1, 2 or 5 × 10^k', () => {
    expect(niceLog(6.2, 'down')).toBe(5);
    expect(niceLog(94, 'up')).toBe(100);
    expect(niceLog(1500, 'up')).toBe(2000);
    expect(niceLog(1500, 'down')).toBe(1000);
    expect(niceLog(0.3, 'down')).toBeCloseTo(0.2, 12);
    expect(niceLog(5, 'down')).toBe(5);
    expect(niceLog(5, 'up')).toBe(5);
  });

  it('one colour per method, fixed for the built-ins and stable for any other name', () => {
    const a = methodColors(['fp32', 'twn', 'mine', 'ttq:init=mean']);
    const b = methodColors(['mine', 'hla', 'ttq:init=mean', 'other']);
    expect(a.get('fp32')).toBe('#7f7f7f');
    expect(a.get('twn')).toBe('#1f77b4');
    expect(b.get('hla')).toBe('#d62728');
    // the same name, the same colour in another report; never a built-in's colour
    expect(b.get('mine')).toBe(a.get('mine'));
    expect(b.get('ttq:init=mean')).toBe(a.get('ttq:init=mean'));
    const builtIn = new Set([...methodColors(METHODS).values()]);
    expect(builtIn.size).toBe(6);
    for (const m of ['mine', 'ttq:init=mean', 'other']) expect(builtIn.has(b.get(m)!)).toBe(false);
    // within one report, no two methods share a colour (collisions move to the next free colour)
    const many = Array.from({ length: 12 }, (_, i) => `plugin-${i}`);
    expect(new Set(methodColors([...METHODS, ...many]).values()).size).toBe(18);
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
        /** Whether an opaque pixel of exactly `hex` lies within 3 px of (x, y). */
        const colourNear = (hex: string, x: number, y: number) => {
          const want = Number.parseInt(hex.slice(1, 7), 16);
          for (let dy = -3; dy <= 3; dy++)
            for (let dx = -3; dx <= 3; dx++) {
              const px = Math.round(x) + dx;
              const py = Math.round(y) + dy;
              if (px < 0 || py < 0 || px >= width || py >= height) continue;
              const i = (py * width + px) * 4;
              const rgb = (pixels[i]! << 16) | (pixels[i + 1]! << 8) | pixels[i + 2]!;
              if (pixels[i + 3] === 255 && rgb === want) return true;
            }
          return false;
        };
        const chart = g.Chart!.getChart(canvas)!;
        const datasets = chart.data.datasets;
        return {
          id: canvas.id,
          width,
          height,
          painted,
          colours: colours.size,
          type: chart.config.type,
          xScale: chart.scales.x?.type,
          yMax: chart.scales.y?.max,
          datasets: datasets.length,
          labels: datasets.map((d) => d.label),
          categories: chart.data.labels ?? [],
          legend: chart.legend.legendItems.map((l) => l.text),
          borderColors: datasets.map((d) => d.borderColor ?? null),
          backgroundColors: datasets.map((d) => d.backgroundColor ?? null),
          hidden: datasets.map((d) => d.hideInLegend === true),
          fills: datasets.map((d) => d.fill ?? null),
          xTicks: chart.config.type === 'line' ? chart.scales.x!.ticks.map((t) => t.value) : [],
          points: datasets.map((d) => d.data.length),
          raw: datasets.map((d) => d.data),
          ys:
            chart.config.type === 'line'
              ? datasets.map((d) => d.data.map((p) => (p as { y: number | null }).y))
              : [],
          // For each dataset's first point: its pixel position, its error bar's ends (if any) and
          // whether the dataset's colour is painted at them.
          // For each dataset's point with an error bar: the pixel rows of the point and of the bar's
          // ends (an end past the axis is cut at its edge: taken 2 px inside), and whether the
          // dataset's colour is painted at those ends.
          bars: datasets.map((d, i) => {
            const el = chart.getDatasetMeta(i).data[0];
            const point = d.data[0] as { yMin?: number; yMax?: number } | undefined;
            if (!el || point?.yMin === undefined || point.yMax === undefined || !d.borderColor)
              return null;
            const y = chart.scales.y!;
            const at = (v: number, inward: number) =>
              v > y.max
                ? y.getPixelForValue(y.max) + inward
                : v < y.min
                  ? y.getPixelForValue(y.min) - inward
                  : y.getPixelForValue(v);
            const yMin = at(point.yMin, 2);
            const yMax = at(point.yMax, 2);
            return {
              y: el.y,
              yMin,
              yMax,
              paintedAtMin: colourNear(d.borderColor, el.x, yMin),
              paintedAtMax: colourNear(d.borderColor, el.x, yMax),
            };
          }),
          // Horizontal bars (the gap chart): per bar, whether a dark whisker is painted at its
          // interval's ends (null without an interval).
          whiskers:
            canvas.id === 'gaps'
              ? (datasets[0]!.data as { xMin?: number; xMax?: number }[]).map((p, k) => {
                  const el = chart.getDatasetMeta(0).data[k]!;
                  if (p.xMin === undefined || p.xMax === undefined) return null;
                  const x = chart.scales.x!;
                  const darkNear = (px: number) => {
                    for (let dy = -3; dy <= 3; dy++)
                      for (let dx = -2; dx <= 2; dx++) {
                        const i = ((Math.round(el.y) + dy) * width + Math.round(px) + dx) * 4;
                        if (
                          pixels[i + 3]! >= 160 && // thin lines are anti-aliased: partly transparent on the clear canvas
                          Math.max(pixels[i]!, pixels[i + 1]!, pixels[i + 2]!) < 90
                        )
                          return true;
                      }
                    return false;
                  };
                  return [
                    darkNear(x.getPixelForValue(p.xMin)),
                    darkNear(x.getPixelForValue(p.xMax)),
                  ];
                })
              : [],
          indexAxis:
            (chart.config as { options?: { indexAxis?: string } }).options?.indexAxis ?? 'x',
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
    const colors = methodColors(METHODS);
    const runsOf = (m: string) =>
      runs.filter((r) => r.method === m).sort((a, b) => a.seed - b.seed);

    // FP32 pre-training: one line per seed in FP32's colour, its test accuracy (%) after each of its 2 epochs
    expect(byId['pretrain-accuracy']!.labels).toEqual([
      'FP32 pre-training (seed 0)',
      'FP32 pre-training (seed 1)',
    ]);
    expect(byId['pretrain-accuracy']!.ys).toEqual(
      pretraining.map((p) => p.history.map((h) => h.testAccuracy * 100)),
    );
    expect(byId['pretrain-accuracy']!.borderColors).toEqual(['#7f7f7f', '#7f7f7f']);

    // Accuracy against weight memory: one point per method (legend in table order), the mean
    // accuracy with its 95% CI as the error bar, log-scale memory; the Pareto front last.
    const pareto = byId.pareto!;
    expect(pareto.type).toBe('scatterWithErrorBars');
    expect(pareto.xScale).toBe('logarithmic');
    expect(pareto.legend.slice(0, 6)).toEqual(METHODS.map((m) => `${m} (n = 2)`));
    // the front by hand: by increasing memory, each method more accurate than every smaller one
    const front: { x: number; y: number }[] = [];
    for (const r of [...summary].sort(
      (a, b) => a.weightMemoryBytes - b.weightMemoryBytes || b.accuracyMean - a.accuracyMean,
    ))
      if (!front.length || r.accuracyMean * 100 > front.at(-1)!.y)
        front.push({ x: r.weightMemoryBytes / 1024, y: r.accuracyMean * 100 });
    if (front.length > 1) {
      expect(pareto.legend.at(-1)).toBe('Pareto front (mean accuracy)');
      expect(pareto.raw.at(-1)).toEqual(front);
    } else expect(pareto.legend).toHaveLength(METHODS.length);
    expect(pareto.borderColors.slice(0, 6)).toEqual(METHODS.map((m) => colors.get(m)));
    for (const [i, m] of METHODS.entries()) {
      const row = summary.find((r) => r.method === m)!;
      expect(pareto.raw[i], m).toEqual([
        expect.objectContaining({
          x: row.weightMemoryBytes / 1024,
          y: row.accuracyMean * 100,
          yMin: row.accuracyCi95![0] * 100,
          yMax: row.accuracyCi95![1] * 100,
        }),
      ]);
    }
    // The error bars are drawn: the method's colour at both ends of every bar longer than the
    // marker (radius 7 px plus its border).
    const long = pareto.bars.filter(
      (b): b is NonNullable<typeof b> =>
        b !== null && Math.min(Math.abs(b.y - b.yMin), Math.abs(b.yMax - b.y)) > 10,
    );
    expect(long.length).toBeGreaterThan(0);
    for (const b of long) expect([b.paintedAtMin, b.paintedAtMax]).toEqual([true, true]);
    // a CI past 100 % is cut at 100 %, the axis's top
    const past = summary.some((r) => r.accuracyCi95![1] > 1);
    expect(pareto.yMax).toBe(past ? 100 : expect.any(Number));

    // Gap to FP32: one horizontal bar per quantized method (table order), its paired interval as whiskers.
    const gaps = byId.gaps!;
    expect(gaps.type).toBe('barWithErrorBars');
    expect(gaps.indexAxis).toBe('y');
    expect(gaps.categories).toEqual(METHODS.slice(1).map((m) => `${m} (2 pairs)`));
    expect(gaps.backgroundColors).toEqual([METHODS.slice(1).map((m) => `${colors.get(m)}99`)]);
    expect(gaps.raw).toEqual([
      METHODS.slice(1).map((m) => {
        const row = summary.find((r) => r.method === m)!;
        return { x: row.gapToFp32, xMin: row.gapToFp32Ci95![0], xMax: row.gapToFp32Ci95![1] };
      }),
    ]);
    expect(gaps.whiskers).toEqual(METHODS.slice(1).map(() => [true, true]));

    // Accuracy per epoch: per method the mean over seeds as a line, with a min–max band out of the legend.
    const accuracy = byId.accuracy!;
    expect(accuracy.datasets).toBe(3 * METHODS.length);
    expect(accuracy.legend).toEqual(METHODS.map((m) => `${m} (mean of 2 seeds)`));
    for (const [i, m] of METHODS.entries()) {
      const [s0, s1] = runsOf(m) as [RunResult, RunResult];
      const at = (k: number, r: RunResult) => r.history[k]!.testAccuracy * 100;
      const [hi, lo, line] = [3 * i, 3 * i + 1, 3 * i + 2];
      expect(accuracy.ys[line], m).toEqual([0, 1].map((k) => (at(k, s0) + at(k, s1)) / 2));
      expect(accuracy.ys[hi], m).toEqual([0, 1].map((k) => Math.max(at(k, s0), at(k, s1))));
      expect(accuracy.ys[lo], m).toEqual([0, 1].map((k) => Math.min(at(k, s0), at(k, s1))));
      expect([accuracy.hidden[hi], accuracy.hidden[lo], accuracy.hidden[line]]).toEqual([
        true,
        true,
        false,
      ]);
      expect(accuracy.fills[lo], m).toBe('-1'); // the band: lowest filled up to highest
      expect(accuracy.borderColors[line], m).toBe(colors.get(m));
    }
    // epoch axes: whole-number ticks only (a 2-epoch run would otherwise get 1.1, 1.2, ...)
    for (const c of charts.filter((c) => c.type === 'line')) {
      expect(c.xTicks.length, c.id).toBeGreaterThan(1);
      expect(c.xTicks.every(Number.isInteger), `${c.id}: ${c.xTicks.join(', ')}`).toBe(true);
    }
    // Sparsity: one bar per quantized method (mean over its seeds), in the method's colour.
    expect(byId.sparsity!.labels).toEqual(METHODS.slice(1).map((m) => `${m} (mean of 2 seeds)`));
    expect(byId.sparsity!.backgroundColors).toEqual(METHODS.slice(1).map((m) => colors.get(m)));
    // SQ's bars: SQ's colour (the all-ternary comparison hollow, in the same colour)
    expect(byId['sq-bits']!.type).toBe('bar');
    expect(byId['sq-bits']!.backgroundColors).toEqual([colors.get('sq'), `${colors.get('sq')}40`]);
    // TTQ/HLA curves start at epoch 0 (before fine-tuning): 3 points for 2 epochs
    expect(byId['ttq-scales']!.points.every((n) => n === 3)).toBe(true);
    expect(byId['hla-cosine']!.points.every((n) => n === 3)).toBe(true);

    const rows = await page.$$eval('table tr', (trs) =>
      trs.map((tr) =>
        Array.from(
          tr.children as ArrayLike<{ textContent: string | null }>,
          (td) => td.textContent ?? '',
        ),
      ),
    );
    expect(rows).toHaveLength(1 + METHODS.length);
    expect(rows[0]!.slice(0, 6)).toEqual([
      'method',
      'n',
      'test accuracy (%)',
      '95% CI (%)',
      'gap to FP32 (points)',
      '95% CI of gap, paired',
    ]);
    expect(rows.slice(1).map((r) => r[0])).toEqual(METHODS);
    for (const r of rows.slice(1)) {
      expect(r[1]).toBe('2');
      expect(r[2]).toMatch(/^\d+\.\d\d ± \d+\.\d\d$/);
      expect(r[3]).toMatch(/^\[-?\d+\.\d\d, \d+\.\d\d\]$/);
      if (r[0] === 'fp32') expect(r.slice(4, 6)).toEqual(['reference', '—']);
      else expect(r[5]).toMatch(/^\[-?\d+\.\d\d, -?\d+\.\d\d\]( †)? \(2 pairs\)$/);
    }
    // the table's swatches have the charts' colours
    const swatches = await page.$$eval('table .swatch', (els) =>
      els.map((e) => (e as unknown as { style: { background: string } }).style.background),
    );
    const rgb = (hex: string) =>
      `rgb(${[1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)).join(', ')})`;
    expect(swatches).toEqual(METHODS.map((m) => rgb(colors.get(m)!)));
    expect(await page.textContent('p.meta')).toContain(COMMAND);
    expect(await page.$$eval('#pretraining li', (lis) => lis.map((li) => li.textContent))).toEqual([
      expect.stringMatching(/^seed 0: 2 epochs, final test accuracy \d+\.\d\d% \(best /),
      expect.stringMatching(/^seed 1: 2 epochs, final test accuracy \d+\.\d\d% \(best /),
      expect.stringMatching(/^mean over 2 seeds: final test accuracy .* \(95% CI \[/),
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
    expect(png.readUInt32BE(20)).toBeGreaterThan(CHARTS.length * 380); // eight 380-px charts, full page
    expect(statSync(shot).size).toBeGreaterThan(50_000);
    // The new chart alone, as the docs show it.
    const paretoShot = path.join(work, 'pareto.png');
    await (await page.$('section:has(#pareto)'))!.screenshot({ path: paretoShot });
    expect(readFileSync(paretoShot).subarray(1, 4).toString()).toBe('PNG');
    expect(statSync(paretoShot).size).toBeGreaterThan(10_000);
    // TRIT_REPORT_SCREENSHOTS=<dir> keeps the screenshots (the temp folder is removed).
    const keep = process.env.TRIT_REPORT_SCREENSHOTS;
    if (keep) {
      mkdirSync(keep, { recursive: true });
      for (const f of [shot, paretoShot]) copyFileSync(f, path.join(keep, path.basename(f)));
    }

    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  });
  it('a sweep of many methods: every legend entry is drawn inside its chart (long legends go under it)', async () => {
    if (!browser) throw new Error('no browser: see the first test');
    // 20 rows: the smoke runs renamed, as a γ sweep of one quantizer would give.
    const many = Array.from({ length: 20 }, (_, i) => `${METHODS[i % METHODS.length]}-v${i}`);
    const manyRuns = many.flatMap((label, i) =>
      runs
        .filter((r) => r.method === METHODS[i % METHODS.length])
        .map((r) => ({ ...r, method: label })),
    );
    const file = path.join(work, 'report-many.html');
    writeFileSync(
      file,
      renderReport(manyRuns, summarize(manyRuns, many), {
        title: 'trit bench: many',
        command: COMMAND,
        backend: 'cpu',
        machine: 'test machine',
        generatedAt: '2025-01-01T00:00:00.000Z',
      }),
    );
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    await page.waitForFunction(() => {
      const g = globalThis as unknown as PageGlobals;
      const canvases = [...g.document.querySelectorAll('canvas')];
      return canvases.length > 0 && canvases.every((c) => g.Chart?.getChart(c) !== undefined);
    });
    const legends = await page.evaluate(() => {
      const g = globalThis as unknown as PageGlobals;
      return [...g.document.querySelectorAll('canvas')].map((canvas) => {
        const chart = g.Chart!.getChart(canvas)!;
        const shown = chart.data.datasets.filter((d) => d.hideInLegend !== true).length;
        const boxes = chart.legend.legendHitBoxes;
        const outside = boxes.filter(
          (b) =>
            b.left < 0 ||
            b.top < 0 ||
            b.left + b.width > chart.width + 0.5 ||
            b.top + b.height > chart.height + 0.5,
        ).length;
        return { id: canvas.id, shown, entries: boxes.length, outside, height: chart.height };
      });
    });
    const pareto = legends.find((l) => l.id === 'pareto')!;
    expect(pareto.shown).toBeGreaterThanOrEqual(20);
    for (const l of legends) {
      expect(l.entries, l.id).toBe(l.shown);
      expect(l.outside, l.id).toBe(0);
    }
    // the long legends' charts grew to hold them
    expect(pareto.height).toBeGreaterThan(380);
    await page.close();
  });
  it('the memory axis labels 1, 2, 5 x 10^k only, none overlapping (FP32 at 1 MiB beside BWN at 48 KiB)', async () => {
    if (!browser) throw new Error('no browser: see the first test');
    // The campaign's two ends: Chart.js's own labels put "900" and "1,000" on top of each other here.
    const memory: Record<string, number> = { fp32: 1059 * 1024, bwn: 47.6 * 1024 };
    const two = runs
      .filter((r) => r.method in memory)
      .map((r) => ({ ...r, weightMemoryBytes: memory[r.method]! }));
    const file = path.join(work, 'report-log-axis.html');
    writeFileSync(file, renderReport(two, summarize(two, ['fp32', 'bwn']), BARE_CONTEXT));
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    await page.waitForFunction(() => {
      const g = globalThis as unknown as PageGlobals;
      const canvas = [...g.document.querySelectorAll('canvas')].find((c) => c.id === 'pareto');
      return canvas !== undefined && g.Chart?.getChart(canvas) !== undefined;
    });
    const labels = await page.evaluate(() => {
      const g = globalThis as unknown as PageGlobals;
      const canvas = [...g.document.querySelectorAll('canvas')].find((c) => c.id === 'pareto')!;
      const chart = g.Chart!.getChart(canvas)!;
      const x = chart.scales.x!;
      chart.ctx.font = `${g.Chart!.defaults.font.size}px ${g.Chart!.defaults.font.family}`;
      return x.ticks
        .filter((t) => typeof t.label === 'string' && t.label !== '')
        .map((t) => {
          const text = t.label as string;
          const centre = x.getPixelForValue(t.value);
          const half = chart.ctx.measureText(text).width / 2;
          return { text, left: centre - half, right: centre + half };
        });
    });
    expect(labels.map((l) => l.text)).toEqual(['20', '50', '100', '200', '500', '1,000', '2,000']);
    for (let i = 1; i < labels.length; i++)
      expect(labels[i]!.left, `${labels[i - 1]!.text} | ${labels[i]!.text}`).toBeGreaterThan(
        labels[i - 1]!.right + 4,
      );
    await page.close();
  });
});
