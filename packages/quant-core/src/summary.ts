/**
 * Model summary with quantization: parameters, bits and memory per layer,
 * like `larq.models.summary`.
 * @packageDocumentation
 */
import type * as tf from '@tensorflow/tfjs';
import { isQuantLayer } from './layers/quant-layer.js';
import { allLayers } from './training.js';

/** One layer's line of a {@link QuantModelSummary}. */
export interface QuantLayerSummary {
  /** Layer name. */
  readonly name: string;
  /** tfjs class name, e.g. `TritQuantConv2D`, `BatchNormalization`. */
  readonly type: string;
  /** Registry name of the layer's quantizer; null for layers that are not quantized layers. */
  readonly quantizer: string | null;
  /** All weights of the layer (kernel, bias, quantizer scalars, BatchNorm statistics, ...). */
  readonly params: number;
  /** Weights of the quantized kernel (0 when it is full precision or there is none). */
  readonly quantizedParams: number;
  /** Bits per weight of the kernel (32 unless quantized); null for layers without weights. */
  readonly bits: number | null;
  /** Weight memory in bits: kernel at `bits`, everything else (bias, scales, BN) at 32. */
  readonly memoryBits: number;
  /** `memoryBits / 8`. */
  readonly memoryBytes: number;
}

/**
 * What {@link modelSummary} returns: a tfjs model's weights and memory per
 * layer while it trains (the runtime's `ModelSummary` describes an exported
 * model's ops instead).
 */
export interface QuantModelSummary {
  readonly layers: QuantLayerSummary[];
  readonly totals: {
    /** All weights. */
    readonly params: number;
    /** Weights stored at fewer than 32 bits. */
    readonly quantizedParams: number;
    /** Weight memory of the model as quantized, in bytes. */
    readonly memoryBytes: number;
    /** The same weights at 32 bits each, in bytes (`4 · params`). */
    readonly float32Bytes: number;
    /** `float32Bytes / memoryBytes` (1 for an all-fp32 model). */
    readonly compressionRatio: number;
  };
}

/**
 * Per-layer parameter counts, bits per weight and memory of a model, with
 * totals. A quantized layer's kernel counts at its quantizer's
 * `precision(params)` (so an SQ layer counts 1 or 2 bits according to its
 * trained `beta`); its bias and quantizer scalars, and every weight of other
 * layers (BatchNorm included), count at 32 bits. Layers of nested models are
 * listed in place.
 */
export function modelSummary(model: tf.LayersModel): QuantModelSummary {
  const layers: QuantLayerSummary[] = [];
  for (const layer of allLayers(model)) {
    const params = layer.weights.reduce(
      (n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 1), 1),
      0,
    );
    let quantizer: string | null = null;
    let bits: number | null = params > 0 ? 32 : null;
    let quantizedParams = 0;
    let memoryBits = params * 32;
    if (isQuantLayer(layer)) {
      quantizer = layer.quantizer.name;
      const kernelSize = layer.kernel
        ? layer.kernel.shape.reduce((a: number, b) => a * (b ?? 1), 1)
        : 0;
      bits = layer.precision();
      if (bits < 32) quantizedParams = kernelSize;
      memoryBits = kernelSize * bits + (params - kernelSize) * 32;
    }
    layers.push({
      name: layer.name,
      type: layer.getClassName(),
      quantizer,
      params,
      quantizedParams,
      bits,
      memoryBits,
      memoryBytes: memoryBits / 8,
    });
  }
  const params = layers.reduce((n, l) => n + l.params, 0);
  const memoryBytes = layers.reduce((n, l) => n + l.memoryBytes, 0);
  return {
    layers,
    totals: {
      params,
      quantizedParams: layers.reduce((n, l) => n + l.quantizedParams, 0),
      memoryBytes,
      float32Bytes: params * 4,
      compressionRatio: memoryBytes > 0 ? (params * 4) / memoryBytes : 1,
    },
  };
}

const BYTE_UNITS = ['KiB', 'MiB', 'GiB', 'TiB'] as const;

/**
 * A byte count in binary units (1 KiB = 1024 B), the project's one byte
 * formatter: `512` → `'512 B'`, `1536` → `'1.50 KiB'`, `3 · 2^30` → `'3.00 GiB'`.
 */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${Number.isInteger(bytes) ? bytes : bytes.toFixed(2)} B`;
  let v = bytes / 1024;
  let u = 0;
  while (v >= 1024 && u < BYTE_UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(2)} ${BYTE_UNITS[u]}`;
}

const thousands = (n: number) => n.toLocaleString('en-US');

/**
 * The summary as a text table, e.g.
 *
 * ```text
 * Layer    Type             Quantizer  Params  Bits  Memory
 * conv1    TritQuantConv2D  fp32           80    32   320 B
 * ...
 * Total params: 1,234 (quantized: 1,000 = 81.0%)
 * Weight memory: 1.23 KiB (float32: 4.82 KiB; 3.92x smaller)
 * ```
 */
export function formatSummary(summary: QuantModelSummary): string {
  const header = ['Layer', 'Type', 'Quantizer', 'Params', 'Bits', 'Memory'];
  const rows = summary.layers.map((l) => [
    l.name,
    l.type,
    l.quantizer ?? '-',
    thousands(l.params),
    l.bits === null ? '-' : String(l.bits),
    formatBytes(l.memoryBytes),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const right = new Set([3, 4, 5]);
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const rule = '-'.repeat(widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1));
  const t = summary.totals;
  const share = t.params > 0 ? ((100 * t.quantizedParams) / t.params).toFixed(1) : '0.0';
  return [
    line(header),
    rule,
    ...rows.map(line),
    rule,
    `Total params: ${thousands(t.params)} (quantized: ${thousands(t.quantizedParams)} = ${share}%)`,
    `Weight memory: ${formatBytes(t.memoryBytes)} (float32: ${formatBytes(t.float32Bytes)}; ${t.compressionRatio.toFixed(2)}x smaller)`,
  ].join('\n');
}
