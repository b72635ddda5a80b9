import path from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import {
  type MethodSummary,
  pretrainingMarkdown,
  runsCsv,
  statisticsNote,
  summarize,
  summaryMarkdown,
} from './aggregate.js';
import { renderReport } from './report.js';
import type { PretrainingResult, RunResult } from './run.js';
import { negativeScalesLine, runawayScalesLine } from './warnings.js';

/** What results.json records besides the runs. */
export interface BenchMeta {
  readonly preset: string;
  readonly command: string;
  readonly config: Record<string, unknown>;
  readonly backend: Record<string, unknown>;
  readonly versions: Record<string, string>;
  readonly machine: Record<string, unknown>;
  readonly methodOrder: readonly string[];
}

/** Options of {@link writeBenchOutputs}. */
export interface OutputOptions {
  /**
   * A method every other one is also compared with, paired by seed, besides
   * FP32 (two more columns in the tables; see summarize). Must have runs.
   */
  readonly reference?: string;
  /** The fully resolved study the runs followed, recorded as results.json's `study`. */
  readonly study?: unknown;
}

const MACHINE_KEYS = ['cpu', 'cores', 'memoryGiB', 'platform', 'node'];

/**
 * The backend as one line, e.g. `tensorflow (TensorFlow 2.21.0, oneDNN on, 2 threads)`:
 * what the speed columns depend on. Fields a record lacks (older
 * results.json) are left out.
 */
export function formatBackend(backend: Record<string, unknown>): string {
  const parts = [
    typeof backend.tensorflowVersion === 'string' ? `TensorFlow ${backend.tensorflowVersion}` : '',
    typeof backend.oneDNN === 'boolean' ? `oneDNN ${backend.oneDNN ? 'on' : 'off'}` : '',
    typeof backend.threads === 'number'
      ? `${backend.threads} thread${backend.threads === 1 ? '' : 's'}`
      : '',
  ].filter(Boolean);
  const name = typeof backend.name === 'string' && backend.name ? backend.name : 'unknown';
  return `${name}${parts.length ? ` (${parts.join(', ')})` : ''}`;
}

/**
 * The machine of {@link machineInfo} as one readable line, e.g.
 * `AMD EPYC 9B14, 2 cores, 24 GiB RAM, linux 6.18.44 x64, Node v20.20.2`.
 * Missing or unknown fields are left out (results.json of older versions);
 * keys it does not know are appended as `key: value`.
 */
export function formatMachine(machine: unknown): string {
  if (typeof machine === 'string') return machine.trim() || 'unknown';
  if (machine === null || typeof machine !== 'object') return 'unknown';
  const m = machine as Record<string, unknown>;
  const text = (v: unknown): string =>
    typeof v === 'string'
      ? v.replace(/\s+/g, ' ').trim()
      : typeof v === 'number' && Number.isFinite(v)
        ? String(v)
        : '';
  const parts: string[] = [];
  const cpu = text(m.cpu);
  if (cpu && cpu.toLowerCase() !== 'unknown') parts.push(cpu);
  const cores = text(m.cores);
  if (cores) parts.push(`${cores} core${cores === '1' ? '' : 's'}`);
  const memory = text(m.memoryGiB);
  if (memory) parts.push(`${memory} GiB RAM`);
  const platform = text(m.platform);
  if (platform) parts.push(platform);
  const node = text(m.node);
  if (node) parts.push(`Node ${node}`);
  for (const [key, value] of Object.entries(m)) {
    if (MACHINE_KEYS.includes(key) || value === undefined || value === null) continue;
    const v = typeof value === 'object' ? JSON.stringify(value) : text(value) || String(value);
    if (v) parts.push(`${key}: ${v}`);
  }
  return parts.join(', ') || 'unknown';
}

/**
 * What the runs ran on, as one line: each run's own record of its backend or
 * machine, or `fallback` (this invocation's) for runs written before runs
 * recorded it. Runs on several (a campaign resumed on another machine, or
 * shards with different thread counts) list each with its number of runs,
 * most runs first, so a reader can tell which speeds come from where.
 */
function ranOn(
  runs: readonly RunResult[],
  key: 'backend' | 'machine',
  fallback: string,
  format: (record: Record<string, unknown>) => string,
): string {
  const counts = new Map<string, number>();
  for (const r of runs) {
    const record = r[key];
    const line = record ? format(record) : fallback;
    counts.set(line, (counts.get(line) ?? 0) + 1);
  }
  if (counts.size <= 1) return [...counts.keys()][0] ?? fallback;
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([line, n]) => `${line} (${n} run${n === 1 ? '' : 's'})`)
    .join('; ');
}

/**
 * Writes results.json, results.csv, summary.md and report.html into `outDir`.
 * `pretraining` (finetune protocol, from {@link collectPretraining}) adds the
 * FP32 pre-training of each seed to results.json, summary.md and the report;
 * without it (scratch protocol) nothing is added. `options.reference` adds
 * the paired comparison with that method; `options.study` is recorded.
 */
export function writeBenchOutputs(
  outDir: string,
  runs: readonly RunResult[],
  meta: BenchMeta,
  pretraining: readonly PretrainingResult[] = [],
  options: OutputOptions = {},
): MethodSummary[] {
  const summary = summarize(runs, meta.methodOrder, { reference: options.reference });
  const generatedAt = new Date().toISOString();
  // Every output is rendered before any is written, so a failure leaves the
  // folder's previous outputs as they were (never a new results.json beside an
  // old summary.md).
  const resultsJson = `${JSON.stringify(
    {
      ...meta,
      generatedAt,
      ...(options.study === undefined ? {} : { study: options.study }),
      ...(options.reference === undefined ? {} : { reference: options.reference }),
      summary,
      ...(pretraining.length ? { pretraining } : {}),
      runs,
    },
    null,
    1,
  )}\n`;
  const csv = runsCsv(runs);
  const backend = ranOn(runs, 'backend', formatBackend(meta.backend), formatBackend);
  const machine = ranOn(runs, 'machine', formatMachine(meta.machine), formatMachine);
  const finetune = runs.some((r) => r.protocol === 'finetune') || pretraining.length > 0;
  const excluded = finetune
    ? `checkpoint writes and the FP32 pre-training${pretraining.length ? ' (listed below)' : ''} are not included`
    : 'checkpoint writes are not included';
  // Runs written before the evaluation was timed (e.g. merged from older folders) have training time only.
  const untimed = runs.filter((r) => r.history.some((h) => h.evalSeconds === undefined)).length;
  const notes = [
    'Test accuracy is the final epoch’s, evaluated with the quantized weights.',
    statisticsNote(summary),
    'Weight memory counts quantized kernels at their bit-width and everything else (first/last layers, biases, BatchNorm) at 32 bits; ' +
      'bits / quantized weight is Σ N·bits / Σ N over the quantized layers at the end of training (1 all binary, 2 all ternary; SQ mixes them).',
    'Sparsity is the share of zero codes over the quantized layers. ' +
      `Wall time, summed over a method’s seeds, is the training plus the test evaluation after every epoch; ${excluded}.` +
      (untimed
        ? ` ${untimed} of the runs ${untimed === 1 ? 'was' : 'were'} written before the evaluation was timed: ${untimed === 1 ? 'its' : 'their'} wall time is training only.`
        : ''),
    // docs/algorithms.md#ttq: report a TTQ scale that went negative (any quantizer's, here).
    ...runs.flatMap((r) => {
      const last = r.history.at(-1)?.layers ?? [];
      return [negativeScalesLine(last), runawayScalesLine(r.initialLayers, last)].flatMap((line) =>
        line ? [`Warning: ${r.method} seed ${r.seed} ended with ${line}.`] : [],
      );
    }),
  ];
  const md = [
    `# trit bench: ${meta.preset}`,
    '',
    `Command: \`${meta.command}\``,
    '',
    `Backend: ${backend}. Machine: ${machine}.`,
    '',
    summaryMarkdown(summary),
    ...notes,
    '',
    // After the table: the FP32 pre-training every method started from (finetune protocol).
    ...(pretraining.length ? [pretrainingMarkdown(pretraining)] : []),
  ].join('\n');
  const html = renderReport(
    runs,
    summary,
    {
      title: `trit bench: ${meta.preset}`,
      command: meta.command,
      backend,
      machine,
      generatedAt,
      notes,
    },
    pretraining,
  );
  const files: [string, string][] = [
    ['results.json', resultsJson],
    ['results.csv', csv],
    ['summary.md', md],
    ['report.html', html],
  ];
  for (const [name, text] of files) writeFileAtomic(path.join(outDir, name), text);
  return summary;
}
