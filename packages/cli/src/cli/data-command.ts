import { basename } from 'node:path';
import { formatBytes } from '@trit/quant-core';
import cliProgress from 'cli-progress';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { listCachedDatasets } from '../data/cache.js';
import type { ResizeFit } from '../data/decode.js';
import { downloadDataset } from '../data/download.js';
import { DatasetError, errorMessage } from '../data/errors.js';
import { formatAmount, formatRate } from '../data/format.js';
import { importCommand } from '../data/hints.js';
import { type ImportResult, importDataset } from '../data/import.js';
import { loadDataset } from '../data/load.js';
import { parsePerClass, parseSize } from '../data/options.js';
import { resolveDataDir } from '../data/paths.js';
import { listDatasetPresets, type PerClass, SPLITS } from '../data/presets.js';
import type { ProgressEvent } from '../data/progress.js';

/** Where the data commands write: results to `stdout`, progress bars and notes to `stderr`. */
export interface DataCommandIO {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < 1) {
    throw new InvalidArgumentError('must be a positive integer');
  }
  return n;
}

function perClassArg(value: string): PerClass {
  try {
    return parsePerClass(value);
  } catch (err) {
    throw new InvalidArgumentError(errorMessage(err));
  }
}

function sizeArg(value: string): { width: number; height: number } {
  try {
    return parseSize(value);
  } catch (err) {
    throw new InvalidArgumentError(errorMessage(err));
  }
}

function sha256Arg(value: string): string {
  if (!/^[0-9a-fA-F]{64}$/.test(value)) throw new InvalidArgumentError('must be 64 hex digits');
  return value.toLowerCase();
}

/**
 * Progress bars (with rate and ETA) for import/download events, one bar per
 * phase. Bars draw only on a TTY; elsewhere each finished phase prints one line.
 */
export class ProgressBars {
  private bar: cliProgress.SingleBar | undefined;
  private key: string | undefined;
  private label = '';
  private unit: 'bytes' | 'images' = 'images';
  private started = 0;
  private startDone = 0;
  private lastDone = 0;
  private readonly tty: boolean;

  constructor(private readonly stream: NodeJS.WritableStream) {
    this.tty = Boolean((stream as NodeJS.WriteStream).isTTY);
  }

  readonly update = (e: ProgressEvent): void => {
    const key = `${e.phase}:${e.split ?? ''}`;
    if (key !== this.key) {
      this.stop();
      this.key = key;
      this.unit = e.unit;
      this.label = labelOf(e);
      this.started = performance.now();
      this.startDone = e.done;
      this.bar = new cliProgress.SingleBar(
        {
          stream: this.stream,
          format:
            '{label} |{bar}| {percentage}% | {doneText} / {totalText} | {rate} | ETA {eta_formatted}',
          hideCursor: true,
          etaBuffer: 50,
          fps: 5,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(e.total ?? Math.max(e.done, 1), e.done, this.payload(e));
    }
    if (e.total === undefined) this.bar?.setTotal(Math.max(e.done, 1));
    this.lastDone = e.done;
    this.bar?.update(e.done, this.payload(e));
  };

  private payload(e: ProgressEvent): Record<string, string> {
    const seconds = (performance.now() - this.started) / 1000;
    const rate = seconds > 0 ? (e.done - this.startDone) / seconds : Number.NaN;
    return {
      label: this.label,
      doneText: formatAmount(e.done, e.unit),
      totalText: e.total === undefined ? '?' : formatAmount(e.total, e.unit),
      rate: formatRate(rate, e.unit),
    };
  }

  /** Ends the current bar (and prints its summary line when not on a TTY). */
  stop(): void {
    if (!this.bar) return;
    this.bar.stop();
    this.bar = undefined;
    if (!this.tty) {
      const seconds = (performance.now() - this.started) / 1000;
      const amount = this.lastDone - this.startDone;
      this.stream.write(
        `${this.label}: ${formatAmount(this.lastDone, this.unit)} in ${seconds.toFixed(1)} s (${formatRate(amount / Math.max(seconds, 1e-9), this.unit)})\n`,
      );
    }
    this.key = undefined;
  }
}

function labelOf(e: ProgressEvent): string {
  switch (e.phase) {
    case 'download':
      return e.resumedFrom ? `download (resumed at ${formatBytes(e.resumedFrom)})` : 'download';
    case 'checksum':
      return 'sha256';
    case 'read':
      return 'read archive';
    case 'extract':
      return 'extract from archive';
    case 'decode':
      return `decode ${e.split ?? ''}`.trim();
  }
}

function describeImport(r: ImportResult): string {
  const lines = [
    `imported ${r.dataset}${r.entry !== r.dataset ? ` as ${r.entry}` : ''} from ${r.source} (${r.layout})`,
    `  train: ${formatAmount(r.splits.train.count, 'images')} images, test: ${formatAmount(r.splits.test.count, 'images')} images` +
      `${r.splits.test.sourceSplit !== 'test' ? ` (source split "${r.splits.test.sourceSplit}")` : ''}, ` +
      `${r.width}x${r.height}x${r.channels}, ${r.classNames.length} classes`,
    `  normalization (train, pixel/255): mean ${r.normalization.mean.map((v) => v.toFixed(4)).join(' ')}  std ${r.normalization.std.map((v) => v.toFixed(4)).join(' ')}`,
  ];
  const nonStandard = [...r.splits.train.nonStandardCount, ...r.splits.test.nonStandardCount];
  if (nonStandard.length > 0) {
    lines.push(
      `  NON-STANDARD COUNT (imported on purpose, --allow-non-standard-count): this is not the official ${r.dataset}:`,
    );
    for (const note of nonStandard.slice(0, 10)) lines.push(`    ${note}`);
    if (nonStandard.length > 10) {
      lines.push(`    ... (${nonStandard.length - 10} more, listed in the meta files)`);
    }
  }
  if (r.skipped > 0) {
    lines.push(`  skipped ${r.skipped} undecodable image${r.skipped === 1 ? '' : 's'}:`);
    for (const s of [...r.splits.train.skipped, ...r.splits.test.skipped].slice(0, 10)) {
      lines.push(`    ${s.path}: ${s.reason}`);
    }
    if (r.skipped > 10) lines.push(`    ... (${r.skipped - 10} more, listed in the meta files)`);
  }
  lines.push(
    `  ${formatAmount(r.images, 'images')} images in ${r.seconds.toFixed(1)} s (${formatRate(r.imagesPerSecond, 'images')}) -> ${r.path}`,
  );
  return `${lines.join('\n')}\n`;
}

interface ImportFlags {
  from?: string;
  dataDir?: string;
  classes?: number;
  perClass?: PerClass;
  onBadImage?: 'error' | 'skip';
  resize?: { width: number; height: number };
  fit?: ResizeFit;
  saveAs?: string;
  allowNonStandardCount?: boolean;
}

function importOptionsOf(flags: ImportFlags) {
  if (flags.fit && !flags.resize) {
    throw new DatasetError('BAD_OPTION', '--fit needs --resize WxH');
  }
  return {
    classes: flags.classes,
    perClass: flags.perClass,
    onBadImage: flags.onBadImage,
    resize: flags.resize ? { ...flags.resize, fit: flags.fit ?? 'cover' } : undefined,
    saveAs: flags.saveAs,
    allowNonStandardCount: flags.allowNonStandardCount,
  };
}

/** Drops undefined values (the importer rejects nothing else, but keeps its key check strict). */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function addImportOptions(cmd: Command): Command {
  return cmd
    .option(
      '--data-dir <dir>',
      'dataset cache folder (default: $TRIT_DATA_DIR, $XDG_CACHE_HOME/trit/datasets or ~/.cache/trit/datasets)',
    )
    .option('--classes <n>', 'import only the first N classes (canonical order)', positiveInt)
    .option('--per-class <n>', 'images per class: N (both splits) or train=N,test=M', perClassArg)
    .addOption(
      new Option('--on-bad-image <policy>', 'undecodable images: fail, or skip and count them')
        .choices(['error', 'skip'])
        .default('error'),
    )
    .option(
      '--resize <WxH>',
      'resize every image to WIDTHxHEIGHT (otherwise a wrong size is an error)',
      sizeArg,
    )
    .addOption(
      new Option('--fit <fit>', 'how --resize fits images').choices(['cover', 'contain', 'fill']),
    )
    .option('--save-as <name>', 'cache entry name (default: the dataset name)')
    .option(
      '--allow-non-standard-count',
      'import a source whose image/record counts differ from the official release (otherwise an error; the summary and meta files list the differences)',
    );
}

/** The resolved {@link DataCommandIO}. */
type Out = DataCommandIO;

/**
 * Adds `trit data import|download|list`. Results go to `io.stdout`, progress
 * bars (rate + ETA) and notes to `io.stderr`.
 */
export function registerDataCommands(program: Command, io: Partial<DataCommandIO> = {}): Command {
  const out: Out = { stdout: io.stdout ?? process.stdout, stderr: io.stderr ?? process.stderr };
  const data = program
    .command('data')
    .description('import, download and list datasets in the local cache');
  addImportCommand(data, out);
  addDownloadCommand(data, out);
  addListCommand(data, out);
  return data;
}

function addImportCommand(data: Command, out: Out): void {
  addImportOptions(
    data
      .command('import <dataset>')
      .description(
        `decode a dataset archive or folder into the cache (datasets: ${listDatasetPresets()
          .map((p) => p.name)
          .join(', ')})`,
      )
      .option(
        '--from <archive|dir>',
        '.tar.gz/.tgz/.tar archive or folder (cifar10-sample: the shipped file)',
      ),
  ).action((dataset: string, flags: ImportFlags) => runImport(dataset, flags, out));
}

/** `trit data import`: imports with progress bars, then prints the summary. */
async function runImport(dataset: string, flags: ImportFlags, { stdout, stderr }: Out) {
  const bars = new ProgressBars(stderr);
  try {
    const result = await importDataset(
      dataset,
      defined({
        from: flags.from,
        dataDir: flags.dataDir,
        ...importOptionsOf(flags),
        onProgress: bars.update,
      }),
    );
    bars.stop();
    stdout.write(describeImport(result));
  } finally {
    bars.stop();
  }
}

type DownloadFlags = ImportFlags & { url?: string; sha256?: string; import: boolean };

function addDownloadCommand(data: Command, out: Out): void {
  addImportOptions(
    data
      .command('download <dataset>')
      .description('download the official archive (resumable, sha256-checked), then import it')
      .option('--url <url>', 'download from this mirror instead (needs --sha256)')
      .option('--sha256 <hex>', 'expected sha256 of the file at --url', sha256Arg)
      .option('--no-import', 'only download and verify the archive'),
  ).action((dataset: string, flags: DownloadFlags) => runDownload(dataset, flags, out));
}

/** `trit data download`: downloads (from `--url` when given), verifies, imports unless `--no-import`. */
async function runDownload(dataset: string, flags: DownloadFlags, { stdout, stderr }: Out) {
  if ((flags.url === undefined) !== (flags.sha256 === undefined)) {
    throw new DatasetError('BAD_OPTION', '--url and --sha256 go together');
  }
  const dataDir = flags.dataDir;
  let sources: Record<string, { url: string; sha256: string; fileName: string }> | undefined;
  if (flags.url && flags.sha256) {
    const fileName = basename(new URL(flags.url).pathname) || `${dataset}.tar.gz`;
    sources = { [dataset]: { url: flags.url, sha256: flags.sha256, fileName } };
  }
  const bars = new ProgressBars(stderr);
  try {
    const result = await downloadDataset(
      dataset,
      defined({
        dataDir,
        sources,
        onProgress: bars.update,
        import: flags.import,
        importOptions: defined(importOptionsOf(flags)),
      }),
    );
    bars.stop();
    stdout.write(
      `${result.downloaded ? 'downloaded' : 'already downloaded'} ${result.url}\n` +
        `  ${formatBytes(result.bytes)}, sha256 ${result.sha256} (verified)` +
        `${result.resumedFrom > 0 ? `, resumed at ${formatBytes(result.resumedFrom)}` : ''} -> ${result.archive}\n`,
    );
    if (result.import) stdout.write(describeImport(result.import));
  } finally {
    bars.stop();
  }
}

interface ListFlags {
  dataDir?: string;
  verify?: boolean;
  json?: boolean;
}

type CacheEntry = Awaited<ReturnType<typeof listCachedDatasets>>[number];

function addListCommand(data: Command, out: Out): void {
  data
    .command('list')
    .description('list the cached datasets with their image counts and sizes')
    .option('--data-dir <dir>', 'dataset cache folder')
    .option('--verify', 'also re-read every file and check its sha256')
    .option('--json', 'print JSON')
    .action((flags: ListFlags) => runList(flags, out));
}

/** `trit data list`: the cache's entries as JSON or as a table, then the presets not imported yet. */
async function runList(flags: ListFlags, { stdout }: Out) {
  const dataDir = resolveDataDir(flags.dataDir);
  const entries = await listCachedDatasets({ dataDir });
  const verified = flags.verify ? await verifyEntries(entries, dataDir) : undefined;
  if (flags.json) {
    stdout.write(
      `${JSON.stringify({ dataDir, datasets: listJson(entries, verified) }, null, 2)}\n`,
    );
    return;
  }
  stdout.write(`dataset cache: ${dataDir}\n`);
  if (entries.length === 0) stdout.write('  (empty)\n');
  const rows = listRows(entries, verified);
  if (rows.length > 1) stdout.write(table(rows));
  for (const e of entries) {
    if (e.problems.length > 0) {
      stdout.write(
        `  ${e.entry}: unusable (${e.problems.join('; ')}); re-import it or delete ${e.path}\n`,
      );
    }
  }
  const cached = new Set(entries.filter((e) => e.problems.length === 0).map((e) => e.entry));
  const missing = listDatasetPresets().filter((p) => !cached.has(p.name));
  if (missing.length > 0) {
    stdout.write('not imported:\n');
    for (const p of missing) stdout.write(`  ${p.name}: ${importCommand(p.name, dataDir)}\n`);
  }
}

/** `--verify`: re-reads every split with its checksums; `entry/split` → `'ok'` or the error. */
async function verifyEntries(
  entries: readonly CacheEntry[],
  dataDir: string,
): Promise<Map<string, string>> {
  const verified = new Map<string, string>();
  for (const e of entries) {
    for (const split of SPLITS) {
      if (!e.splits[split]) continue;
      const key = `${e.entry}/${split}`;
      try {
        await loadDataset(e.entry, split, { dataDir, verifyChecksum: true });
        verified.set(key, 'ok');
      } catch (err) {
        verified.set(key, errorMessage(err));
      }
    }
  }
  return verified;
}

/** `--json`: one object per cache entry, its splits keyed by name. */
function listJson(entries: readonly CacheEntry[], verified: Map<string, string> | undefined) {
  return entries.map((e) => ({
    entry: e.entry,
    dataset: e.dataset,
    path: e.path,
    bytes: e.bytes,
    problems: e.problems,
    splits: Object.fromEntries(
      SPLITS.filter((s) => e.splits[s]).map((s) => {
        const m = e.splits[s]!;
        return [
          s,
          {
            count: m.count,
            classes: m.classes,
            height: m.height,
            width: m.width,
            channels: m.channels,
            skipped: m.skipped.count,
            source: m.source.path,
            importedAt: m.importedAt,
            ...(verified ? { verified: verified.get(`${e.entry}/${s}`) } : {}),
          },
        ];
      }),
    ),
  }));
}

/** The table: a header row, then one row per cached split. */
function listRows(
  entries: readonly CacheEntry[],
  verified: Map<string, string> | undefined,
): string[][] {
  const rows: string[][] = [
    ['entry', 'split', 'images', 'classes', 'image', 'skipped', 'on disk', 'source'],
  ];
  if (verified) rows[0]!.push('verified');
  for (const e of entries) {
    for (const split of SPLITS) {
      const m = e.splits[split];
      if (!m) continue;
      const row = [
        e.entry,
        split,
        formatAmount(m.count, 'images'),
        String(m.classes),
        `${m.width}x${m.height}x${m.channels}`,
        String(m.skipped.count),
        formatBytes(m.files.images.bytes + m.files.labels.bytes),
        basename(m.source.path),
      ];
      if (verified) row.push(verified.get(`${e.entry}/${split}`) ?? '');
      rows.push(row);
    }
  }
  return rows;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return `${rows.map((r) => `  ${r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')}`.trimEnd()).join('\n')}\n`;
}
