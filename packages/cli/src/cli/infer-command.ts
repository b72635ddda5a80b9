import { type Command, InvalidArgumentError } from 'commander';
import { formatInferReport, inferExported } from '../export/infer.js';
import type { ExportCommandIO } from './export-command.js';

const defaultIO: ExportCommandIO = { stdout: process.stdout, stderr: process.stderr };

function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1)
    throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function nonNegativeInt(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError('must be a non-negative integer');
  return Number(value);
}

/**
 * `trit infer <exported-dir> --dataset <name>`: top-1 accuracy and batch-1
 * latency of an exported model run by @trit/runtime (no tfjs in the forward
 * pass), with the preprocessing stored at export.
 */
export function registerInferCommand(program: Command, io: ExportCommandIO = defaultIO): void {
  program
    .command('infer')
    .description(
      'run an exported model with @trit/runtime on a dataset split: top-1 accuracy and batch-1 latency',
    )
    .argument('<exported-dir>', 'a folder written by `trit export` (model.json + model.bin)')
    .requiredOption(
      '--dataset <name>',
      "a cached dataset, or synthetic (the smoke preset's generated task)",
    )
    .option('--split <split>', 'test (default), val (= test) or train', 'test')
    .option('--data-dir <dir>', 'dataset cache folder (default: ~/.cache/trit/datasets)')
    .option('--limit <n>', 'use only the first n images', positiveInt)
    .option('--batch-size <n>', 'batch size of the accuracy pass', positiveInt, 32)
    .option(
      '--latency-samples <n>',
      'images timed one by one for the batch-1 latency',
      positiveInt,
      100,
    )
    .option('--warmup <n>', 'untimed single-image predictions before timing', nonNegativeInt, 5)
    .option('--json', 'print the report as JSON', false)
    .action(async (dir: string, opts) => {
      const report = await inferExported(dir, {
        dataset: opts.dataset,
        split: opts.split,
        dataDir: opts.dataDir,
        limit: opts.limit,
        batchSize: opts.batchSize,
        latencySamples: opts.latencySamples,
        warmup: opts.warmup,
      });
      io.stdout.write(
        `${opts.json ? JSON.stringify(report, null, 1) : formatInferReport(report)}\n`,
      );
    });
}
