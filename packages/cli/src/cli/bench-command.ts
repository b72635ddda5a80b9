import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { type BackendInfo, type BackendName, initBackend } from '@trit/quant-core';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { pretrainingMarkdown, summaryMarkdown } from '../bench/aggregate.js';
import { loadStudyData } from '../bench/data-sources.js';
import { describeDifference, StaleResultsError } from '../bench/identity.js';
import { loadImports, resolveImport } from '../bench/imports.js';
import { formatBackend, type OutputOptions, writeBenchOutputs } from '../bench/outputs.js';
import { presetFile, presetNames } from '../bench/presets.js';
import {
  collectPretraining,
  collectRuns,
  machineInfo,
  readStudyRecord,
  runBench,
  STUDY_FILE,
  studyIdentity,
  unionStudy,
} from '../bench/run.js';
import { formatStatus, studyStatus } from '../bench/status.js';
import {
  methodLabel,
  portableStudy,
  readStudyFile,
  resolveStudy,
  type Study,
  StudyError,
} from '../bench/study.js';
import { exportBenchRuns } from '../export/bench.js';
import { TrainingDivergedError } from '../training/train.js';
import { assertWritableFolder, methodList, seedList } from './bench-options.js';
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

/** Options of `trit bench` that change the study (applied to the raw study before it is checked). */
export interface StudyOverrides {
  readonly methods?: readonly string[];
  readonly seeds?: readonly number[];
  readonly epochs?: number;
  readonly pretrainEpochs?: number;
  readonly imports?: readonly string[];
}

/**
 * The study with the command line's overrides: `--methods` picks rows (a
 * study entry by its label, or a new method string), `--seeds` replaces the
 * seeds (a method entry's own `seeds` too), `--epochs` sets the run's epochs (fine-tuning for the finetune
 * protocol, including per-method overrides), `--pretrain-epochs` the FP32
 * pre-training's; `--import` modules are added to the study's imports.
 */
export function applyOverrides(
  raw: Record<string, unknown>,
  o: StudyOverrides,
): Record<string, unknown> {
  const study: Record<string, unknown> = structuredClone(raw);
  const obj = (v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  if (o.methods) {
    const entries = Array.isArray(study.methods) ? study.methods : [];
    const labelOf = (e: unknown) => (typeof e === 'string' ? e : (obj(e).label ?? obj(e).method));
    study.methods = o.methods.map((m) => entries.find((e) => labelOf(e) === m) ?? m);
  }
  if (o.seeds) {
    // --seeds replaces every row's seeds, a method entry's own included.
    study.seeds = [...o.seeds];
    if (Array.isArray(study.methods))
      study.methods = study.methods.map((e) => {
        if (typeof e !== 'object' || e === null || !('seeds' in e)) return e;
        const { seeds: _dropped, ...rest } = e as Record<string, unknown>;
        return rest;
      });
  }
  if (o.pretrainEpochs) study.pretrain = { ...obj(study.pretrain), epochs: o.pretrainEpochs };
  if (o.epochs) {
    if (study.protocol === 'finetune')
      study.finetune = { ...obj(study.finetune ?? study.pretrain), epochs: o.epochs };
    else study.pretrain = { ...obj(study.pretrain), epochs: o.epochs };
    if (Array.isArray(study.methods))
      study.methods = study.methods.map((e) =>
        typeof e === 'object' && e !== null && obj(obj(e).train).epochs !== undefined
          ? { ...obj(e), train: { ...obj(obj(e).train), epochs: o.epochs } }
          : e,
      );
  }
  if (o.imports?.length)
    study.imports = [
      ...new Set([...(Array.isArray(study.imports) ? study.imports : []), ...o.imports]),
    ];
  return study;
}

/**
 * The study `trit bench` runs: `--study FILE` or `--preset NAME`, with the
 * overrides applied, after loading its imports (and `--import`s) so their
 * quantizers, models and data sources are registered; then checked.
 */
export async function loadStudy(opts: {
  readonly study?: string;
  readonly preset?: string;
  readonly overrides: StudyOverrides;
}): Promise<{ study: Study; source: string }> {
  if (opts.study && opts.preset)
    throw new Error('--study and --preset name two studies: give one of them');
  const source = opts.study ? path.resolve(opts.study) : presetFile(opts.preset ?? 'quick');
  const raw = applyOverrides(readStudyFile(source), {
    ...opts.overrides,
    imports: (opts.overrides.imports ?? []).map((m) => resolveImport(m, process.cwd())),
  });
  const imports = Array.isArray(raw.imports) ? (raw.imports as unknown[]) : [];
  if (imports.some((m) => typeof m !== 'string'))
    throw new StudyError(
      `${source}:\n  imports: every entry must be a module name or path (value: ${JSON.stringify(imports)})`,
    );
  raw.imports = await loadImports(imports as string[], path.dirname(source));
  return { study: resolveStudy(raw, source).study, source };
}

/**
 * The study recorded in results.json (its paths relative to `outDir`, where
 * results.json is), and its reference method once it has runs (a shard may have none).
 */
function outputOptions(
  study: Study,
  runs: readonly { method: string }[],
  outDir: string,
): OutputOptions {
  const reference =
    study.reference !== undefined && runs.some((r) => r.method === study.reference)
      ? study.reference
      : undefined;
  return {
    study: portableStudy(study, outDir),
    ...(reference !== undefined ? { reference } : {}),
  };
}

function methodLabels(study: Study): string[] {
  return study.methods.map(methodLabel);
}

/** The flags of `trit bench` as commander parses them. */
interface BenchFlags {
  readonly preset?: string;
  readonly study?: string;
  readonly import?: string[];
  readonly printStudy: boolean;
  readonly methods?: string[];
  readonly seeds?: number[];
  readonly epochs?: number;
  readonly pretrainEpochs?: number;
  readonly pretrainOnly: boolean;
  readonly out?: string;
  readonly resume: boolean;
  readonly shard?: [number, number];
  readonly dataDir?: string;
  readonly backend: string;
  readonly progress: boolean;
  readonly export: boolean;
}

/** Adds `trit bench` (run a study) and `trit bench merge` (merge shards). */
export function registerBenchCommands(program: Command): void {
  const bench = addBenchOptions(
    program
      .command('bench')
      .description(
        'run a study (methods x seeds head-to-head under one protocol) and write tables and a report',
      ),
  ).action((flags: BenchFlags) => runBenchCommand(flags));
  addMergeCommand(bench);
  addStatusCommand(bench);
}

function addBenchOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--preset <name>', 'a built-in study (default: quick)').choices(presetNames()),
    )
    .option('--study <file>', 'a study file (JSON or YAML), or a results.json to re-run its study')
    .option(
      '--import <module>',
      'load a module first (a package name or a path; repeatable): it registers quantizers, models or data sources',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--print-study', 'print the fully resolved study as JSON and exit', false)
    .option(
      '--methods <list>',
      "comma-separated methods: a study entry's label, or a quantizer name with options, e.g. fp32,ttq,ttq:init=mean (default: the study's)",
      methodList,
    )
    .option('--seeds <list>', "comma-separated seeds (default: the study's)", seedList)
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
    .option(
      '--pretrain-only',
      'run only the FP32 pre-training(s) of the study (finetune protocol)',
      false,
    )
    .option('--out <dir>', 'output folder (default: runs/<study name>)')
    .option(
      '--resume',
      'continue this study in --out: checkpoints and finished runs whose recorded configuration matches are reused',
      false,
    )
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
    .option(
      '--no-progress',
      'no progress bars: one log line per epoch instead (for batch jobs and log files)',
    )
    .option(
      '--export',
      'also export every run to the trit format in <out>/export/<method>-seed<S>/ (see `trit export`)',
      false,
    );
}

/**
 * `trit bench`: resolve the study, run its grid (or only the pre-training),
 * then write the tables and report of every finished run in the folder and,
 * with `--export`, export this invocation's runs.
 */
async function runBenchCommand(opts: BenchFlags): Promise<void> {
  const { study } = await loadStudy({
    study: opts.study,
    preset: opts.preset,
    overrides: {
      methods: opts.methods,
      seeds: opts.seeds,
      epochs: opts.epochs,
      pretrainEpochs: opts.pretrainEpochs,
      imports: opts.import,
    },
  });
  if (opts.printStudy) {
    console.log(JSON.stringify(study, null, 2));
    return;
  }
  const outDir = path.resolve(opts.out ?? path.join('runs', study.name));
  assertWritableFolder('--out', outDir);
  const backend = await initBackend({ prefer: opts.backend as BackendName });
  const labels = methodLabels(study);
  const ownSeeds = study.methods.flatMap((e) =>
    typeof e === 'object' && e.seeds ? [`${methodLabel(e)} seeds ${e.seeds.join(', ')}`] : [],
  );
  console.error(
    `[bench] study ${study.name}: ${labels.join(', ')} x seeds ${study.seeds.join(', ')}${ownSeeds.length ? ` (${ownSeeds.join('; ')})` : ''} on ${formatBackend({ ...backend })} -> ${outDir}`,
  );
  const finished = await runGrid(study, outDir, backend, opts);
  if (finished === undefined) return; // diverged: reported, exit code 2
  if (opts.pretrainOnly) {
    console.error(`[bench] FP32 pre-training done in ${outDir}/pretrain`);
    tf.disposeVariables();
    return;
  }
  await writeFolderOutputs(study, outDir, backend, labels, opts);
  // --export: the runs of this invocation, to <out>/export/<method>-seed<S>/.
  if (opts.export) await exportBenchRuns({ outDir, runs: finished, study, dataDir: opts.dataDir });
  tf.disposeVariables();
}

/** Runs the study's grid (or shard); `undefined` after a diverged run, which sets exit code 2. */
async function runGrid(
  study: Study,
  outDir: string,
  backend: BackendInfo,
  opts: BenchFlags,
): Promise<{ method: string; seed: number }[] | undefined> {
  try {
    return await runBench({
      study,
      outDir,
      resume: opts.resume || Boolean(opts.shard),
      shard: opts.shard,
      loadData: (s) => loadStudyData(s.data, { dataDir: opts.dataDir }),
      backend,
      progress: opts.progress,
      pretrainOnly: opts.pretrainOnly,
    });
  } catch (err) {
    if (err instanceof TrainingDivergedError) {
      console.error(`[bench] ${err.message}`);
      process.exitCode = 2;
      return undefined;
    }
    throw err;
  }
}

/** Tables and report of every finished run of the study in `outDir` (all shards, if they share it). */
async function writeFolderOutputs(
  study: Study,
  outDir: string,
  backend: BackendInfo,
  labels: readonly string[],
  opts: BenchFlags,
): Promise<void> {
  const folderStudy = readStudyRecord(outDir) ?? study;
  // Runs of earlier invocations may use modules this one did not name.
  await loadImports(folderStudy.imports, outDir);
  const runs = collectRuns([outDir], folderStudy);
  const pretraining = collectPretraining([outDir], folderStudy);
  const summary = writeBenchOutputs(
    outDir,
    runs,
    {
      preset: study.name,
      command: `trit ${process.argv.slice(2).join(' ')}`,
      config: { shard: opts.shard },
      backend: { ...backend },
      versions: packageVersions(),
      machine: machineInfo(),
      // Table order: this run's methods, then the folder's other ones.
      methodOrder: [...new Set([...labels, ...methodLabels(folderStudy)])],
    },
    pretraining,
    outputOptions(folderStudy, runs, outDir),
  );
  console.log(`\n${summaryMarkdown(summary)}`);
  if (pretraining.length) console.log(pretrainingMarkdown(pretraining));
  console.log(
    `wrote ${['results.json', 'results.csv', 'summary.md', 'report.html'].map((f) => path.join(outDir, f)).join(', ')}`,
  );
}

function addMergeCommand(bench: Command): void {
  bench
    .command('merge')
    .description(
      'merge the outputs of sharded runs of one study into one set of tables and one report',
    )
    .argument('<dirs...>', 'bench output folders (one per shard)')
    .option(
      '--out <dir>',
      'folder for the merged results.json, results.csv, summary.md, report.html (required)',
    )
    .option(
      '--import <module>',
      'load a module first (repeatable), as for `trit bench`',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .action((dirs: string[], opts: { out?: string; import?: string[] }) =>
      runMerge(dirs, opts, bench),
    );
}

function addStatusCommand(bench: Command): void {
  bench
    .command('status')
    .description(
      'where a study stands across its output folders (shards): each run done, training (epoch k of N) or not started, epochs left and an ETA',
    )
    .argument('<dirs...>', 'bench output folders (one per shard, or one)')
    .option('--json', 'print the status as JSON', false)
    .option(
      '--import <module>',
      'load a module first (repeatable), as for `trit bench`',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .action(async (dirs: string[], opts: { json: boolean; import?: string[] }) => {
      await loadImports(
        [...(opts.import ?? []), ...((bench.opts() as { import?: string[] }).import ?? [])],
        process.cwd(),
      );
      const folders = dirs.map((d) => path.resolve(d));
      const study = await mergedStudy(folders);
      const now = new Date();
      const status = studyStatus(study, folders, now);
      console.log(
        opts.json ? JSON.stringify(status, null, 2) : formatStatus(status, now, process.cwd()),
      );
    });
}

/** `trit bench merge`: one set of tables and one report from the folders of a study's shards. */
async function runMerge(
  dirs: string[],
  opts: { out?: string; import?: string[] },
  bench: Command,
): Promise<void> {
  // `bench` has an --out of its own, so commander hands a trailing
  // `merge A B --out C` to it rather than to this subcommand: accept both.
  const out = opts.out ?? (bench.opts() as { out?: string }).out;
  if (!out)
    throw new Error(
      'bench merge: --out <dir> is required (the folder for the merged tables and report)',
    );
  const folders = dirs.map((d) => path.resolve(d));
  const extraImports = [
    ...(opts.import ?? []),
    ...((bench.opts() as { import?: string[] }).import ?? []),
  ];
  await loadImports(extraImports, process.cwd());
  const study = await mergedStudy(folders);
  const runs = collectRuns(folders, study);
  if (!runs.length) throw new Error(`no finished runs in ${dirs.join(', ')}`);
  // Each shard pre-trains its own seeds: one FP32 pre-training per seed is kept.
  const pretraining = collectPretraining(folders, study);
  const outDir = path.resolve(out);
  mkdirSync(outDir, { recursive: true });
  const first = folders.map((d) => path.join(d, 'results.json')).find((f) => existsSync(f));
  const meta = first ? (JSON.parse(readFileSync(first, 'utf8')) as Record<string, unknown>) : {};
  const summary = writeBenchOutputs(
    outDir,
    runs,
    {
      preset: study.name,
      command: `trit ${process.argv.slice(2).join(' ')}`,
      config: { mergedFrom: dirs },
      backend: (meta.backend as Record<string, unknown>) ?? {},
      versions: (meta.versions as Record<string, string>) ?? packageVersions(),
      machine: (meta.machine as Record<string, unknown>) ?? machineInfo(),
      methodOrder: methodLabels(study),
    },
    pretraining,
    outputOptions(study, runs, outDir),
  );
  console.log(summaryMarkdown(summary));
  if (pretraining.length) console.log(pretrainingMarkdown(pretraining));
  console.log(`merged ${runs.length} runs into ${outDir}`);
}

/**
 * The one study that every shard folder records (data, model, protocol,
 * training and quantizer configs equal; methods and seeds united), with the
 * modules it imports loaded. Folders of different studies are an error that
 * names the two folders and the first field that differs.
 */
async function mergedStudy(folders: readonly string[]): Promise<Study> {
  let merged: Study | undefined;
  let firstDir = '';
  for (const dir of folders) {
    const file = path.join(dir, STUDY_FILE);
    if (!existsSync(file))
      throw new Error(
        `${dir}: no ${STUDY_FILE} (not a trit bench output folder, or written by an older trit that did not record its study)`,
      );
    // The study's modules must be loaded before its methods can be checked.
    const raw = (JSON.parse(readFileSync(file, 'utf8')) as { study?: { imports?: unknown } }).study;
    if (Array.isArray(raw?.imports))
      await loadImports(
        raw.imports.filter((m): m is string => typeof m === 'string'),
        dir,
      );
    const study = readStudyRecord(dir)!;
    if (!merged) {
      merged = study;
      firstDir = dir;
      continue;
    }
    const diff = describeDifference(studyIdentity(merged), studyIdentity(study));
    if (diff)
      throw new StaleResultsError(
        `bench merge: ${dir} and ${firstDir} hold different studies: ${diff.replace('the folder has', `${firstDir} has`).replace('this run has', `${dir} has`)}`,
      );
    merged = unionStudy(merged, study);
  }
  if (!merged) throw new Error('bench merge: no folders given');
  return merged;
}
