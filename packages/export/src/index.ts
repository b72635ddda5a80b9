/**
 * @trit/export: export a tfjs `LayersModel` (float layers, quant-core's
 * quantized layers, or both) to the compact trit format that
 * `@trit/runtime` runs: {@link exportModel} to `{ manifest, binary }`,
 * `saveExport` (from `@trit/export/node`) to files, and the layer-converter
 * registry for layer classes of your own ({@link registerLayerConverter}).
 * @packageDocumentation
 */
import './converters/index.js';

export type {
  Conversion,
  ConverterContext,
  ConvertOptions,
  ExportedLayerInfo,
  KernelInfo,
  LayerConverter,
} from './converter.js';
export { ExportError } from './errors.js';
export { type ExportOptions, type ExportResult, exportModel } from './export-model.js';
export { getLayerConverter, listLayerConverters, registerLayerConverter } from './registry.js';
export { modelToGraph, type WalkOptions, type WalkResult } from './walk.js';
