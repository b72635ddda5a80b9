/** {@link exportModel}: walk a tfjs model and encode it in the trit format. */
import type * as tf from '@tensorflow/tfjs';
import { type EncodedModel, type EncodeOptions, encodeModel } from '@trit/runtime';
import { modelToGraph, type WalkOptions, type WalkResult } from './walk.js';

/** Options of {@link exportModel}. */
export interface ExportOptions
  extends WalkOptions,
    Pick<EncodeOptions, 'foldBatchNorm' | 'fuseActivations'> {}

/** What {@link exportModel} returns: the encoded model (`manifest`, `binary`) plus what the walk did. */
export interface ExportResult extends EncodedModel, WalkResult {}

/**
 * Exports a built tfjs `LayersModel` (plain float layers, quant-core's
 * quantized layers from `quantizeModel`, or both) to the trit format:
 * walks it ({@link modelToGraph}: one converter per layer class) and encodes
 * it (`encodeModel` of `@trit/runtime`: BatchNorm folding, activation
 * fusion, packing at 1.6 or 1 bit per quantized weight, checksums). Returns
 * the manifest and binary, to save with `saveExport` (`@trit/export/node`) or load with
 * `decodeModel`, plus the per-layer report and any warnings.
 */
export function exportModel(model: tf.LayersModel, options: ExportOptions = {}): ExportResult {
  const walk = modelToGraph(model, options);
  const encoded = encodeModel(walk.graph, {
    ...(options.foldBatchNorm !== undefined ? { foldBatchNorm: options.foldBatchNorm } : {}),
    ...(options.fuseActivations !== undefined ? { fuseActivations: options.fuseActivations } : {}),
  });
  return { ...walk, ...encoded };
}
