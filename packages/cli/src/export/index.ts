/**
 * Export of trained models to the compact trit format of `@trit/runtime`
 * (ternary codes at 1.6 bits, binary at 1 bit, folded BatchNorms) and
 * inference with the runtime.
 */
export { type ExportBenchOptions, exportBenchRuns } from './bench.js';
export {
  EXPORT_METADATA_VERSION,
  type ExportLayerRow,
  type ExportMetadata,
  type ExportRunOptions,
  type ExportRunReport,
  exportRun,
  exportTrainedModel,
  formatExportReport,
} from './export-run.js';
export {
  formatInferReport,
  type InferOptions,
  type InferReport,
  inferExported,
  loadExported,
} from './infer.js';
export {
  type DataMetadata,
  describeData,
  type ExportDataInfo,
  type Preprocessing,
  readTrainNormalization,
} from './preprocessing.js';
export { findBenchPreset, type LoadedRun, loadRun, resolveRunDir } from './run-dir.js';
export { convertChannelPadShortcut } from './shortcut-converter.js';
export {
  gzipSize,
  type MemoryCheck,
  type MemoryCheckRow,
  memoryCheck,
  type TfjsSavedSize,
  tfjsSavedSize,
} from './sizes.js';
