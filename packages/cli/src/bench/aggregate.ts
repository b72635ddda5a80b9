import type { PretrainingResult, RunResult } from './run.js';
import {
  ci95,
  type Interval,
  mean,
  type PairedDifference,
  pairedDifference,
  sampleStd,
} from './statistics.js';

/** One row of the summary table: a method over its seeds. */
export interface MethodSummary {
  readonly method: string;
  /** The seeds it ran, ascending; n = seeds.length. */
  readonly seeds: readonly number[];
  /** Final test accuracy, mean and sample standard deviation over seeds (0 for one seed: no spread). */
  readonly accuracyMean: number;
  readonly accuracyStd: number;
  /** 95% Student-t interval of accuracyMean (same units; null for one seed). */
  readonly accuracyCi95: Interval | null;
  /** accuracyMean − FP32's accuracyMean, in points (null without an FP32 run). */
  readonly gapToFp32: number | null;
  /**
   * 95% interval of the gap to FP32, paired by seed, in points: see
   * pairedToFp32. Null below two pairs, and for FP32 itself.
   */
  readonly gapToFp32Ci95: Interval | null;
  /** This method − FP32, paired by seed, in points (null for FP32 itself, without FP32, or without a common seed). */
  readonly pairedToFp32: PairedDifference | null;
  /** The chosen reference method (summarize's `reference`); only present when it is not FP32. */
  readonly reference?: string;
  /**
   * This method − the reference method, paired by seed, in points; present
   * with `reference` (null for the reference itself or without a common seed).
   */
  readonly pairedToReference?: PairedDifference | null;
  readonly weightMemoryBytes: number;
  /**
   * Mean over seeds of {@link bitsPerQuantizedWeight}: 1 all binary, 2 all
   * ternary, between for SQ's mix; null without quantized layers (FP32).
   */
  readonly bitsPerWeight: number | null;
  readonly compressionRatio: number;
  readonly sparsity: number;
  readonly trainImagesPerSecond: number;
  readonly wallSeconds: number;
}

/**
 * Bits per weight over a run's quantized layers at the end of training,
 * Σ N_l·b_l / Σ N_l (the FP32 first and last layers left out); null without
 * quantized layers.
 */
export function bitsPerQuantizedWeight(run: Pick<RunResult, 'history'>): number | null {
  const layers = (run.history.at(-1)?.layers ?? []).filter((l) => l.bits < 32);
  const weights = layers.reduce((a, l) => a + l.numWeights, 0);
  return weights ? layers.reduce((a, l) => a + l.numWeights * l.bits, 0) / weights : null;
}

/** Options of {@link summarize}. */
export interface SummaryOptions {
  /**
   * A method to compare every other method with, paired by seed, besides
   * FP32 (e.g. `twn` when judging a new ternary method against it).
   */
  readonly reference?: string;
}

/** Final test accuracy in points (%) by seed, of one method's runs. */
const pointsBySeed = (runs: readonly RunResult[]) =>
  new Map(runs.map((r) => [r.seed, r.finalTestAccuracy * 100]));

/**
 * Groups runs by method, in `order` (then any others alphabetically), with
 * the statistics over seeds and the paired differences to FP32 and to
 * `options.reference`.
 */
export function summarize(
  runs: readonly RunResult[],
  order: readonly string[] = [],
  options: SummaryOptions = {},
): MethodSummary[] {
  const methods = [...new Set(runs.map((r) => r.method))].sort((a, b) => {
    const ia = order.indexOf(a);
    const ib = order.indexOf(b);
    return (ia < 0 ? 1e9 : ia) - (ib < 0 ? 1e9 : ib) || a.localeCompare(b);
  });
  const reference = options.reference;
  if (reference !== undefined && !methods.includes(reference))
    throw new Error(
      `reference method "${reference}" has no finished run; methods with runs: ${methods.join(', ')}`,
    );
  const of = (method: string) => {
    const rs = runs.filter((r) => r.method === method).sort((a, b) => a.seed - b.seed);
    // Pairing by seed needs one run per (method, seed).
    const twice = rs.find((r, i) => i > 0 && rs[i - 1]!.seed === r.seed);
    if (twice) throw new Error(`method "${method}" has more than one run with seed ${twice.seed}`);
    return rs;
  };
  const fp32 = of('fp32');
  const fp32Mean = fp32.length ? mean(fp32.map((r) => r.finalTestAccuracy)) : null;
  const fp32BySeed = pointsBySeed(fp32);
  const other =
    reference !== undefined && reference !== 'fp32'
      ? { name: reference, bySeed: pointsBySeed(of(reference)) }
      : null;
  return methods.map((method) => {
    const rs = of(method);
    const acc = rs.map((r) => r.finalTestAccuracy);
    const bySeed = pointsBySeed(rs);
    const toFp32 =
      method === 'fp32' || !fp32.length ? null : pairedDifference(bySeed, fp32BySeed, 'fp32');
    return {
      method,
      seeds: rs.map((r) => r.seed),
      accuracyMean: mean(acc),
      accuracyStd: sampleStd(acc),
      accuracyCi95: ci95(acc),
      gapToFp32: fp32Mean === null ? null : (mean(acc) - fp32Mean) * 100,
      gapToFp32Ci95: toFp32?.ci95 ?? null,
      pairedToFp32: toFp32,
      ...(other
        ? {
            reference: other.name,
            pairedToReference:
              method === other.name ? null : pairedDifference(bySeed, other.bySeed, other.name),
          }
        : {}),
      weightMemoryBytes: mean(rs.map((r) => r.weightMemoryBytes)),
      bitsPerWeight: meanOrNull(rs.map(bitsPerQuantizedWeight)),
      compressionRatio: mean(rs.map((r) => r.compressionRatio)),
      sparsity: mean(rs.map((r) => r.sparsity)),
      trainImagesPerSecond: mean(rs.map((r) => r.trainImagesPerSecond)),
      wallSeconds: rs.reduce((a, r) => a + r.wallSeconds, 0),
    };
  });
}

/** The mean of the non-null values; null if there are none. */
function meanOrNull(values: readonly (number | null)[]): number | null {
  const xs = values.filter((v): v is number => v !== null);
  return xs.length ? mean(xs) : null;
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

const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}`;
const interval = ([lo, hi]: Interval) => `[${lo.toFixed(2)}, ${hi.toFixed(2)}]`;
/** Marks a paired interval that contains 0 (explained by {@link statisticsNote}). */
export const CONTAINS_ZERO_MARK = '†';

/** The two cells of a comparison with `reference`: the gap (difference of means, points) and its paired 95% CI. */
function gapCells(
  row: MethodSummary,
  referenceRow: MethodSummary | undefined,
  paired: PairedDifference | null | undefined,
): [string, string] {
  if (!referenceRow) return ['n/a', 'n/a'];
  if (row === referenceRow) return ['reference', '—'];
  const gap = signed((row.accuracyMean - referenceRow.accuracyMean) * 100);
  if (!paired) return [gap, 'n/a (no common seed)'];
  const k = paired.seeds.length;
  // When some seeds have no partner, the paired difference (mean over the pairs)
  // differs from the gap (difference of the means over all seeds): show it, e.g.
  // a one-seed extra row against FP32 of the same seed, not against FP32's mean.
  const partial = k < row.seeds.length || k < referenceRow.seeds.length;
  const pairedMean = partial
    ? `${k === 1 ? 'paired' : 'paired mean'} ${signed(paired.mean)}, `
    : '';
  if (!paired.ci95) return [gap, `${pairedMean}n/a (${k} pair${k === 1 ? '' : 's'})`];
  return [
    gap,
    `${pairedMean}${interval(paired.ci95)}` +
      `${paired.containsZero ? ` ${CONTAINS_ZERO_MARK}` : ''} (${k} pairs)`,
  ];
}

/**
 * The summary as a Markdown table. n is the number of seeds; one seed shows
 * no spread and no interval. Gap columns: the difference of the mean
 * accuracies in points, then its 95% interval paired by seed (see
 * {@link statisticsNote}); a reference other than FP32 (summarize's
 * `reference`) adds two columns of its own.
 */
export function summaryMarkdown(rows: readonly MethodSummary[]): string {
  const ref = rows.find((r) => r.reference !== undefined)?.reference;
  const withRef = ref !== undefined && rows.some((r) => r.method === ref);
  const fp32Row = rows.find((r) => r.method === 'fp32');
  const refRow = withRef ? rows.find((r) => r.method === ref) : undefined;
  const refHeader = withRef ? ` gap to ${ref} (points) | 95% CI of gap to ${ref}, paired |` : '';
  const lines = [
    `| method | n | test accuracy (%) | 95% CI (%) | gap to FP32 (points) | 95% CI of gap, paired |${refHeader} weight memory | bits / quantized weight | compression | sparsity | train images/s | wall time |`,
    `| --- | ---: | ---: | ---: | ---: | ---: |${withRef ? ' ---: | ---: |' : ''} ---: | ---: | ---: | ---: | ---: | ---: |`,
  ];
  for (const r of rows) {
    const n = r.seeds.length;
    const acc =
      n < 2
        ? (r.accuracyMean * 100).toFixed(2)
        : `${(r.accuracyMean * 100).toFixed(2)} ± ${(r.accuracyStd * 100).toFixed(2)}`;
    const ci = r.accuracyCi95
      ? interval([r.accuracyCi95[0] * 100, r.accuracyCi95[1] * 100])
      : 'n/a';
    const [gap, gapCi] = gapCells(r, fp32Row, r.pairedToFp32);
    const refCells = withRef ? ` ${gapCells(r, refRow, r.pairedToReference).join(' | ')} |` : '';
    lines.push(
      `| ${r.method} | ${n} | ${acc} | ${ci} | ${gap} | ${gapCi} |${refCells} ${kib(r.weightMemoryBytes)} | ${r.bitsPerWeight === null ? '—' : r.bitsPerWeight.toFixed(3)} | ${r.compressionRatio.toFixed(1)}x | ${(r.sparsity * 100).toFixed(1)}% | ${r.trainImagesPerSecond.toFixed(0)} | ${duration(r.wallSeconds)} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * What the statistics of the table mean, as one paragraph (for the notes
 * under it in summary.md and report.html).
 */
export function statisticsNote(rows: readonly MethodSummary[]): string {
  const ns = [...new Set(rows.map((r) => r.seeds.length))].sort((a, b) => a - b);
  return (
    `n is the number of seeds (${ns.length === 1 ? `n = ${ns[0]} for every method` : `n = ${ns.join(', ')}`}). ` +
    'Test accuracy is the mean over them ± their sample standard deviation (no spread is shown for n = 1); ' +
    'its 95% CI is the Student-t interval of the mean, mean ± t(0.975, n − 1) · std / √n. ' +
    'A gap is the difference of the mean accuracies in points; its 95% CI pairs the runs of the same seed ' +
    '(method − reference per seed) and is the t interval of the mean difference over the pairs (pairs − 1 degrees of freedom), ' +
    'n/a below 2 pairs. Where a method and its reference do not share all their seeds, the paired difference ' +
    '(the mean over the pairs) comes first in that column, as it then differs from the gap. ' +
    `${CONTAINS_ZERO_MARK} marks an interval that contains 0: with these seeds the difference is not distinguishable from none.`
  );
}

/** Heading of the FP32 pre-training part of summary.md and report.html. */
export const PRETRAINING_TITLE = 'FP32 pre-training (shared starting point of every method)';
/** The sentence under that heading. */
export const PRETRAINING_NOTE =
  'Every method in the table is fine-tuned from the FP32 model trained here (the one of its seed, or the one a study shares across seeds with pretrainSeed); ' +
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
    const ci = ci95(acc)!;
    lines.push(
      `mean over ${pretraining.length} seeds: final test accuracy ${(mean(acc) * 100).toFixed(2)} ± ${(sampleStd(acc) * 100).toFixed(2)}% ` +
        `(95% CI ${interval([ci[0] * 100, ci[1] * 100])}), ` +
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
    'bits_per_quantized_weight',
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
        bitsPerQuantizedWeight(r)?.toFixed(6) ?? '',
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
