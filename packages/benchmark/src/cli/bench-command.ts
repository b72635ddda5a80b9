import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { type BackendName, initBackend, listQuantizers } from '@trit/quant-core';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { pretrainingMarkdown, summaryMarkdown } from '../bench/aggregate.js';
import { parseMethod } from '../bench/method-spec.js';
import { writeBenchOutputs } from '../bench/outputs.js';
import { getPreset, PRESETS, type Preset } from '../bench/presets.js';
import { collectPretraining, collectRuns, machineInfo, runBench } from '../bench/run.js';
import { exportBenchRuns } from '../export/bench.js';
import { syntheticData } from '../training/synthetic-data.js';
import type { TrainData } from '../training/train.js';
import { TrainingDivergedError } from '../training/train.js';
import { assertWritableFolder, methodList, seedList } from './bench-options.js';
import { loadPresetData } from './load-data.js';
import { packageVersions } from './versions.js';

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`"${v}" is not a positive integer`);
  return n;
}

function parseShard(v: string): [number, number] {
  const m = /^(\d+)\/(\d+)$/.exec(v);
  if (!m) throw new InvalidArgumentError(`"${v}" is not of the form i/N (e.g. 2/4)`);
  const i = Number(m[1]);
  const n = Number(m[2]);
  if (n < 1 || i < 1 || i > n) throw new InvalidArgumentError(`shard ${v}: need 1 <= i <= N`);
  return [i, n];
}

async function presetData(preset: Preset, dataDir: string | undefined): Promise<TrainData> {
  if (preset.data.type === 'synthetic') return syntheticData(preset.data);
  return loadPresetData(preset.data, dataDir);
}

export function registerBenchCommands(program: Command): void {
  const bench = program
    .command('bench')
    .description(
      'run methods x seeds head-to-head under one protocol and write tables and a report',
    )
    .addOption(
      new Option('--preset <name>', 'benchmark preset')
        .choices(Object.keys(PRESETS))
        .default('quick'),
    )
    .option(
      '--methods <list>',
      "comma-separated quantizer names, each optionally with options, e.g. fp32,ttq,ttq:init=mean (default: the preset's)",
      methodList,
    )
    .option('--seeds <list>', "comma-separated seeds (default: the preset's)", seedList)
    .option(
      '--epochs <n>',
      "epochs of each method's run (fine-tuning in the finetune protocol)",
      positiveInt,
    )
    .option(
      '--pretrain-epochs <n>',
      'epochs of the shared FP32 pre-training (finetune protocol)',
      positiveInt,
    )
    .option('--out <dir>', 'output folder (default: runs/<preset>)')
    .option('--resume', 'continue an interrupted run from its checkpoints and finished runs', false)
    .option(
      '--shard <i/N>',
      'run only the i-th of N slices of the methods x seeds grid (1-based)',
      parseShard,
    )
    .option('--data-dir <dir>', 'dataset cache folder (default: ~/.cache/trit/datasets)')
    .addOption(
      new Option('--backend <name>', 'tfjs backend')
        .choices(['tensorflow', 'cpu', 'wasm'])
        .default('tensorflow'),
    )
    .option('--no-progress', 'no progress bars')
    .option(
      '--export',
      'also export every run to the trit format in <out>/export/<method>-seed<S>/ (see `trit export`)',
      false,
    )
    .action(async (opts) => {
      const preset = getPreset(opts.preset);
      const methods: string[] = opts.methods ?? [...preset.methods];
      const known = listQuantizers();
      const unknown = methods.filter((m) => !known.includes(parseMethod(m).quantizer));
      if (unknown.length)
        throw new Error(
          `unknown method(s) ${unknown.join(', ')}; registered quantizers: ${known.join(', ')}`,
        );
      const outDir = path.resolve(opts.out ?? path.join('runs', preset.name));
      assertWritableFolder('--out', outDir);
      const backend = await initBackend({ prefer: opts.backend as BackendName });
      if (existsSync(path.join(outDir, 'runs')) && !opts.resume && !opts.shard) {
        console.error(
          `[bench] ${outDir} already has runs; pass --resume to continue them (finished runs are reused).`,
        );
      }
      mkdirSync(outDir, { recursive: true });
      const command = `trit ${process.argv.slice(2).join(' ')}`;
      console.error(
        `[bench] preset ${preset.name}: ${methods.join(', ')} x seeds ${(opts.seeds ?? preset.seeds).join(', ')} on ${backend.name}` +
          `${backend.tensorflowVersion ? ` (TensorFlow ${backend.tensorflowVersion})` : ''} -> ${outDir}`,
      );
      let finished: { method: string; seed: number }[] = [];
      try {
        finished = await runBench({
          preset,
          methods,
          seeds: opts.seeds,
          epochs: opts.epochs,
          pretrainEpochs: opts.pretrainEpochs,
          outDir,
          resume: opts.resume || Boolean(opts.shard),
          shard: opts.shard,
          loadData: (p) => presetData(p, opts.dataDir),
          backend,
          progress: opts.progress,
        });
      } catch (err) {
        if (err instanceof TrainingDivergedError) {
          console.error(`[bench] ${err.message}`);
          process.exitCode = 2;
          return;
        }
        throw err;
      }
      // Tables cover every finished run in the folder (all shards, if they share it).
      const runs = collectRuns([outDir]);
      const pretraining = collectPretraining([outDir]);
      const summary = writeBenchOutputs(
        outDir,
        runs,
        {
          preset: preset.name,
          command,
          config: {
            preset,
            methods,
            seeds: opts.seeds ?? preset.seeds,
            epochs: opts.epochs,
            pretrainEpochs: opts.pretrainEpochs,
            shard: opts.shard,
          },
          backend: { ...backend },
          versions: packageVersions(),
          machine: machineInfo(),
          // Table order: this run's methods, then the preset's (for runs already in the folder).
          methodOrder: [...new Set([...methods, ...preset.methods])],
        },
        pretraining,
      );
      console.log(`\n${summaryMarkdown(summary)}`);
      if (pretraining.length) console.log(pretrainingMarkdown(pretraining));
      console.log(
        `wrote ${['results.json', 'results.csv', 'summary.md', 'report.html'].map((f) => path.join(outDir, f)).join(', ')}`,
      );
      // --export: the runs of this invocation, to <out>/export/<method>-seed<S>/.
      if (opts.export)
        await exportBenchRuns({ outDir, runs: finished, preset, dataDir: opts.dataDir });
      tf.disposeVariables();
    });

  bench
    .command('merge')
    .description('merge the outputs of sharded runs into one set of tables and one report')
    .argument('<dirs...>', 'bench output folders (one per shard)')
    .option(
      '--out <dir>',
      'folder for the merged results.json, results.csv, summary.md, report.html (required)',
    )
    .action((dirs: string[], opts: { out?: string }) => {
      // `bench` has an --out of its own, so commander hands a trailing
      // `merge A B --out C` to it rather than to this subcommand: accept both.
      const out = opts.out ?? (bench.opts() as { out?: string }).out;
      if (!out)
        throw new Error(
          'bench merge: --out <dir> is required (the folder for the merged tables and report)',
        );
      const runs = collectRuns(dirs.map((d) => path.resolve(d)));
      if (!runs.length) throw new Error(`no finished runs in ${dirs.join(', ')}`);
      // Each shard pre-trains its own seeds: one FP32 pre-training per seed is kept.
      const pretraining = collectPretraining(dirs.map((d) => path.resolve(d)));
      const outDir = path.resolve(out);
      mkdirSync(outDir, { recursive: true });
      const first = dirs
        .map((d) => path.join(path.resolve(d), 'results.json'))
        .find((f) => existsSync(f));
      const meta = first
        ? (JSON.parse(readFileSync(first, 'utf8')) as Record<string, unknown>)
        : {};
      const summary = writeBenchOutputs(
        outDir,
        runs,
        {
          preset: String(meta.preset ?? 'merged'),
          command: `trit ${process.argv.slice(2).join(' ')}`,
          config: {
            ...(meta.config as Record<string, unknown> | undefined),
            mergedFrom: dirs,
            shard: undefined,
          },
          backend: (meta.backend as Record<string, unknown>) ?? {},
          versions: (meta.versions as Record<string, string>) ?? packageVersions(),
          machine: (meta.machine as Record<string, unknown>) ?? machineInfo(),
          methodOrder: ((meta.config as { methods?: string[] } | undefined)?.methods ??
            []) as string[],
        },
        pretraining,
      );
      console.log(summaryMarkdown(summary));
      if (pretraining.length) console.log(pretrainingMarkdown(pretraining));
      console.log(`merged ${runs.length} runs into ${outDir}`);
    });
}
