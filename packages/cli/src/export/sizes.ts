/**
 * Sizes: the float32 tfjs model a trained model saves to, the exported trit
 * model, and the check of quant-core's `modelSummary` memory (the number the
 * bench tables report) against the bytes the export actually holds.
 */
import { gzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs';
import type { ExportedLayerInfo } from '@trit/export';
import { modelSummary } from '@trit/quant-core';
import { codesByteLength, type ModelSummary, packedByteLength } from '@trit/runtime';

/** Bytes of a model as `model.save('file://dir')` writes it (tfjs-node's file handler). */
export interface TfjsSavedSize {
  /** `model.json`: the topology and the weights manifest, as `JSON.stringify` writes it. */
  readonly modelJsonBytes: number;
  /** `weights.bin`: every weight as float32. */
  readonly weightsBytes: number;
  readonly totalBytes: number;
  /** Both files gzip-compressed (level 9), as a web server may send them. */
  readonly gzipBytes: number;
}

/** Bytes of `data` after gzip at level 9. */
export function gzipSize(data: Uint8Array | string): number {
  return gzipSync(typeof data === 'string' ? Buffer.from(data, 'utf8') : data, { level: 9 }).length;
}

/**
 * What saving `model` with tfjs (`model.save`) would write: the same
 * `model.json` text tfjs-node's `file://` handler writes (topology, weights
 * manifest, format, generatedBy, convertedBy) and the weight bytes.
 */
export async function tfjsSavedSize(model: tf.LayersModel): Promise<TfjsSavedSize> {
  let size: TfjsSavedSize | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      // The object tfjs-node's NodeFileSystem.save() stringifies, in its key order.
      const json: Record<string, unknown> = {
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
      };
      if (artifacts.trainingConfig != null) json.trainingConfig = artifacts.trainingConfig;
      if (artifacts.signature != null) json.signature = artifacts.signature;
      if (artifacts.userDefinedMetadata != null)
        json.userDefinedMetadata = artifacts.userDefinedMetadata;
      const data = artifacts.weightData;
      const buffers = data === undefined ? [] : Array.isArray(data) ? data : [data];
      const weights = Buffer.concat(buffers.map((b) => new Uint8Array(b)));
      const text = JSON.stringify(json);
      const modelJsonBytes = Buffer.byteLength(text, 'utf8');
      size = {
        modelJsonBytes,
        weightsBytes: weights.length,
        totalBytes: modelJsonBytes + weights.length,
        gzipBytes: gzipSize(text) + gzipSize(weights),
      };
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
  return size!;
}

/** One quantized layer: quant-core's summary against the export. */
export interface MemoryCheckRow {
  readonly layer: string;
  readonly quantizer: string;
  /** Bits per weight in `modelSummary` (the quantizer's `precision()`, SQ's from its trained beta). */
  readonly summaryBits: number;
  /** Bits per weight of the exported kernel (32 for a float kernel). */
  readonly exportedBits: number;
  /** Kernel memory in the summary: weights x bits / 8. */
  readonly summaryKernelBytes: number;
  /**
   * Bytes the runtime holds for the kernel once loaded: the 2-bit (1-bit)
   * `bitplane8` codes, padded to groups of 8 input channels (or float32 values).
   */
  readonly runtimeKernelBytes: number;
  /** Bytes of the kernel in model.bin: codes at 5 per byte (ternary) or 8 per byte (binary), or float32 values. */
  readonly exportedKernelBytes: number;
}

/** quant-core's memory accounting next to the export's, layer by layer and in total. */
export interface MemoryCheck {
  readonly rows: readonly MemoryCheckRow[];
  /** Every quantized layer has the same bit-width in the summary and in the export. */
  readonly bitsAgree: boolean;
  /**
   * And the summary's kernel bytes are what the runtime holds in memory
   * (true when every input-channel count is a multiple of 8). The file is
   * smaller still for ternary kernels: 1.6 bits per weight.
   */
  readonly kernelBytesAgree: boolean;
  /** `modelSummary(model).totals.memoryBytes`: kernels at their bits, everything else (BN, scalars) at 32 bits. */
  readonly summaryMemoryBytes: number;
  /** Tensor bytes of the export (runtime summary): codes, scales, biases after BN folding, float kernels. */
  readonly exportedTensorBytes: number;
  /** Summary bytes of what the export does not store as such: BatchNorm parameters (4 per channel) and quantizer scalars. */
  readonly summaryNonKernelBytes: number;
  /** Export bytes besides the kernels' codes or values: the scales and biases that absorbed the BatchNorms. */
  readonly exportedNonKernelBytes: number;
}

/**
 * Compares quant-core's `modelSummary` (what the bench reports as weight
 * memory) with the exported model: per quantized layer the bit-width and
 * the kernel bytes the runtime holds in memory must agree (the file stores
 * ternary codes tighter, 5 per byte); the rest differs by design (the
 * summary counts BatchNorm's 4 values per channel and each quantizer's
 * scalars at 32 bits; the export folds the BatchNorms into scales and a bias).
 */
export function memoryCheck(
  model: tf.LayersModel,
  layers: readonly ExportedLayerInfo[],
  exported: ModelSummary,
): MemoryCheck {
  const summary = modelSummary(model);
  const byName = new Map(layers.map((l) => [l.name, l]));
  const rows: MemoryCheckRow[] = [];
  let summaryKernels = 0;
  let exportedKernels = 0;
  for (const l of summary.layers) {
    const info = byName.get(l.name)?.kernel;
    if (!info) continue;
    const weights = info.shape.reduce((a, b) => a * b, 1);
    const summaryBits = l.bits ?? 32;
    const runtimeKernelBytes =
      info.bits === 32 ? 4 * weights : packedByteLength(info.bits, info.shape);
    const exportedKernelBytes =
      info.bits === 32 ? 4 * weights : codesByteLength(info.bits, info.shape);
    summaryKernels += (weights * summaryBits) / 8;
    exportedKernels += exportedKernelBytes;
    if (l.quantizer !== null || info.bits < 32) {
      rows.push({
        layer: l.name,
        quantizer: l.quantizer ?? '-',
        summaryBits,
        exportedBits: info.bits,
        summaryKernelBytes: (weights * summaryBits) / 8,
        runtimeKernelBytes,
        exportedKernelBytes,
      });
    }
  }
  const quantRows = rows.filter((r) => r.summaryBits < 32 || r.exportedBits < 32);
  return {
    rows,
    bitsAgree: rows.every((r) => r.summaryBits === r.exportedBits),
    kernelBytesAgree: quantRows.every((r) => r.summaryKernelBytes === r.runtimeKernelBytes),
    summaryMemoryBytes: summary.totals.memoryBytes,
    exportedTensorBytes: exported.bytes,
    summaryNonKernelBytes: summary.totals.memoryBytes - summaryKernels,
    exportedNonKernelBytes: exported.bytes - exportedKernels,
  };
}
