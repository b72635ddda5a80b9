export {
  bitsPerQuantizedWeight,
  type MethodSummary,
  PRETRAINING_NOTE,
  PRETRAINING_TITLE,
  pretrainingLines,
  pretrainingMarkdown,
  type SummaryOptions,
  statisticsNote,
  summarize,
} from './bench/aggregate.js';
export {
  type DataSource,
  listDataSources,
  loadStudyData,
  registerDataSource,
} from './bench/data-sources.js';
export { StaleResultsError } from './bench/identity.js';
export {
  type BenchMeta,
  formatBackend,
  type OutputOptions,
  writeBenchOutputs,
} from './bench/outputs.js';
export { MalformedResultError } from './bench/result-schema.js';
export {
  type BenchOptions,
  buildModel,
  type PretrainingResult,
  type RunResult,
  runBench,
} from './bench/run.js';
export type { Interval, PairedDifference } from './bench/statistics.js';
export {
  formatStatus,
  type RunState,
  type StatusRow,
  type StudyStatus,
  studyStatus,
} from './bench/status.js';
export {
  type DataSpec,
  type MethodEntry,
  type ModelSpec,
  type ResolvedMethod,
  readStudyFile,
  resolveStudy,
  type Study,
  StudyError,
  type StudyFile,
} from './bench/study.js';
export { loadPresetData } from './cli/load-data.js';
export * from './data/index.js';
export * from './export/index.js';
export * from './models/index.js';
export { listModels, type ModelEntry, registerModel } from './models/registry.js';
export * from './training/index.js';
