/**
 * `trit export`: a bench run folder to a deployable trit model
 * (`model.json` + `model.bin`, see docs/format.md) plus `export-report.json`
 * (sizes, per-layer encoding, checks).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { type ExportedLayerInfo, exportModel } from '@trit/export';
import { formatBytes } from '@trit/quant-core';
import { decodeModel, type LayerSummary, MAX_MANIFEST_BYTES } from '@trit/runtime';
import { saveModel } from '@trit/runtime/node';
import { writeJsonAtomic } from '../atomic-write.js';
import type { DataSpec } from '../bench/study.js';
import { type DataMetadata, describeData } from './preprocessing.js';
import { loadRun } from './run-dir.js';
// Registers the converter of the CLI's ResNet shortcut layer with @trit/export.
import './shortcut-converter.js';
import {
  gzipSize,
  type MemoryCheck,
  memoryCheck,
  type TfjsSavedSize,
  tfjsSavedSize,
} from './sizes.js';

/** Version of the metadata layout written by the benchmark's export. */
export const EXPORT_METADATA_VERSION = 1;

/** The manifest `metadata` of a model exported from a bench run. */
export interface ExportMetadata extends DataMetadata {
  readonly exportedBy: string;
  readonly exportMetadataVersion: number;
  /** The run: folder name, method, seed, epochs, final test accuracy of the tfjs model. */
  readonly source: {
    readonly run: string;
    readonly method: string | null;
    readonly seed: number | null;
    readonly epoch: number | null;
    readonly testAccuracy: number | null;
  };
  /** Input shape without the batch (NHWC). */
  readonly inputShape: readonly number[];
  readonly numClasses: number;
}

/** Options of {@link exportRun}. */
export interface ExportRunOptions {
  /** Folder for model.json, model.bin and export-report.json (created). */
  readonly outDir: string;
  /** The run's data (default: the run's identity.json, else `<out>/results.json`). */
  readonly data?: DataSpec;
  /** Dataset cache folder, for the training split's normalization. */
  readonly dataDir?: string;
  /** Compare each quantized layer's export with its forward kernel (default true). */
  readonly check?: boolean;
  /** Fail (instead of warning) when that check finds a difference. */
  readonly strict?: boolean;
}

/** One line of the per-layer table. */
export interface ExportLayerRow extends LayerSummary {
  /** Source layers merged into this op (BatchNorm, ReLU). */
  readonly fused: readonly string[];
}

/** What {@link exportRun} wrote and measured. */
export interface ExportRunReport {
  readonly runDir: string;
  readonly outDir: string;
  readonly manifestPath: string;
  readonly binaryPath: string;
  readonly metadata: ExportMetadata;
  readonly sizes: {
    /** The exported files: model.json + model.bin. */
    readonly exported: {
      readonly manifestBytes: number;
      readonly binaryBytes: number;
      readonly totalBytes: number;
      /** Both files gzip-compressed (level 9). */
      readonly gzipBytes: number;
    };
    /** The trained model as `model.save()` writes it with tfjs: model.json + weights.bin (float32). */
    readonly tfjs: TfjsSavedSize;
    /** `tfjs.totalBytes / exported.totalBytes`. */
    readonly ratio: number;
    /** Weight bytes only: float32 weights of the tfjs model / tensor bytes of the export. */
    readonly weightsRatio: number;
    /** `tfjs.gzipBytes / exported.gzipBytes`. */
    readonly gzipRatio: number;
  };
  readonly layers: readonly ExportLayerRow[];
  readonly walk: readonly ExportedLayerInfo[];
  readonly memory: MemoryCheck;
  readonly parameters: number;
  readonly quantizedWeights: number;
  readonly warnings: readonly string[];
}

function runIdentity(runName: string): { method: string | null; seed: number | null } {
  const m = /^(.+)-seed(\d+)$/.exec(runName);
  return m ? { method: m[1]!, seed: Number(m[2]) } : { method: null, seed: null };
}

/**
 * Exports the trained model of a bench run folder (or its `checkpoint/`):
 * rebuilds it ({@link loadRun}), walks and encodes it ({@link exportModel}),
 * checks that the encoded model decodes, saves `model.json` + `model.bin`
 * into `outDir` (binary first, each atomically) and `export-report.json`.
 * The manifest's metadata records the preprocessing (`trit infer` uses it).
 * Nothing is written when anything before the save fails.
 */
export async function exportRun(dir: string, options: ExportRunOptions): Promise<ExportRunReport> {
  checkOutDir(options.outDir);
  const run = await loadRun(dir);
  const { model } = run;
  try {
    return await exportLoaded(run.model, {
      ...options,
      runDir: run.runDir,
      epoch: run.epoch,
      testAccuracy: run.result?.finalTestAccuracy ?? null,
      data: options.data ?? run.preset?.data,
    });
  } finally {
    model.dispose();
  }
}

/**
 * Refuses an output folder whose model.json is not a trit model (a bench
 * run's tfjs topology, say): exporting there would destroy it.
 */
function checkOutDir(outDir: string): void {
  const file = path.join(outDir, 'model.json');
  if (!existsSync(file)) return;
  // Not read when larger than any manifest the runtime would load (a 600 MB file would
  // take gigabytes to parse, or fail with "Invalid string length").
  const size = statSync(file).size;
  if (size > MAX_MANIFEST_BYTES) {
    throw new Error(
      `refusing to export into ${path.resolve(outDir)}: its model.json is ${size} bytes, over the ` +
        `${MAX_MANIFEST_BYTES}-byte limit of a trit model manifest, so not a trit model; choose another --out folder`,
    );
  }
  let format: unknown;
  try {
    format = (JSON.parse(readFileSync(file, 'utf8')) as { format?: unknown }).format;
  } catch {
    format = undefined;
  }
  if (format !== 'trit-model') {
    throw new Error(
      `refusing to export into ${path.resolve(outDir)}: its model.json is not a trit model ` +
        '(a bench run folder?) and would be overwritten; choose another --out folder',
    );
  }
}

async function exportLoaded(
  model: tf.LayersModel,
  options: ExportRunOptions & { runDir: string; epoch: number | null; testAccuracy: number | null },
): Promise<ExportRunReport> {
  checkOutDir(options.outDir);
  const warnings: string[] = [];
  let data: DataMetadata = { data: null, preprocessing: null };
  if (options.data) {
    const d = await describeData(options.data, options.dataDir);
    data = { data: d.data, preprocessing: d.preprocessing };
    if (d.warning) warnings.push(d.warning);
  } else {
    warnings.push(
      `the dataset of ${options.runDir} is unknown (no identity.json in it, no <out>/results.json next to it and no --dataset/--preset); ` +
        'the export records no preprocessing, so `trit infer` cannot use it',
    );
  }
  const inputShape = (model.inputs[0]!.shape as number[]).slice(1);
  const outShape = model.outputs[0]!.shape;
  const runName = path.basename(options.runDir);
  const metadata: ExportMetadata = {
    exportedBy: '@trit/cli',
    exportMetadataVersion: EXPORT_METADATA_VERSION,
    source: {
      run: runName,
      ...runIdentity(runName),
      epoch: options.epoch,
      testAccuracy: options.testAccuracy,
    },
    inputShape,
    numClasses: outShape[outShape.length - 1] as number,
    ...data,
  };
  const result = exportModel(model, {
    metadata: metadata as unknown as Record<string, unknown>,
    ...(options.check !== undefined ? { check: options.check } : {}),
    ...(options.strict !== undefined ? { strict: options.strict } : {}),
  });
  warnings.push(...result.warnings);
  // Everything the reader checks, before anything is written.
  const decoded = decodeModel(result.manifest, result.binary);
  const summary = decoded.summary();
  const tfjs = await tfjsSavedSize(model);
  const memory = memoryCheck(model, result.layers, summary);
  for (const r of memory.rows) {
    if (r.summaryBits !== r.exportedBits) {
      warnings.push(
        `layer "${r.layer}" (${r.quantizer}): modelSummary counts ${r.summaryBits} bits per weight, the export stores ${r.exportedBits}`,
      );
    }
  }

  const saved = await saveModel(options.outDir, {
    manifest: result.manifest,
    binary: result.binary,
  });
  const manifestBytes = statSync(saved.manifestPath).size;
  const binaryBytes = statSync(saved.binaryPath).size;
  const fusedOf = new Map(result.manifest.ops.map((o) => [o.name, o.fused ?? []]));
  const layers: ExportLayerRow[] = summary.layers.map((l) => ({
    ...l,
    fused: fusedOf.get(l.name) ?? [],
  }));
  const exportedTotal = manifestBytes + binaryBytes;
  const exportedGzip =
    gzipSize(readFileSync(saved.manifestPath)) + gzipSize(readFileSync(saved.binaryPath));
  const report: ExportRunReport = {
    runDir: options.runDir,
    outDir: path.resolve(options.outDir),
    manifestPath: saved.manifestPath,
    binaryPath: saved.binaryPath,
    metadata,
    sizes: {
      exported: { manifestBytes, binaryBytes, totalBytes: exportedTotal, gzipBytes: exportedGzip },
      tfjs,
      ratio: tfjs.totalBytes / exportedTotal,
      weightsRatio: tfjs.weightsBytes / summary.bytes,
      gzipRatio: tfjs.gzipBytes / exportedGzip,
    },
    layers,
    walk: result.layers,
    memory,
    parameters: summary.parameters,
    quantizedWeights: summary.quantizedWeights,
    warnings,
  };
  writeJsonAtomic(path.join(options.outDir, 'export-report.json'), report);
  return report;
}

/**
 * Exports a model that is already in memory (for `trit bench --export` and
 * tests), with the same outputs as {@link exportRun}. `runDir` names the
 * source in the metadata.
 */
export async function exportTrainedModel(
  model: tf.LayersModel,
  options: ExportRunOptions & {
    runDir: string;
    epoch?: number | null;
    testAccuracy?: number | null;
  },
): Promise<ExportRunReport> {
  return exportLoaded(model, {
    ...options,
    epoch: options.epoch ?? null,
    testAccuracy: options.testAccuracy ?? null,
  });
}

const pad = (s: string, n: number, right = false) => (right ? s.padStart(n) : s.padEnd(n));

function table(header: string[], rows: string[][], rightAligned: ReadonlySet<number>): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => pad(c, widths[i]!, rightAligned.has(i)))
      .join('  ')
      .trimEnd();
  return [line(header), '-'.repeat(widths.reduce((a, b) => a + b + 2, -2)), ...rows.map(line)];
}

/** The report as text: per-layer table, size comparison, memory check, warnings. */
export function formatExportReport(r: ExportRunReport): string {
  const weighted = r.layers.filter((l) => l.encoding !== null || l.op === 'affine');
  const rows = weighted.map((l) => [
    l.name,
    l.op,
    l.encoding ?? '-',
    l.quantizer ?? '-',
    l.bits === null ? '-' : String(l.bits),
    l.scales ?? '-',
    l.parameters.toLocaleString('en-US'),
    l.bytes.toLocaleString('en-US'),
    l.fused.join(', '),
  ]);
  const s = r.sizes;
  const lines = [
    `exported ${r.metadata.source.run} -> ${r.outDir}`,
    '',
    ...table(
      ['layer', 'op', 'encoding', 'quantizer', 'bits', 'stored scales', 'params', 'bytes', 'fused'],
      rows,
      new Set([4, 6, 7]),
    ),
    '',
    ...table(
      ['size', 'model.json', 'weights', 'total', 'gzip -9'],
      [
        [
          'trit export (model.json + model.bin)',
          s.exported.manifestBytes.toLocaleString('en-US'),
          s.exported.binaryBytes.toLocaleString('en-US'),
          `${s.exported.totalBytes.toLocaleString('en-US')} (${formatBytes(s.exported.totalBytes)})`,
          s.exported.gzipBytes.toLocaleString('en-US'),
        ],
        [
          'float32 tfjs model.save (model.json + weights.bin)',
          s.tfjs.modelJsonBytes.toLocaleString('en-US'),
          s.tfjs.weightsBytes.toLocaleString('en-US'),
          `${s.tfjs.totalBytes.toLocaleString('en-US')} (${formatBytes(s.tfjs.totalBytes)})`,
          s.tfjs.gzipBytes.toLocaleString('en-US'),
        ],
      ],
      new Set([1, 2, 3, 4]),
    ),
    `ratio: ${s.ratio.toFixed(2)}x smaller (1/${s.ratio.toFixed(1)}); weights alone ${s.weightsRatio.toFixed(2)}x; ` +
      `gzipped ${s.gzipRatio.toFixed(2)}x; ` +
      `${r.quantizedWeights.toLocaleString('en-US')} of ${r.parameters.toLocaleString('en-US')} parameters quantized`,
    `modelSummary memory ${r.memory.summaryMemoryBytes.toLocaleString('en-US')} B vs exported tensors ` +
      `${r.memory.exportedTensorBytes.toLocaleString('en-US')} B: kernels ${r.memory.bitsAgree ? 'agree on bits' : 'DISAGREE on bits'}` +
      `${r.memory.kernelBytesAgree ? ' and in-memory bytes' : ' (in-memory kernel bytes differ: packing pads input channels to multiples of 8)'}` +
      `${r.quantizedWeights > 0 ? ' (the file stores ternary codes at 1.6 bits)' : ''}; ` +
      `other ${r.memory.summaryNonKernelBytes.toLocaleString('en-US')} B (BatchNorm, quantizer scalars) vs ` +
      `${r.memory.exportedNonKernelBytes.toLocaleString('en-US')} B (folded scales, biases)`,
  ];
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}
