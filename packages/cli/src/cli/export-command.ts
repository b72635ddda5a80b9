import { type BackendName, initBackend } from '@trit/quant-core';
import { type Command, Option } from 'commander';
import { getPreset, presetNames } from '../bench/presets.js';
import { type DataSpec, DataSpecSchema } from '../bench/study.js';
import { exportRun, formatExportReport } from '../export/export-run.js';

/** Where the export/infer commands write: results to `stdout`, notes to `stderr`. */
export interface ExportCommandIO {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

const defaultIO: ExportCommandIO = { stdout: process.stdout, stderr: process.stderr };

/** `--preset`/`--dataset` to the data the run was trained on (undefined: ask the bench folder). */
function dataOption(opts: { preset?: string; dataset?: string }): DataSpec | undefined {
  if (opts.preset) return DataSpecSchema.parse(getPreset(opts.preset).data);
  if (opts.dataset === 'synthetic') return DataSpecSchema.parse(getPreset('smoke').data);
  if (opts.dataset) return { type: 'dataset', name: opts.dataset };
  return undefined;
}

/**
 * `trit export <run-dir|checkpoint-dir> --out <dir>`: rebuilds the trained
 * model of a bench run, exports it to the trit format (model.json +
 * model.bin) and prints the per-layer table and the size against the
 * float32 tfjs model.
 */
export function registerExportCommand(program: Command, io: ExportCommandIO = defaultIO): void {
  program
    .command('export')
    .description(
      'export a trained bench run to the compact trit format (2-bit/1-bit weights) for @trit/runtime',
    )
    .argument(
      '<run-dir>',
      'a bench run folder (<out>/runs/<method>-seed<S>) or its checkpoint/ folder',
    )
    .requiredOption('--out <dir>', 'folder for model.json, model.bin and export-report.json')
    .addOption(
      new Option(
        '--preset <name>',
        "the run's preset, when the bench folder has no results.json",
      ).choices(presetNames()),
    )
    .option(
      '--dataset <name>',
      "the run's dataset (synthetic = the smoke preset's task), when the bench folder has no results.json",
    )
    .option(
      '--data-dir <dir>',
      'dataset cache folder, for the training normalization (default: ~/.cache/trit/datasets)',
    )
    .option(
      '--no-check',
      'skip comparing each exported quantized kernel with the kernel its forward pass uses',
    )
    .option('--strict', 'fail when that comparison finds a difference', false)
    .addOption(
      new Option('--backend <name>', 'tfjs backend used to rebuild the model')
        .choices(['tensorflow', 'cpu'])
        .default('tensorflow'),
    )
    .option('--json', 'print the report as JSON', false)
    .action(async (dir: string, opts) => {
      await initBackend({ prefer: opts.backend as BackendName, quiet: true });
      const report = await exportRun(dir, {
        outDir: opts.out,
        data: dataOption(opts),
        dataDir: opts.dataDir,
        check: opts.check,
        strict: opts.strict,
      });
      io.stdout.write(
        `${opts.json ? JSON.stringify(report, null, 1) : formatExportReport(report)}\n`,
      );
    });
}
