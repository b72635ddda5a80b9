import type { PretrainingResult, RunResult } from './run.js';

/** One row of the summary table: a method over its seeds. */
export interface MethodSummary {
  readonly method: string;
  readonly seeds: readonly number[];
  /** Final test accuracy, mean and sample standard deviation over seeds (0 for one seed). */
  readonly accuracyMean: number;
  readonly accuracyStd: number;
  /** accuracyMean − FP32's accuracyMean, in points (null without an FP32 run). */
  readonly gapToFp32: number | null;
  readonly weightMemoryBytes: number;
  readonly compressionRatio: number;
  readonly sparsity: number;
  readonly trainImagesPerSecond: number;
  readonly wallSeconds: number;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const std = (xs: readonly number[]) => {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
};

/** Groups runs by method, in `order` (then any others alphabetically). */
export function summarize(
  runs: readonly RunResult[],
  order: readonly string[] = [],
): MethodSummary[] {
  const methods = [...new Set(runs.map((r) => r.method))].sort((a, b) => {
    const ia = order.indexOf(a);
    const ib = order.indexOf(b);
    return (ia < 0 ? 1e9 : ia) - (ib < 0 ? 1e9 : ib) || a.localeCompare(b);
  });
  const fp32 = runs.filter((r) => r.method === 'fp32');
  const fp32Mean = fp32.length ? mean(fp32.map((r) => r.finalTestAccuracy)) : null;
  return methods.map((method) => {
    const rs = runs.filter((r) => r.method === method).sort((a, b) => a.seed - b.seed);
    const acc = rs.map((r) => r.finalTestAccuracy);
    return {
      method,
      seeds: rs.map((r) => r.seed),
      accuracyMean: mean(acc),
      accuracyStd: std(acc),
      gapToFp32: fp32Mean === null ? null : (mean(acc) - fp32Mean) * 100,
      weightMemoryBytes: mean(rs.map((r) => r.weightMemoryBytes)),
      compressionRatio: mean(rs.map((r) => r.compressionRatio)),
      sparsity: mean(rs.map((r) => r.sparsity)),
      trainImagesPerSecond: mean(rs.map((r) => r.trainImagesPerSecond)),
      wallSeconds: rs.reduce((a, r) => a + r.wallSeconds, 0),
    };
  });
}

function duration(seconds: number): string {
  return seconds < 120
    ? `${seconds.toFixed(1)} s`
    : seconds < 7200
      ? `${(seconds / 60).toFixed(1)} min`
      : `${(seconds / 3600).toFixed(2)} h`;
}

function kib(bytes: number): string {
  return bytes >= 1 << 20
    ? `${(bytes / (1 << 20)).toFixed(2)} MiB`
    : `${(bytes / 1024).toFixed(1)} KiB`;
}

/** The summary as a Markdown table. */
export function summaryMarkdown(rows: readonly MethodSummary[]): string {
  const lines = [
    '| method | seeds | test accuracy (%) | gap to FP32 (points) | weight memory | compression | sparsity | train images/s | wall time |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    const acc = `${(r.accuracyMean * 100).toFixed(2)} ± ${(r.accuracyStd * 100).toFixed(2)}`;
    const gap =
      r.gapToFp32 === null ? 'n/a' : `${r.gapToFp32 >= 0 ? '+' : ''}${r.gapToFp32.toFixed(2)}`;
    lines.push(
      `| ${r.method} | ${r.seeds.length} | ${acc} | ${gap} | ${kib(r.weightMemoryBytes)} | ${r.compressionRatio.toFixed(1)}x | ${(r.sparsity * 100).toFixed(1)}% | ${r.trainImagesPerSecond.toFixed(0)} | ${duration(r.wallSeconds)} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Heading of the FP32 pre-training part of summary.md and report.html. */
export const PRETRAINING_TITLE = 'FP32 pre-training (shared starting point of every method)';
/** The sentence under that heading. */
export const PRETRAINING_NOTE =
  'Every method in the table is fine-tuned from the FP32 model of its seed trained here; ' +
  'this pre-training is not in the table’s wall time.';

/**
 * One line per pre-trained seed (epochs, final and best test accuracy, speed,
 * wall time), then the mean ± standard deviation of the final accuracy when
 * there are several seeds. Empty without pre-training (scratch protocol).
 */
export function pretrainingLines(pretraining: readonly PretrainingResult[]): string[] {
  const lines = pretraining.map(
    (p) =>
      `seed ${p.seed}: ${p.epochs} epoch${p.epochs === 1 ? '' : 's'}, final test accuracy ${(p.finalTestAccuracy * 100).toFixed(2)}% ` +
      `(best ${(p.bestTestAccuracy * 100).toFixed(2)}%), ${p.trainImagesPerSecond.toFixed(0)} train images/s, wall time ${duration(p.wallSeconds)}`,
  );
  if (pretraining.length > 1) {
    const acc = pretraining.map((p) => p.finalTestAccuracy);
    lines.push(
      `mean over ${pretraining.length} seeds: final test accuracy ${(mean(acc) * 100).toFixed(2)} ± ${(std(acc) * 100).toFixed(2)}%, ` +
        `wall time ${duration(pretraining.reduce((a, p) => a + p.wallSeconds, 0))} in all`,
    );
  }
  return lines;
}

/** The FP32 pre-training part of summary.md ('' without pre-training). */
export function pretrainingMarkdown(pretraining: readonly PretrainingResult[]): string {
  if (!pretraining.length) return '';
  return [
    `## ${PRETRAINING_TITLE}`,
    '',
    PRETRAINING_NOTE,
    '',
    ...pretrainingLines(pretraining).map((l) => `- ${l}`),
    '',
  ].join('\n');
}

/** One CSV row per (method, seed) run. */
export function runsCsv(runs: readonly RunResult[]): string {
  const header = [
    'method',
    'seed',
    'epochs',
    'final_test_accuracy',
    'best_test_accuracy',
    'weight_memory_bytes',
    'float32_memory_bytes',
    'compression_ratio',
    'sparsity',
    'train_images_per_second',
    'wall_seconds',
    'params',
    'macs',
  ];
  const rows = [...runs]
    .sort((a, b) => a.method.localeCompare(b.method) || a.seed - b.seed)
    .map((r) =>
      [
        r.method,
        r.seed,
        r.epochs,
        r.finalTestAccuracy.toFixed(6),
        r.bestTestAccuracy.toFixed(6),
        r.weightMemoryBytes,
        r.float32MemoryBytes,
        r.compressionRatio.toFixed(4),
        r.sparsity.toFixed(6),
        r.trainImagesPerSecond.toFixed(2),
        r.wallSeconds.toFixed(2),
        r.params,
        r.macs,
      ].join(','),
    );
  return `${[header.join(','), ...rows].join('\n')}\n`;
}
