import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type MethodSummary, runsCsv, summarize, summaryMarkdown } from './aggregate.js';
import { renderReport } from './report.js';
import type { RunResult } from './run.js';

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

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/** Writes results.json, results.csv, summary.md and report.html into `outDir`. */
export function writeBenchOutputs(
  outDir: string,
  runs: readonly RunResult[],
  meta: BenchMeta,
): MethodSummary[] {
  const summary = summarize(runs, meta.methodOrder);
  const generatedAt = new Date().toISOString();
  writeAtomic(
    path.join(outDir, 'results.json'),
    `${JSON.stringify({ ...meta, generatedAt, summary, runs }, null, 1)}\n`,
  );
  writeAtomic(path.join(outDir, 'results.csv'), runsCsv(runs));
  const backend = `${meta.backend.name}${meta.backend.tensorflowVersion ? ` (TensorFlow ${meta.backend.tensorflowVersion})` : ''}`;
  const machine = Object.values(meta.machine).join(', ');
  const md = [
    `# trit bench: ${meta.preset}`,
    '',
    `Command: \`${meta.command}\``,
    '',
    `Backend: ${backend}. Machine: ${machine}.`,
    '',
    summaryMarkdown(summary),
    'Test accuracy is the final epoch’s, evaluated with the quantized weights; ± is the standard deviation over seeds.',
    'Weight memory counts quantized kernels at their bit-width and everything else (first/last layers, biases, BatchNorm) at 32 bits.',
    'Sparsity is the share of zero codes over the quantized layers. Wall time is training + evaluation, pre-training excluded.',
    '',
  ].join('\n');
  writeAtomic(path.join(outDir, 'summary.md'), md);
  writeAtomic(
    path.join(outDir, 'report.html'),
    renderReport(runs, summary, {
      title: `trit bench: ${meta.preset}`,
      command: meta.command,
      backend,
      machine,
      generatedAt,
    }),
  );
  return summary;
}
