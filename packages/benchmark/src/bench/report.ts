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

/**
 * The charts of the page. Runs are listed in the summary table's method order
 * (methods missing from it last, alphabetically), then by seed, so legends
 * read like the table.
 */
function charts(runs: readonly RunResult[], methodOrder: readonly string[]): ChartSpec[] {
  const out: ChartSpec[] = [];
  const rank = (method: string) => {
    const i = methodOrder.indexOf(method);
    return i < 0 ? methodOrder.length : i;
  };
  const sorted = [...runs].sort(
    (a, b) =>
      rank(a.method) - rank(b.method) || a.method.localeCompare(b.method) || a.seed - b.seed,
  );
  out.push(
    lineChart(
      'accuracy',
      'Test accuracy per epoch',
      'Evaluated with the quantized weights after every epoch.',
      'epoch',
      'test accuracy (%)',
      sorted.map((r, i) => ({
        label: `${r.method} (seed ${r.seed})`,
        data: r.history.map((h) => ({ x: h.epoch, y: h.testAccuracy * 100 })),
        borderColor: color(i),
        backgroundColor: color(i),
      })),
    ),
  );

  // Per-layer sparsity at the end of training, one bar group per layer.
  const quantRuns = sorted.filter((r) => r.history.at(-1)!.layers.some((l) => l.bits < 32));
  const layerNames = [
    ...new Set(
      quantRuns.flatMap((r) =>
        r.history
          .at(-1)!
          .layers.filter((l) => l.bits < 32)
          .map((l) => l.layer),
      ),
    ),
  ];
  if (layerNames.length) {
    out.push({
      id: 'sparsity',
      title: 'Per-layer sparsity (share of zero codes) at the end of training',
      caption: 'Quantized layers only; FP32 first/last layers are left out.',
      config: {
        type: 'bar',
        data: {
          labels: layerNames,
          datasets: quantRuns.map((r, i) => {
            const last = r.history.at(-1)!.layers;
            return {
              label: `${r.method} (seed ${r.seed})`,
              data: layerNames.map((n) => {
                const l = last.find((x) => x.layer === n);
                return l ? l.share.zero * 100 : null;
              }),
              backgroundColor: color(i),
            };
          }),
        },
        options: {
          animation: false,
          scales: { y: { title: { display: true, text: 'zero codes (%)' } } },
        },
      },
    });
  }

  // Epoch 0 = before training, so TTQ/HLA curves start at their initial values.
  const withInitial = (r: RunResult) => [{ epoch: 0, layers: r.initialLayers ?? [] }, ...r.history];
  const ttq = sorted.find((r) => quantizerOf(r) === 'ttq');
  if (ttq) {
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
    out.push(
      lineChart(
        'ttq-scales',
        `TTQ: Wp and −Wn per layer over training (${which(ttq)})`,
        'As in the TTQ paper’s Figure 2: solid lines are Wp, dashed lines −Wn.',
        'epoch',
        'scale',
        [...series('wp'), ...series('wn')],
      ),
    );
    out.push(
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
    );
  }

  const sq = sorted.find((r) => quantizerOf(r) === 'sq');
  if (sq) {
    const last = sq.history.at(-1)!.layers.filter((l) => l.quantizer === 'sq');
    out.push({
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
              label: 'SQ (KiB)',
              data: last.map((l) => (l.numWeights * l.bits) / 8 / 1024),
              backgroundColor: color(0),
            },
            {
              label: 'all-ternary (KiB)',
              data: last.map((l) => (l.numWeights * 2) / 8 / 1024),
              backgroundColor: color(1),
            },
          ],
        },
        options: { animation: false, scales: { y: { title: { display: true, text: 'KiB' } } } },
      },
    });
  }

  const hla = sorted.find((r) => quantizerOf(r) === 'hla');
  if (hla) {
    const layers = hla.history[0]!.layers.filter((l) => l.quantizer === 'hla').map((l) => l.layer);
    out.push(
      lineChart(
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
      ),
    );
  }
  return out;
}

/** The FP32 pre-training's test accuracy per epoch, one line per seed. */
function pretrainingChart(pretraining: readonly PretrainingResult[]): ChartSpec {
  return lineChart(
    'pretrain-accuracy',
    'FP32 pre-training: test accuracy per epoch',
    'The FP32 model every method is fine-tuned from, one per seed.',
    'epoch',
    'test accuracy (%)',
    pretraining.map((p, i) => ({
      label: `FP32 pre-training (seed ${p.seed})`,
      data: p.history.map((h) => ({ x: h.epoch, y: h.testAccuracy * 100 })),
      borderColor: color(i),
      backgroundColor: color(i),
    })),
  );
}

function chartJsSource(): string {
  // chart.js's exports map hides its UMD bundle; it sits next to the CommonJS entry.
  const require = createRequire(import.meta.url);
  return readFileSync(
    path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js'),
    'utf8',
  );
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
 * A self-contained HTML page (Chart.js inlined, no network) with the summary
 * table, the FP32 pre-training every method started from (finetune protocol:
 * one line per seed and its test accuracy per epoch) and the charts: accuracy
 * per epoch, per-layer sparsity, TTQ's scales and code shares over training,
 * SQ's bit-widths and memory, HLA's cosine.
 */
export function renderReport(
  runs: readonly RunResult[],
  summary: readonly MethodSummary[],
  ctx: ReportContext,
  pretraining: readonly PretrainingResult[] = [],
): string {
  const methodOrder = summary.map((m) => m.method);
  const specs = [
    ...(pretraining.length ? [pretrainingChart(pretraining)] : []),
    ...charts(runs, methodOrder),
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
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.chart { position: relative; height: 380px; }
.caption, .meta { color: #555; }
code { background: #f4f4f4; padding: 1px 4px; }
</style>
</head>
<body>
<h1>${escapeHtml(ctx.title)}</h1>
<p class="meta">Command: <code>${escapeHtml(ctx.command)}</code><br>Backend: ${escapeHtml(ctx.backend)}<br>Machine: ${escapeHtml(ctx.machine)}<br>Generated: ${escapeHtml(ctx.generatedAt)}</p>
<table>
${table}
</table>
${(ctx.notes ?? []).map((n) => `<p class="caption">${escapeHtml(n)}</p>\n`).join('')}${pretrainingSection}${sections}
<script>${chartJsSource()}</script>
<script>
const specs = ${jsonForScript(specs.map((s) => ({ id: s.id, config: s.config })))};
for (const s of specs) {
  s.config.options = Object.assign({ maintainAspectRatio: false, responsive: true }, s.config.options);
  new Chart(document.getElementById(s.id), s.config);
}
</script>
</body>
</html>
`;
}
