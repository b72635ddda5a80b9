/**
 * What an inference runtime needs from each quantized layer: 2-bit (or 1-bit)
 * codes with their scales, and the full-precision bias.
 * @packageDocumentation
 */
import type * as tf from '@tensorflow/tfjs';
import type { QuantLayerType } from './layers/quant-layer.js';
import type { TernaryExport } from './quantizer.js';
import { quantLayers } from './training.js';

/** One quantized layer, reduced for export. */
export interface ExportedLayer {
  /** Layer name. */
  readonly name: string;
  readonly type: QuantLayerType;
  /** Registry name of the quantizer. */
  readonly quantizer: string;
  /** Codes and scales; null when the layer stays full precision (its kernel is then in the model weights). */
  readonly export: TernaryExport | null;
  /** The bias (full precision), or null without one. */
  readonly bias: Float32Array | null;
}

/**
 * Codes, scales and biases of every quantized layer ({@link QuantConv2D},
 * {@link QuantDense}) of a built model, in model order.
 */
export function exportQuantizedLayers(model: tf.LayersModel): ExportedLayer[] {
  return quantLayers(model).map((layer) => {
    if (!layer.built)
      throw new Error(`exportQuantizedLayers: layer "${layer.name}" is not built yet`);
    return {
      name: layer.name,
      type: layer.layerType,
      quantizer: layer.quantizer.name,
      export: layer.exportTernary(),
      bias: layer.bias ? Float32Array.from(layer.bias.read().dataSync()) : null,
    };
  });
}
