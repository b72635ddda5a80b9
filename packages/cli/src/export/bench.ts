/** `trit bench --export`: every run of a bench invocation to `<out>/export/<method>-seed<S>/`. */
import path from 'node:path';
import { runDirName } from '../bench/run.js';
import type { Study } from '../bench/study.js';
import { type ExportRunReport, exportRun } from './export-run.js';

/** Options of {@link exportBenchRuns}. */
export interface ExportBenchOptions {
  /** The bench output folder (holds `runs/`). */
  readonly outDir: string;
  /** The (method, seed) runs to export. */
  readonly runs: readonly { readonly method: string; readonly seed: number }[];
  /** The study the runs belong to (its `data` preprocesses the exported inputs). */
  readonly study: Pick<Study, 'data'>;
  readonly dataDir?: string;
  readonly log?: (line: string) => void;
}

/** Exports each run folder `<out>/runs/<method>-seed<S>` into `<out>/export/<method>-seed<S>`. */
export async function exportBenchRuns(options: ExportBenchOptions): Promise<ExportRunReport[]> {
  const log = options.log ?? ((l: string) => console.error(l));
  const reports: ExportRunReport[] = [];
  for (const { method, seed } of options.runs) {
    const name = runDirName(method, seed);
    const report = await exportRun(path.join(options.outDir, 'runs', name), {
      outDir: path.join(options.outDir, 'export', name),
      data: options.study.data,
      ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
    });
    const s = report.sizes;
    log(
      `[export] ${name}: ${s.exported.totalBytes.toLocaleString('en-US')} B (model.json + model.bin) vs ` +
        `${s.tfjs.totalBytes.toLocaleString('en-US')} B float32 tfjs = ${s.ratio.toFixed(2)}x smaller -> ${report.outDir}`,
    );
    for (const w of report.warnings) log(`[export] ${name}: warning: ${w}`);
    reports.push(report);
  }
  return reports;
}
