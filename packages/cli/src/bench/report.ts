import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { MethodSummary } from './aggregate.js';
import {
  PRETRAINING_NOTE,
  PRETRAINING_TITLE,
  pretrainingLines,
  summaryMarkdown,
} from './aggregate.js';
import type { PretrainingResult, RunResult } from './run.js';
import { mean } from './statistics.js';

/** Height of a chart (px); a long legend adds rows under it. */
const CHART_HEIGHT = 380;
/** More legend entries than this go under the chart instead of beside it. */
const LONG_LEGEND = 12;
const LEGEND_PER_ROW = 4;
const LEGEND_ROW_HEIGHT = 26;
/** A chart for the page: a Chart.js config plus a title and a caption. */
interface ChartSpec {
  readonly id: string;
  readonly title: string;
  readonly caption: string;
  readonly config: Record<string, unknown>;
}

const PALETTE = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
];
const color = (i: number) => PALETTE[i % PALETTE.length]!;

/** The built-in methods' colours (FP32, the reference, in grey). */
const METHOD_COLORS: Readonly<Record<string, string>> = {
  fp32: '#7f7f7f',
  bwn: '#8c564b',
  twn: '#1f77b4',
  ttq: '#ff7f0e',
  sq: '#2ca02c',
  hla: '#d62728',
};
/** Colours for other methods (plugins, variants such as ttq:init=mean), none of the built-ins'. */
const OTHER_COLORS = [
  '#9467bd',
  '#e377c2',
  '#17becf',
  '#bcbd22',
  '#393b79',
  '#7b4173',
  '#637939',
  '#8c6d31',
  '#5254a3',
  '#ce6dbd',
  '#843c39',
  '#3182bd',
];

/** FNV-1a: a small, stable hash of a method name. */
function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * One colour per method, used by every chart (and the table's swatches). The
 * built-ins have fixed colours; any other method gets one from its name's
 * hash, so it keeps its colour from report to report; if two methods of one
 * report hash to the same colour, the later name (alphabetically) takes the
 * next free one.
 */
export function methodColors(methods: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const used = new Set<string>();
  for (const m of methods) {
    const c = METHOD_COLORS[m];
    if (c) {
      out.set(m, c);
      used.add(c);
    }
  }
  for (const m of [...new Set(methods)].filter((x) => !out.has(x)).sort()) {
    const start = hashName(m) % OTHER_COLORS.length;
    let c = OTHER_COLORS[start]!;
    for (let k = 1; k < OTHER_COLORS.length && used.has(c); k++)
      c = OTHER_COLORS[(start + k) % OTHER_COLORS.length]!;
    out.set(m, c);
    used.add(c);
  }
  return out;
}

/** `#rrggbb` with an alpha channel (00-ff). */
const translucent = (hex: string, alpha = '33') => `${hex}${alpha}`;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Script-safe JSON (no `</script>` can close the tag early). */
function jsonForScript(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c');
}

function lineChart(
  id: string,
  title: string,
  caption: string,
  xLabel: string,
  yLabel: string,
  datasets: object[],
): ChartSpec {
  return {
    id,
    title,
    caption,
    config: {
      type: 'line',
      data: { datasets },
      options: {
        animation: false,
        parsing: false,
        scales: {
          // Epochs are whole numbers: no 0.5-epoch ticks on short runs.
          x: { type: 'linear', title: { display: true, text: xLabel }, ticks: { precision: 0 } },
          y: { title: { display: true, text: yLabel } },
        },
        plugins: { legend: { position: 'right' } },
      },
    },
  };
}

/** The quantizer a run trained with (a method label may be a variant such as `ttq:init=mean`). */
const quantizerOf = (r: RunResult): string => r.quantizer.name;
/** `seed 0`, or `ttq:init=mean, seed 0` for a variant. */
const which = (r: RunResult): string =>
  r.method === quantizerOf(r) ? `seed ${r.seed}` : `${r.method}, seed ${r.seed}`;

/** Per epoch over a method’s seeds (those that reached it): mean, lowest and highest test accuracy (%). */
function accuracyByEpoch(runs: readonly RunResult[]) {
  const epochs = [...new Set(runs.flatMap((r) => r.history.map((h) => h.epoch)))].sort(
    (a, b) => a - b,
  );
  return epochs.map((epoch) => {
    const ys = runs.flatMap((r) =>
      r.history.filter((h) => h.epoch === epoch).map((h) => h.testAccuracy * 100),
    );
    return { epoch, mean: mean(ys), min: Math.min(...ys), max: Math.max(...ys) };
  });
}

/**
 * Test accuracy per epoch: per method, the mean over its seeds as a line and,
 * with two seeds or more, the band from the lowest to the highest seed (two
 * datasets kept out of the legend, the second filled to the first).
 */
function accuracyChart(
  byMethod: readonly (readonly [string, readonly RunResult[]])[],
  colors: ReadonlyMap<string, string>,
): ChartSpec {
  const datasets = byMethod.flatMap(([method, rs]) => {
    const c = colors.get(method)!;
    const points = accuracyByEpoch(rs);
    const line = {
      label:
        rs.length === 1
          ? `${method} (seed ${rs[0]!.seed})`
          : `${method} (mean of ${rs.length} seeds)`,
      data: points.map((p) => ({ x: p.epoch, y: p.mean })),
      borderColor: c,
      backgroundColor: c,
    };
    if (rs.length < 2) return [line];
    const edge = (label: string, key: 'min' | 'max', fill: string | boolean) => ({
      label: `${method}: ${label} over seeds`,
      data: points.map((p) => ({ x: p.epoch, y: p[key] })),
      borderColor: translucent(c, '66'),
      backgroundColor: translucent(c, '26'),
      borderWidth: 1,
      pointRadius: 0,
      fill,
      hideInLegend: true,
    });
    return [edge('highest', 'max', false), edge('lowest', 'min', '-1'), line];
  });
  return lineChart(
    'accuracy',
    'Test accuracy per epoch',
    'Evaluated with the quantized weights after every epoch. Lines: the mean over a method’s seeds; ' +
      'shaded band: from its lowest to its highest seed at each epoch (methods with two seeds or more).',
    'epoch',
    'test accuracy (%)',
    datasets,
  );
}

/** Marker shapes of the accuracy-against-memory chart: fixed for the built-ins, from the name's hash for others. */
const METHOD_MARKERS: Readonly<Record<string, string>> = {
  fp32: 'circle',
  bwn: 'rect',
  twn: 'triangle',
  ttq: 'rectRot',
  sq: 'star',
  hla: 'crossRot',
};
const OTHER_MARKERS = ['circle', 'rect', 'triangle', 'rectRot', 'rectRounded', 'cross'];
const markerOf = (method: string) =>
  METHOD_MARKERS[method] ?? OTHER_MARKERS[hashName(method) % OTHER_MARKERS.length]!;

/** The nearest of 1, 2, 5 × 10^k below or above v > 0: an axis end whose tick label reads well. */
export function niceLog(v: number, direction: 'down' | 'up'): number {
  const k = Math.floor(Math.log10(v));
  const steps = [1, 2, 5, 10].map((m) => m * 10 ** k);
  return direction === 'down'
    ? steps.filter((x) => x <= v * (1 + 1e-12)).at(-1)!
    : steps.find((x) => x >= v * (1 - 1e-12))!;
}

/**
 * The methods that no other beats on both axes (less or equal memory and
 * higher mean accuracy), by increasing memory: the Pareto front.
 */
export function paretoFront<T extends { x: number; y: number }>(points: readonly T[]): T[] {
  const sorted = [...points].sort((a, b) => a.x - b.x || b.y - a.y);
  const front: T[] = [];
  for (const p of sorted) if (!front.length || p.y > front.at(-1)!.y) front.push(p);
  return front;
}

/**
 * Accuracy against weight memory, one point per method with its 95% CI as a
 * vertical bar (chartjs-chart-error-bars), the Pareto front dashed.
 */
function paretoChart(
  summary: readonly MethodSummary[],
  byMethod: ReadonlyMap<string, readonly RunResult[]>,
  colors: ReadonlyMap<string, string>,
): ChartSpec {
  const points = summary.map((m) => {
    const memory = (byMethod.get(m.method) ?? []).map((r) => r.weightMemoryBytes / 1024);
    const [lo, hi] = [Math.min(...memory), Math.max(...memory)];
    return {
      method: m.method,
      n: m.seeds.length,
      x: m.weightMemoryBytes / 1024,
      y: m.accuracyMean * 100,
      ...(m.accuracyCi95 ? { yMin: m.accuracyCi95[0] * 100, yMax: m.accuracyCi95[1] * 100 } : {}),
      // SQ's bit-widths, hence its memory, can differ between seeds.
      ...(hi > lo ? { xMin: lo, xMax: hi } : {}),
    };
  });
  const front = paretoFront(points);
  const datasets: object[] = points.map(({ method, n, ...point }) => {
    const c = colors.get(method)!;
    return {
      label: `${method} (n = ${n})`,
      data: [point],
      borderColor: c,
      // Half-filled markers of different shapes: methods at the same spot stay visible.
      backgroundColor: translucent(c, '80'),
      borderWidth: 2,
      pointStyle: markerOf(method),
      radius: 7,
      hoverRadius: 9,
      errorBarColor: c,
      errorBarWhiskerColor: c,
      errorBarLineWidth: 2,
      errorBarWhiskerLineWidth: 2,
      errorBarWhiskerSize: 14,
      // Markers on the axis's edge (100 %) are drawn whole; bars cut just past it.
      clip: { left: 10, top: 10, right: 10, bottom: 10 },
    };
  });
  // Room around the points on the log axis (a factor, not an offset), so none sits on its edge.
  const xs = points.flatMap((p) => [p.x, p.xMin ?? p.x, p.xMax ?? p.x]);
  // Accuracy lies in [0, 100] %; a t interval of few seeds can reach past it: the bar is cut at the edge.
  const ends = summary.flatMap((m) => m.accuracyCi95?.map((v) => v * 100) ?? []);
  if (front.length > 1)
    datasets.push({
      type: 'line',
      label: 'Pareto front (mean accuracy)',
      data: front.map((p) => ({ x: p.x, y: p.y })),
      borderColor: '#555555',
      backgroundColor: '#555555',
      borderDash: [6, 4],
      borderWidth: 1.5,
      pointRadius: 0,
      pointStyle: 'line',
      fill: false,
    });
  return {
    id: 'pareto',
    title: 'Test accuracy against weight memory',
    caption:
      'One point per method: the mean final test accuracy over its seeds, with its 95% Student-t interval as a bar ' +
      '(none for n = 1), against its weight memory (log scale; a horizontal bar spans the seeds’ memory where it differs). ' +
      'The dashed line joins the methods no other beats with less memory (the Pareto front).',
    config: {
      type: 'scatterWithErrorBars',
      data: { datasets },
      options: {
        animation: false,
        layout: { padding: { top: 12 } },
        scales: {
          x: {
            type: 'logarithmic',
            title: { display: true, text: 'weight memory (KiB, log scale)' },
            min: niceLog(Math.min(...xs) / 1.25, 'down'),
            max: niceLog(Math.max(...xs) * 1.25, 'up'),
          },
          y: {
            title: { display: true, text: 'test accuracy (%), mean and 95% CI' },
            ...(ends.some((v) => v > 100) ? { max: 100 } : {}),
            ...(ends.some((v) => v < 0) ? { min: 0 } : {}),
          },
        },
        plugins: { legend: { position: 'right', labels: { usePointStyle: true } } },
      },
    },
  };
}

/**
 * Each method's gap to FP32 with its paired 95% interval (a forest plot of the
 * table's two gap columns): horizontal bars, whiskers from two pairs on.
 * None without an FP32 row to pair with.
 */
function gapChart(
  summary: readonly MethodSummary[],
  colors: ReadonlyMap<string, string>,
): ChartSpec | undefined {
  const rows = summary.filter((m) => m.gapToFp32 !== null && m.pairedToFp32);
  if (!rows.length) return undefined;
  const pairs = (m: MethodSummary) => m.pairedToFp32!.seeds.length;
  return {
    id: 'gaps',
    title: 'Gap to FP32, paired by seed',
    caption:
      'Each method’s mean test accuracy minus FP32’s, in points. Whiskers: the 95% Student-t interval of the ' +
      'per-seed differences (method − FP32 of the same seed), drawn from 2 pairs on; whiskers across 0 mean no ' +
      'difference from FP32 is shown with these seeds.',
    config: {
      type: 'barWithErrorBars',
      data: {
        labels: rows.map((m) => `${m.method} (${pairs(m)} ${pairs(m) === 1 ? 'pair' : 'pairs'})`),
        datasets: [
          {
            label: 'gap to FP32 (points)',
            data: rows.map((m) => ({
              x: m.gapToFp32!,
              ...(m.gapToFp32Ci95 ? { xMin: m.gapToFp32Ci95[0], xMax: m.gapToFp32Ci95[1] } : {}),
            })),
            backgroundColor: rows.map((m) => translucent(colors.get(m.method)!, '99')),
            borderColor: rows.map((m) => colors.get(m.method)!),
            borderWidth: 1.5,
            // A few methods must not make slabs of their bars.
            maxBarThickness: 36,
            errorBarColor: '#222222',
            errorBarWhiskerColor: '#222222',
            errorBarLineWidth: 1.5,
            errorBarWhiskerLineWidth: 1.5,
            errorBarWhiskerSize: 10,
          },
        ],
      },
      options: {
        animation: false,
        indexAxis: 'y',
        scales: {
          x: { title: { display: true, text: 'gap to FP32 (points), mean and paired 95% CI' } },
        },
        plugins: { legend: { display: false } },
      },
    },
  };
}

/**
 * The charts of the page. Methods are listed in the summary table's order
 * (methods missing from it last, alphabetically), runs by seed, so legends
 * read like the table; every method keeps its colour ({@link methodColors}).
 * The method-specific charts (TTQ, SQ, HLA) show the first such run.
 */
function charts(
  runs: readonly RunResult[],
  summary: readonly MethodSummary[],
  colors: ReadonlyMap<string, string>,
): ChartSpec[] {
  const sorted = inTableOrder(runs, summary);
  const methods = [...new Set(sorted.map((r) => r.method))];
  const byMethod = new Map(methods.map((m) => [m, sorted.filter((r) => r.method === m)]));
  const first = (quantizer: string) => sorted.find((r) => quantizerOf(r) === quantizer);
  const ttq = first('ttq');
  const sq = first('sq');
  const hla = first('hla');
  return [
    paretoChart(summary, byMethod, colors),
    gapChart(summary, colors),
    accuracyChart([...byMethod], colors),
    sparsityChart(methods, byMethod, colors),
    ...(ttq ? ttqCharts(ttq) : []),
    sq && sqBitsChart(sq, colors),
    hla && hlaCosineChart(hla),
  ].filter((c): c is ChartSpec => c !== undefined);
}

/** Runs in the summary table's method order (others last, alphabetically), then by seed. */
function inTableOrder(runs: readonly RunResult[], summary: readonly MethodSummary[]): RunResult[] {
  const methodOrder = summary.map((m) => m.method);
  const rank = (method: string) => {
    const i = methodOrder.indexOf(method);
    return i < 0 ? methodOrder.length : i;
  };
  return [...runs].sort(
    (a, b) =>
      rank(a.method) - rank(b.method) || a.method.localeCompare(b.method) || a.seed - b.seed,
  );
}

/** Epoch 0 = before training, so TTQ/HLA curves start at their initial values. */
const withInitial = (r: RunResult) => [{ epoch: 0, layers: r.initialLayers ?? [] }, ...r.history];

/** Per-layer sparsity at the end of training, one bar group per layer, one bar per method (mean over seeds); none without quantized layers. */
function sparsityChart(
  methods: readonly string[],
  byMethod: ReadonlyMap<string, readonly RunResult[]>,
  colors: ReadonlyMap<string, string>,
): ChartSpec | undefined {
  const quantized = (r: RunResult) => r.history.at(-1)!.layers.filter((l) => l.bits < 32);
  const quantMethods = methods.filter((m) => byMethod.get(m)!.some((r) => quantized(r).length));
  const layerNames = [
    ...new Set(
      quantMethods.flatMap((m) =>
        byMethod.get(m)!.flatMap((r) => quantized(r).map((l) => l.layer)),
      ),
    ),
  ];
  if (!layerNames.length) return undefined;
  return {
    id: 'sparsity',
    title: 'Per-layer sparsity (share of zero codes) at the end of training',
    caption:
      'Mean over each method’s seeds. Quantized layers only; FP32 first/last layers are left out.',
    config: {
      type: 'bar',
      data: {
        labels: layerNames,
        datasets: quantMethods.map((m) => {
          const rs = byMethod.get(m)!;
          return {
            label: rs.length === 1 ? m : `${m} (mean of ${rs.length} seeds)`,
            data: layerNames.map((n) => {
              const shares = rs.flatMap((r) =>
                quantized(r)
                  .filter((l) => l.layer === n)
                  .map((l) => l.share.zero * 100),
              );
              return shares.length ? mean(shares) : null;
            }),
            backgroundColor: colors.get(m)!,
          };
        }),
      },
      options: {
        animation: false,
        scales: { y: { title: { display: true, text: 'zero codes (%)' } } },
      },
    },
  };
}

/** TTQ's Figure 2: `Wp`, `−Wn` per layer, and the code shares, over training. */
function ttqCharts(ttq: RunResult): ChartSpec[] {
  const layers = ttq.history[0]!.layers.filter((l) => l.bits < 32).map((l) => l.layer);
  const series = (key: 'wp' | 'wn') =>
    layers.map((name, i) => ({
      label: `${name} ${key === 'wp' ? 'Wp' : 'Wn'}`,
      data: withInitial(ttq).map((h) => {
        const l = h.layers.find((x) => x.layer === name);
        const v = l?.scales[key];
        return { x: h.epoch, y: typeof v === 'number' ? (key === 'wn' ? -v : v) : null };
      }),
      borderColor: color(i),
      backgroundColor: color(i),
      borderDash: key === 'wn' ? [4, 3] : [],
    }));
  return [
    lineChart(
      'ttq-scales',
      `TTQ: Wp and −Wn per layer over training (${which(ttq)})`,
      'As in the TTQ paper’s Figure 2: solid lines are Wp, dashed lines −Wn.',
      'epoch',
      'scale',
      [...series('wp'), ...series('wn')],
    ),
    lineChart(
      'ttq-shares',
      `TTQ: share of negative / zero / positive codes over training (${which(ttq)})`,
      'Averaged over the quantized layers, weighted by their number of weights.',
      'epoch',
      'share (%)',
      (['negative', 'zero', 'positive'] as const).map((k, i) => ({
        label: k,
        data: withInitial(ttq).map((h) => {
          const ls = h.layers.filter((l) => l.bits < 32);
          const n = ls.reduce((a, l) => a + l.numWeights, 0);
          return {
            x: h.epoch,
            y: (100 * ls.reduce((a, l) => a + l.share[k] * l.numWeights, 0)) / Math.max(1, n),
          };
        }),
        borderColor: color(i),
        backgroundColor: color(i),
      })),
    ),
  ];
}

/** SQ: each layer's final bit-width and kernel memory, against all-ternary. */
function sqBitsChart(sq: RunResult, colors: ReadonlyMap<string, string>): ChartSpec {
  const last = sq.history.at(-1)!.layers.filter((l) => l.quantizer === 'sq');
  return {
    id: 'sq-bits',
    title: `SQ: per-layer bit-width and weight memory vs all-ternary (${which(sq)})`,
    caption:
      'Bars: memory of each layer’s kernel at its final bit-width (1 binary, 2 ternary) and if it were ternary.',
    config: {
      type: 'bar',
      data: {
        labels: last.map((l) => `${l.layer} (${l.bits}-bit)`),
        datasets: [
          {
            label: `${sq.method} (KiB)`,
            data: last.map((l) => (l.numWeights * l.bits) / 8 / 1024),
            backgroundColor: colors.get(sq.method)!,
          },
          {
            // The same method's colour, hollow: not another method.
            label: 'all-ternary (KiB)',
            data: last.map((l) => (l.numWeights * 2) / 8 / 1024),
            backgroundColor: translucent(colors.get(sq.method)!, '40'),
            borderColor: colors.get(sq.method)!,
            borderWidth: 1.5,
          },
        ],
      },
      options: { animation: false, scales: { y: { title: { display: true, text: 'KiB' } } } },
    },
  };
}

/** HLA: cos(W, T) per layer over training. */
function hlaCosineChart(hla: RunResult): ChartSpec {
  const layers = hla.history[0]!.layers.filter((l) => l.quantizer === 'hla').map((l) => l.layer);
  return lineChart(
    'hla-cosine',
    `HLA: cosine between W and its ternary projection T, per layer (${which(hla)})`,
    'The hyperspherical regularizer pulls each layer’s direction towards its ternary projection.',
    'epoch',
    'cos(W, T)',
    layers.map((name, i) => ({
      label: name,
      data: withInitial(hla).map((h) => ({
        x: h.epoch,
        y: h.layers.find((l) => l.layer === name)?.extra?.cosine ?? null,
      })),
      borderColor: color(i),
      backgroundColor: color(i),
    })),
  );
}

/** Dash patterns telling the seeds of one colour apart. */
const DASHES = [[], [6, 3], [2, 2], [8, 3, 2, 3], [12, 4]];

/** The FP32 pre-training's test accuracy per epoch, one line per seed, in FP32's colour. */
function pretrainingChart(
  pretraining: readonly PretrainingResult[],
  colors: ReadonlyMap<string, string>,
): ChartSpec {
  const c = colors.get('fp32')!;
  return lineChart(
    'pretrain-accuracy',
    'FP32 pre-training: test accuracy per epoch',
    'The FP32 model every method is fine-tuned from, one per seed.',
    'epoch',
    'test accuracy (%)',
    pretraining.map((p, i) => ({
      label: `FP32 pre-training (seed ${p.seed})`,
      data: p.history.map((h) => ({ x: h.epoch, y: h.testAccuracy * 100 })),
      borderColor: c,
      backgroundColor: c,
      borderDash: DASHES[i % DASHES.length],
    })),
  );
}

/** The UMD bundles of Chart.js and of chartjs-chart-error-bars (which registers itself on the global Chart). */
function chartJsSources(): string[] {
  const require = createRequire(import.meta.url);
  // Their exports maps hide the UMD bundles; each sits next to the CommonJS entry.
  const umd = (pkg: string, file: string) =>
    readFileSync(path.join(path.dirname(require.resolve(pkg)), file), 'utf8');
  return [umd('chart.js', 'chart.umd.min.js'), umd('chartjs-chart-error-bars', 'index.umd.min.js')];
}

export interface ReportContext {
  readonly title: string;
  readonly command: string;
  readonly backend: string;
  readonly machine: string;
  readonly generatedAt: string;
  /** Notes printed under the summary table (what its columns mean). */
  readonly notes?: readonly string[];
}

/**
 * A self-contained HTML page (Chart.js and its error-bar plugin inlined, no
 * network) with the summary table, the FP32 pre-training every method started
 * from (finetune protocol: one line per seed and its test accuracy per epoch)
 * and the charts: accuracy against weight memory with 95% CIs (the Pareto
 * view), each method's gap to FP32 with its paired 95% CI, accuracy per
 * epoch (mean and spread over seeds), per-layer sparsity, TTQ's scales and
 * code shares over training, SQ's bit-widths and memory, HLA's cosine. A
 * method has one colour in every chart and in the table.
 */
export function renderReport(
  runs: readonly RunResult[],
  summary: readonly MethodSummary[],
  ctx: ReportContext,
  pretraining: readonly PretrainingResult[] = [],
): string {
  const colors = methodColors([
    'fp32',
    ...summary.map((m) => m.method),
    ...runs.map((r) => r.method),
  ]);
  const specs = [
    ...(pretraining.length ? [pretrainingChart(pretraining, colors)] : []),
    ...charts(runs, summary, colors),
  ];
  const pretrainingSection = pretraining.length
    ? `<section id="pretraining"><h2>${escapeHtml(PRETRAINING_TITLE)}</h2>` +
      `<p class="caption">${escapeHtml(PRETRAINING_NOTE)}</p>` +
      `<ul>${pretrainingLines(pretraining)
        .map((l) => `<li>${escapeHtml(l)}</li>`)
        .join('')}</ul></section>\n`
    : '';
  const table = summaryMarkdown(summary)
    .trim()
    .split('\n')
    .filter((_, i) => i !== 1)
    .map((line, i) => {
      const cells = line
        .split('|')
        .slice(1, -1)
        .map((c) => escapeHtml(c.trim()));
      const tag = i === 0 ? 'th' : 'td';
      // The method's colour in the charts, before its name.
      const swatch = i === 0 ? undefined : colors.get(summary[i - 1]!.method);
      if (swatch) cells[0] = `<span class="swatch" style="background:${swatch}"></span>${cells[0]}`;
      return `<tr>${cells.map((c) => `<${tag}>${c}</${tag}>`).join('')}</tr>`;
    })
    .join('\n');
  const sections = specs
    .map(
      (s) =>
        `<section><h2>${escapeHtml(s.title)}</h2><p class="caption">${escapeHtml(s.caption)}</p><div class="chart"><canvas id="${s.id}"></canvas></div></section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(ctx.title)}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; padding: 0 1em; }
.table { overflow-x: auto; }
table { border-collapse: collapse; margin: 1em 0; }
.swatch { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.4em; vertical-align: -0.05em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
td { white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
.chart { position: relative; height: ${CHART_HEIGHT}px; }
.caption, .meta { color: #555; }
code { background: #f4f4f4; padding: 1px 4px; }
</style>
</head>
<body>
<h1>${escapeHtml(ctx.title)}</h1>
<p class="meta">Command: <code>${escapeHtml(ctx.command)}</code><br>Backend: ${escapeHtml(ctx.backend)}<br>Machine: ${escapeHtml(ctx.machine)}<br>Generated: ${escapeHtml(ctx.generatedAt)}</p>
<div class="table"><table>
${table}
</table></div>
${(ctx.notes ?? []).map((n) => `<p class="caption">${escapeHtml(n)}</p>\n`).join('')}${pretrainingSection}${sections}
${chartJsSources()
  .map((src) => `<script>${src}</script>`)
  .join('\n')}
<script>
// Bands of spread over seeds are drawn but kept out of the legends.
Chart.defaults.plugins.legend.labels.filter = (item, data) => !data.datasets[item.datasetIndex].hideInLegend;
const specs = ${jsonForScript(specs.map((s) => ({ id: s.id, config: s.config })))};
// Log axes label 1, 2 and 5 x 10^k only: Chart.js's own labels also name every tick in the
// axis's last fifth, where 900 and 1,000 run into each other.
const logTickLabel = (v) => {
  const m = v / Math.pow(10, Math.floor(Math.log10(v) + 1e-9));
  return [1, 2, 5].some((x) => Math.abs(m - x) < 1e-6) ? v.toLocaleString('en-US') : '';
};
for (const s of specs) {
  s.config.options = Object.assign({ maintainAspectRatio: false, responsive: true }, s.config.options);
  for (const axis of Object.values(s.config.options.scales || {}))
    if (axis.type === 'logarithmic') axis.ticks = Object.assign({}, axis.ticks, { callback: logTickLabel });
  // A long legend (a sweep of many methods) does not fit beside the chart: it goes
  // under it, and the chart grows by a row of entries per ${LEGEND_PER_ROW}.
  const shown = s.config.data.datasets.filter((d) => !d.hideInLegend).length;
  const canvas = document.getElementById(s.id);
  if (shown > ${LONG_LEGEND}) {
    const plugins = (s.config.options.plugins = s.config.options.plugins || {});
    plugins.legend = Object.assign({}, plugins.legend, { position: 'bottom' });
    canvas.parentElement.style.height = (${CHART_HEIGHT} + ${LEGEND_ROW_HEIGHT} * Math.ceil(shown / ${LEGEND_PER_ROW})) + 'px';
  }
  new Chart(canvas, s.config);
}
</script>
</body>
</html>
`;
}
